package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

type publishRequest struct {
	Routes []model.SignedRoute `json:"routes"`
}

type publishResponse struct {
	Outcomes []model.RouteOutcome `json:"outcomes"`
}

// publishRoutes relays the department's own signed digests to the ledger.
func (a *api) publishRoutes(c *gin.Context) {
	var req publishRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Routes.Publish(ctx(c), c.GetString(ctxDepartment), req.Routes)
	a.answer(c, http.StatusOK, publishResponse{Outcomes: out}, err)
}

type revokeRouteRequest struct {
	EID      string `json:"eid"`
	DataType string `json:"data_type"`
	Reason   string `json:"reason"`
}

func (a *api) revokeRoute(c *gin.Context) {
	var req revokeRouteRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Routes.Revoke(ctx(c), c.GetString(ctxDepartment), req.EID, req.DataType, req.Reason)
	a.answer(c, http.StatusOK, out, err)
}

type subjectBody struct {
	EID      string         `json:"eid,omitempty"`
	Document *mapping.Input `json:"document,omitempty"`
}

type resolveRequest struct {
	Subject     subjectBody `json:"subject"`
	DataType    string      `json:"data_type"`
	Purpose     string      `json:"purpose"`
	PurposeText string      `json:"purpose_text,omitempty"`
	ConsentID   string      `json:"consent_id,omitempty"`
	Provider    string      `json:"provider,omitempty"`
	Mode        string      `json:"mode,omitempty"` // "" or "ticket" (default), "proxy"
	// BreakGlass asks to resolve without consent under the policy's
	// break-glass grant; the official states the legal basis.
	BreakGlass *breakGlassBody `json:"break_glass,omitempty"`
}

type breakGlassBody struct {
	LegalBasis string `json:"legal_basis"`
}

type resolveResponse struct {
	*routing.ResolveResult
	Record *routing.ProxiedRecord `json:"record,omitempty"`
}

// resolve is "department A needs data item X about a resident".
func (a *api) resolve(c *gin.Context) {
	var req resolveRequest
	if !a.bind(c, &req) {
		return
	}
	if req.Mode != "" && req.Mode != "ticket" && req.Mode != "proxy" {
		a.fail(c, routing.Invalid("gateway", "mode", `mode must be "ticket" or "proxy"`))
		return
	}
	rr := routing.ResolveRequest{
		Requester: c.GetString(ctxDepartment), Official: c.GetString(ctxOfficial), RequestID: requestID(c),
		EID: req.Subject.EID, DataType: req.DataType, Purpose: req.Purpose, PurposeText: req.PurposeText,
		ConsentID: req.ConsentID, Provider: req.Provider,
	}
	if d := req.Subject.Document; d != nil {
		rr.Document = &routing.DocumentSubject{Type: string(d.Type), Number: d.Number, Country: d.Country}
	}
	if req.BreakGlass != nil {
		rr.BreakGlass, rr.LegalBasis = true, req.BreakGlass.LegalBasis
	}
	res, err := a.deps.Resolver.Resolve(ctx(c), rr)
	if err != nil {
		a.metrics.resolves.WithLabelValues(routing.CodeOf(err)).Inc()
		a.fail(c, err)
		return
	}
	a.metrics.resolves.WithLabelValues("issued").Inc()
	out := resolveResponse{ResolveResult: res}
	if req.Mode == "proxy" {
		rec, err := a.deps.Proxy.Fetch(ctx(c), res)
		if err != nil {
			a.fail(c, err)
			return
		}
		out.Record = rec
	}
	c.JSON(http.StatusOK, out)
}

type consentRequestBody struct {
	EID         string    `json:"eid"`
	Provider    string    `json:"provider,omitempty"`
	DataTypes   []string  `json:"data_types"`
	PurposeCode string    `json:"purpose_code"`
	PurposeText string    `json:"purpose_text"`
	ValidFrom   time.Time `json:"valid_from,omitzero"`
	ValidUntil  time.Time `json:"valid_until"`
	MaxUses     uint64    `json:"max_uses,omitempty"`
}

