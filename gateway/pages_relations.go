package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// The console's side of guardianship, on a resident's page: register a
// guardian for the resident (the ward) with the evidence seen, and end a
// relation. Both are audit records.

func (p *pages) adminRegisterRelation(c *gin.Context) {
	ward := c.Param("eid")
	form := refill(c, "guardian", "kind", "evidence_kind", "evidence_reference", "ward_id_number", "ward_birth_date", "valid_until")
	in := mapping.RelationInput{Ward: ward, Guardian: strings.TrimSpace(form["guardian"]), Kind: form["kind"],
		EvidenceKind: form["evidence_kind"], EvidenceReference: form["evidence_reference"],
		WardBirthDate: strings.TrimSpace(form["ward_birth_date"])}
	if n := strings.TrimSpace(form["ward_id_number"]); n != "" {
		in.WardDocument = &mapping.Input{Type: mapping.CNResident, Number: n}
	}
	if d := strings.TrimSpace(form["valid_until"]); d != "" {
		in.ValidUntil = d + "T00:00:00+08:00"
	}
	form["evidence_reference"], form["ward_id_number"] = "", "" // never echoed back
	if _, err := p.deps.Relations.Register(ctx(c), in, adminName(c)); err != nil {
		fields := map[string]string{"guardian": "guardian", "kind": "kind", "evidence_kind": "evidence_kind",
			"evidence_reference": "evidence_reference", "ward_document": "ward_id_number", "number": "ward_id_number",
			"ward_birth_date": "ward_birth_date", "valid_until": "valid_until", "*": "guardian"}
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, fields), form)
		return
	}
	seeOther(c, "/admin/residents/"+url.PathEscape(ward), "relation_registered")
}

func (p *pages) adminEndRelation(c *gin.Context) {
	reason := strings.TrimSpace(c.PostForm("end_reason"))
	if reason == "" {
		p.showResident(c, http.StatusBadRequest, p.fieldError(c, nil, "end_reason", "err.reason_required"), nil)
		return
	}
	if _, err := p.deps.Relations.End(ctx(c), c.PostForm("relation"), reason, adminName(c)); err != nil {
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"reason": "end_reason"}), nil)
		return
	}
	seeOther(c, "/admin/residents/"+url.PathEscape(c.Param("eid")), "relation_ended")
}
