package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// actsPageSize is how many audit records a console page shows.
const actsPageSize = 50

// adminActs is the officials' audit trail in the console: filterable by
// act, official, eID, status and date, pageable, exportable as CSV or
// JSON lines through the API with the same filters.
func (p *pages) adminActs(c *gin.Context) {
	form := map[string]string{}
	for _, k := range []string{"act", "official", "eid", "status", "from", "to"} {
		form[k] = strings.TrimSpace(c.Query(k))
	}
	f := audit.Filter{Act: form["act"], Official: form["official"], EID: form["eid"], Status: form["status"], Limit: actsPageSize}
	var errs *web.Errors
	loc := p.cfg.TimeZone
	if v := form["from"]; v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			errs = p.fieldError(c, errs, "from", "err.date_invalid")
		}
		f.From = t
	}
	if v := form["to"]; v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			errs = p.fieldError(c, errs, "to", "err.date_invalid")
		}
		f.To = t.Add(24 * time.Hour) // the whole day
	}
	before, err := pageBefore(c)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	f.BeforeSeq = before
	var recs []audit.Record
	status := http.StatusOK
	if errs.Any() {
		status = http.StatusBadRequest
	} else if recs, err = p.deps.Audit.List(ctx(c), f); err != nil {
		status = statusOf(routing.KindOf(err))
		errs = p.formErrors(c, err, map[string]string{"act": "act", "to": "to"})
	}
	q := url.Values{}
	for k, v := range form {
		if v != "" {
			q.Set(k, v)
		}
	}
	older := ""
	if len(recs) == actsPageSize {
		oq := url.Values{}
		for k, v := range q {
			oq[k] = v
		}
		oq.Set("before", strconv.FormatUint(recs[len(recs)-1].Seq, 10))
		older = "/admin/acts?" + oq.Encode()
	}
	export := apiFilterQuery(form, loc)
	lang := p.pageLang(c)
	acts := []web.Option{{Value: "", Label: p.site.Message(lang, "audit.any")}}
	for _, a := range audit.Acts() {
		acts = append(acts, web.Option{Value: a, Label: p.site.Message(lang, "act."+a)})
	}
	statuses := []web.Option{{Value: "", Label: p.site.Message(lang, "audit.any")}}
	for _, s := range []string{audit.StatusDone, audit.StatusFailed, audit.StatusPending, audit.StatusUnknown} {
		statuses = append(statuses, web.Option{Value: s, Label: p.site.Message(lang, "act_status."+s)})
	}
	p.render(c, status, "admin_acts", &web.Page{Title: "title.admin.acts", Nav: "acts", Errors: errs, Form: form,
		Data: gin.H{"Records": recs, "Older": older, "ActOptions": acts, "StatusOptions": statuses,
			"ExportCSV":   "/v1/admin/audit/export?" + export + "format=csv",
			"ExportJSONL": "/v1/admin/audit/export?" + export + "format=jsonl"}})
}

// apiFilterQuery turns the console's filter (dates in the console's zone)
// into the API's query (RFC 3339 times), ending in "&" when not empty.
func apiFilterQuery(form map[string]string, loc *time.Location) string {
	q := url.Values{}
	for _, k := range []string{"act", "official", "eid", "status"} {
		if form[k] != "" {
			q.Set(k, form[k])
		}
	}
	if t, err := time.ParseInLocation("2006-01-02", form["from"], loc); err == nil {
		q.Set("from", t.Format(time.RFC3339))
	}
	if t, err := time.ParseInLocation("2006-01-02", form["to"], loc); err == nil {
		q.Set("to", t.Add(24*time.Hour).Format(time.RFC3339))
	}
	if len(q) == 0 {
		return ""
	}
	return q.Encode() + "&"
}