func (a *api) requestConsent(c *gin.Context) {
	var req consentRequestBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Consents.Request(ctx(c), c.GetString(ctxDepartment), routing.ConsentDraft{
		EID: req.EID, Provider: routing.ParseProvider(req.Provider), DataTypes: req.DataTypes,
		PurposeCode: req.PurposeCode, PurposeText: req.PurposeText,
		ValidFrom: req.ValidFrom, ValidUntil: req.ValidUntil, MaxUses: req.MaxUses,
	})
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) getDepartmentConsent(c *gin.Context) {
	out, err := a.deps.Consents.ForDepartment(ctx(c), c.GetString(ctxDepartment), c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) listDepartmentConsents(c *gin.Context) {
	out, err := a.deps.Consents.ListForRequester(ctx(c), c.GetString(ctxDepartment))
	answerList(a.Server, c, "consents", out, err)
}

type linkRequest struct {
	LocalAccount string        `json:"local_account"`
	Document     mapping.Input `json:"document"`
}

// linkAccount links the department's own local account to the eID of a
// document the resident showed.
func (a *api) linkAccount(c *gin.Context) {
	var req linkRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Identities.LinkAccount(ctx(c), c.GetString(ctxDepartment), req.LocalAccount, req.Document)
	a.answer(c, http.StatusOK, out, err)
}

type unlinkRequest struct {
	EID string `json:"eid"`
}

func (a *api) unlinkAccount(c *gin.Context) {
	var req unlinkRequest
	if !a.bind(c, &req) {
		return
	}
	err := a.deps.Identities.UnlinkAccount(ctx(c), c.GetString(ctxDepartment), req.EID)
	a.answer(c, http.StatusOK, gin.H{"unlinked": true}, err)
}

type lookupRequest struct {
	LocalAccount string `json:"local_account"`
}

// lookupAccount resolves the department's own local account to its eID.
func (a *api) lookupAccount(c *gin.Context) {
	var req lookupRequest
	if !a.bind(c, &req) {
		return
	}
	eid, err := a.deps.Identities.LookupAccount(ctx(c), c.GetString(ctxDepartment), req.LocalAccount)
	a.answer(c, http.StatusOK, gin.H{"eid": eid}, err)
}

func (a *api) verify(c *gin.Context) {
	var req routing.RecordEnvelope
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Verifier.Verify(ctx(c), req)
	a.answer(c, http.StatusOK, out, err)
}

// accessView is an access record as shown through the API.
type accessView struct {
	ID            string    `json:"id"`
	Seq           uint64    `json:"seq"`
	Time          time.Time `json:"time"`
	Requester     string    `json:"requester"`
	Official      string    `json:"official"`
	Provider      string    `json:"provider,omitempty"`
	EID           string    `json:"eid,omitempty"`
	DataType      string    `json:"data_type"`
	Purpose       string    `json:"purpose"`
	ConsentID     string    `json:"consent_id,omitempty"`
	PolicyVersion int64     `json:"policy_version"`
	Outcome       string    `json:"outcome"`
	Reason        string    `json:"reason,omitempty"`
	Anchored      bool      `json:"anchored"`
	BatchID       string    `json:"batch_id,omitempty"`
	AnchorTxID    string    `json:"anchor_tx_id,omitempty"`
	AnchorBlock   uint64    `json:"anchor_block,omitempty"`
	Flagged       bool      `json:"flagged,omitempty"`
	LeafHash      string    `json:"leaf_hash"`
	// A break-glass access: the legal basis stated, when the resident
	// sees it, and the auditors' review.
	BreakGlass   bool       `json:"break_glass,omitempty"`
	LegalBasis   string     `json:"legal_basis,omitempty"`
	VisibleAfter *time.Time `json:"visible_after,omitempty"`
	ReviewedAt   *time.Time `json:"reviewed_at,omitempty"`
	ReviewedBy   string     `json:"reviewed_by,omitempty"`
	ReviewNote   string     `json:"review_note,omitempty"`
	// Count and FirstTime are set on a resident's log, where repeated
	// refusals of one kind fold into the row of the newest of them.
	Count     int        `json:"count,omitempty"`
	FirstTime *time.Time `json:"first_time,omitempty"`
}

func viewAccess(r routing.AccessRecord, official string) accessView {
	return accessView{
		ID: r.ID, Seq: r.Seq, Time: r.CreatedAt, Requester: r.Requester, Official: official,
		Provider: r.Provider, EID: r.EID, DataType: r.DataType, Purpose: r.Purpose, ConsentID: r.ConsentID,
		PolicyVersion: r.PolicyVersion, Outcome: r.Outcome, Reason: r.Reason,
		Anchored: r.AnchorTxID != "", BatchID: r.BatchID, AnchorTxID: r.AnchorTxID, AnchorBlock: r.AnchorBlock,
		Flagged: r.Flagged, LeafHash: r.LeafHash,
		BreakGlass: r.BreakGlass(), LegalBasis: r.LegalBasis, VisibleAfter: timeOrNil(r.VisibleAfter),
		ReviewedAt: timeOrNil(r.ReviewedAt), ReviewedBy: r.ReviewedBy, ReviewNote: r.ReviewNote,
	}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// accessFilter reads the common audit filters from the query string.
func accessFilter(c *gin.Context) (routing.AccessFilter, error) {
	f := routing.AccessFilter{
		DataType: c.Query("data_type"), Purpose: c.Query("purpose"), Outcome: c.Query("outcome"),
		Provider: c.Query("provider"), Desc: true, Limit: 100,
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, routing.Invalid("gateway", "limit", "limit must be 1 to 1000")
		}
		f.Limit = n
	}
	if v := c.Query("before_seq"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, routing.Invalid("gateway", "before_seq", "before_seq must be a sequence number")
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

// listDepartmentAccess lists the department's own resolves.
func (a *api) listDepartmentAccess(c *gin.Context) {
	a.listAccess(c, func(f *routing.AccessFilter) { f.Requester = c.GetString(ctxDepartment) })
}

// listAccess answers the access records that the query's filters select
// within scope, the records the caller may see, every record a row.
func (a *api) listAccess(c *gin.Context, scope func(*routing.AccessFilter)) {
	recs, ok := a.selectAccess(c, scope)
	if !ok {
		return
	}
	out := make([]accessView, len(recs))
	for i, r := range recs {
		out[i] = viewAccess(r, r.Official)
	}
	c.JSON(http.StatusOK, gin.H{"access": out})
}

func (a *api) selectAccess(c *gin.Context, scope func(*routing.AccessFilter)) ([]routing.AccessRecord, bool) {
	f, err := accessFilter(c)
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	scope(&f)
	recs, err := a.deps.Access.List(ctx(c), f)
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	return recs, true
}

type explainRequest struct {
	Department string       `json:"department,omitempty"`
	DataType   string       `json:"data_type"`
	Purpose    string       `json:"purpose"`
	Subject    *subjectBody `json:"subject,omitempty"`
}

// explainResponse is a policy decision with every matching rule and, when
// a subject is named, the state of the resident's consent.
type explainResponse struct {
	Allowed      bool            `json:"allowed"`
	Rule         string          `json:"rule"`
	Version      int64           `json:"policy_version"`
	Reason       string          `json:"reason"`
	Matched      []policies.Line `json:"matched_rules"`
	ConsentState string          `json:"consent_state,omitempty"`
	ConsentID    string          `json:"consent_id,omitempty"`
}

// explainPolicy answers "would this be allowed, and why" for the calling
// department without recording an access.
func (a *api) explainPolicy(c *gin.Context) {
	var req explainRequest
	if !a.bind(c, &req) {
		return
	}
	dept := c.GetString(ctxDepartment)
	if req.Department != "" && req.Department != dept {
		a.fail(c, routing.Invalid("gateway", "department", "a department may only explain its own requests"))
		return
	}
	a.explain(c, dept, req)
}

func (a *api) explain(c *gin.Context, dept string, req explainRequest) {
	out, err := a.explanation(ctx(c), dept, req)
	a.answer(c, http.StatusOK, out, err)
}

// explanation answers "may dept get this data type for this purpose, and
// why", with the state of the resident's consent when a subject is named.
func (s *Server) explanation(ctx context.Context, dept string, req explainRequest) (*explainResponse, error) {
	if !model.ValidDataTypeCode(req.DataType) {
		return nil, routing.Invalid("gateway", "data_type", "data_type must be a data type code")
	}
	if !model.ValidPurposeCode(req.Purpose) {
		return nil, routing.Invalid("gateway", "purpose", "purpose must be a purpose code")
	}
	ex, err := s.deps.Policies.Explain(ctx, dept, req.DataType, req.Purpose)
	if err != nil {
		return nil, err
	}
	out := explainResponse{Allowed: ex.Allowed, Rule: ex.Rule, Version: ex.Version, Reason: ex.Reason, Matched: []policies.Line{}}
	for _, m := range ex.Matched {
		out.Matched = append(out.Matched, m.Rule.Line())
	}
	if req.Subject != nil {
		eid := req.Subject.EID
		if req.Subject.Document != nil {
			eid, err = s.deps.Identities.Find(ctx, *req.Subject.Document)
			if err != nil && !routing.IsKind(err, routing.KindNotFound) {
				return nil, err
			}
		}
		out.ConsentState = "subject_not_found"
		if eid != "" {
			out.ConsentState, out.ConsentID = s.deps.Consents.StateFor(ctx, eid, dept, req.DataType, req.Purpose)
		}
	}
	return &out, nil
}

type introspectRequest struct {
	Token string `json:"token"`
}

// introspect lets a provider department in any language check a ticket
// addressed to it; the check consumes the ticket.
func (a *api) introspect(c *gin.Context) {
	var req introspectRequest
	if !a.bind(c, &req) {
		return
	}
	if req.Token == "" {
		a.fail(c, routing.Invalid("gateway", "token", "token is required"))
		return
	}
	out, err := a.deps.Tickets.Introspect(ctx(c), c.GetString(ctxDepartment), req.Token)
	a.answer(c, http.StatusOK, out, err)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
