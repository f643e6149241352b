package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/routing"
)

// auditFilter reads the officials' audit trail filters of a request: act,
// official, eid, status, from/to (RFC 3339), before (a sequence number,
// for the next page) and limit.
func auditFilter(c *gin.Context) (audit.Filter, error) {
	f := audit.Filter{Act: c.Query("act"), Official: c.Query("official"), EID: c.Query("eid"), Status: c.Query("status"),
		ProposalID: c.Query("proposal"), Limit: 100}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, routing.Invalid("gateway", "limit", "limit must be 1 to 1000")
		}
		f.Limit = n
	}
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, routing.Invalid("gateway", "before", "before must be a sequence number")
		}
		f.BeforeSeq = n
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.Query(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, routing.Invalid("gateway", tf.name, "%s must be an RFC 3339 time", tf.name)
			}
			*tf.dst = t
		}
	}
	return f, nil
}

// listAudit answers one page of audit records, newest first; next_before
// continues the listing.
func (a *api) listAudit(c *gin.Context) {
	f, err := auditFilter(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	recs, err := a.deps.Audit.List(ctx(c), f)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := gin.H{"records": nonNil(recs)}
	if len(recs) == f.Limit {
		out["next_before"] = recs[len(recs)-1].Seq
	}
	c.JSON(http.StatusOK, out)
}

func (a *api) getAudit(c *gin.Context) {
	out, err := a.deps.Audit.Get(ctx(c), c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) auditProof(c *gin.Context) {
	out, err := a.deps.Audit.Proof(ctx(c), c.Param("id"), "")
	a.answer(c, http.StatusOK, out, err)
}

// maxAuditExport bounds one export; narrow the filters for more.
const maxAuditExport = 100_000

// exportAudit streams every record the filters select (up to
// maxAuditExport), newest first, as CSV or JSON lines.
func (a *api) exportAudit(c *gin.Context) {
	f, err := auditFilter(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	format := c.DefaultQuery("format", "csv")
	if format != "csv" && format != "jsonl" {
		a.fail(c, routing.Invalid("gateway", "format", "format must be csv or jsonl"))
		return
	}
	f.Limit = 1000
	first, err := a.deps.Audit.List(ctx(c), f)
	if err != nil {
		a.fail(c, err)
		return
	}
	name := "audit-" + time.Now().UTC().Format("20060102T150405Z") + "." + format
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
	} else {
		c.Header("Content-Type", "application/jsonl")
	}
	c.Status(http.StatusOK)
	exp := audit.NewExporter(c.Writer, format)
	exported, page := 0, first
	for len(page) > 0 && exported < maxAuditExport {
		if err := exp.Write(page); err != nil {
			return // the client went away
		}
		c.Writer.Flush()
		exported += len(page)
		if len(page) < f.Limit {
			return
		}
		f.BeforeSeq = page[len(page)-1].Seq
		if page, err = a.deps.Audit.List(ctx(c), f); err != nil {
			a.log.Warn("audit export ended early", "err", err, "request_id", requestID(c))
			return
		}
	}
}

// myAudit lists the administrative acts on the resident's own eID.
func (a *api) myAudit(c *gin.Context) {
	out, err := a.deps.Audit.ForResident(ctx(c), currentSession(c).Subject, 200)
	answerList(a.Server, c, "acts", out, err)
}

// myAuditProof proves an act on the resident's own eID; its leaf names
// the official by pseudonym only.
func (a *api) myAuditProof(c *gin.Context) {
	out, err := a.deps.Audit.Proof(ctx(c), c.Param("id"), currentSession(c).Subject)
	a.answer(c, http.StatusOK, out, err)
}

// listProposals lists four-eyes proposals (?status=pending for those
// waiting).
func (a *api) listProposals(c *gin.Context) {
	out, err := a.deps.Audit.Proposals(ctx(c), c.Query("status"))
	answerList(a.Server, c, "proposals", out, err)
}

type decisionRequest struct {
	Note string `json:"note"`
}

// decideProposal approves (and so executes, once) or rejects a proposal;
// its proposer cannot.
func (a *api) decideProposal(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req decisionRequest
		if !a.bind(c, &req) {
			return
		}
		decide := a.deps.Audit.Reject
		if approve {
			decide = a.deps.Audit.Approve
		}
		out, err := decide(ctx(c), c.Param("id"), req.Note)
		a.answer(c, http.StatusOK, out, err)
	}
}
