package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// The portal's standing rules page: approve a class of use in advance
// from understandable choices, see each rule's uses, revoke with a
// confirmation that says what happens.

// rulePreset is a common standing rule offered as one choice; the page
// offers it when the registry has its data types and a department holding
// each of its roles.
type rulePreset struct {
	ID        string
	Roles     []string
	DataTypes []string
	Purpose   string
	Days      int
}

var rulePresets = []rulePreset{
	{ID: "employer-degree", Roles: []string{"employer-hr"}, DataTypes: []string{"edu.degree"}, Purpose: "employment", Days: 365},
	{ID: "hospital-allergies", Roles: []string{"hospital"}, DataTypes: []string{"health.allergies"}, Purpose: "emergency_care", Days: 365},
}

// rulePurposes are the purposes the form offers.
var rulePurposes = []string{"employment", "emergency_care", "healthcare", "admission", "social_assistance", "marriage_registration", "recruitment", "hiring"}

// ruleDays are the windows the form offers, in days.
var ruleDays = []int{30, 90, 180, 365}

// standingRuleFields maps the service's error fields to the form's.
var standingRuleFields = map[string]string{"departments": "departments", "roles": "departments", "data_types": "data_types",
	"purpose_code": "purpose_code", "valid_until": "days", "max_uses": "max_uses", "note": "note", "*": ""}

// option is one choice of a form list.
type option struct {
	Value    string
	Selected bool
}

// ruleChoice is what the form holds: the choices made, or a preset's.
type ruleChoice struct {
	Departments, Roles, DataTypes []string
	Purpose, Note, MaxUses        string
	Days                          int
	ValidUntil                    string // set once confirmed terms are shown
}

type rulesPageData struct {
	Presets                             []string
	Departments, Roles, DataTypes, Days []option
	Purposes                            []option
	Choice                              ruleChoice
	Groups                              []ruleGroup
	Sign                                bool
}

type ruleGroup struct {
	Status string
	Items  []web.Rule
}

func ruleView(r routing.RuleView) web.Rule {
	return web.Rule{ID: r.ID, Departments: r.Departments, Roles: r.Roles, DataTypes: r.DataTypes, PurposeCode: r.PurposeCode,
		Note: r.Note, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt,
		MaxUses: r.MaxUses, Uses: r.Uses, Status: r.EffectiveStatus, Assurance: r.Assurance, RevokeAssurance: r.RevokedWith()}
}

func (p *pages) portalRules(c *gin.Context) {
	choice := ruleChoice{Purpose: "employment", Days: 365}
	for _, pr := range rulePresets {
		if pr.ID == c.Query("preset") {
			choice = ruleChoice{Roles: pr.Roles, DataTypes: pr.DataTypes, Purpose: pr.Purpose, Days: pr.Days}
		}
	}
	p.showRules(c, http.StatusOK, choice, nil)
}

func (p *pages) showRules(c *gin.Context, status int, choice ruleChoice, errs *web.Errors) {
	eid := currentSession(c).Subject
	list, err := p.deps.Rules.ListForResident(ctx(c), eid)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	depts, err := p.deps.Registry.Departments(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	types, err := p.deps.Registry.DataTypes(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	d := rulesPageData{Choice: choice, Sign: p.hasPasskey(c)}
	var roles []string
	for _, dept := range depts {
		if dept.Active() {
			d.Departments = append(d.Departments, option{dept.ID, slices.Contains(choice.Departments, dept.ID)})
			roles = append(roles, dept.Roles...)
		}
	}
	slices.Sort(roles)
	for _, r := range slices.Compact(roles) {
		d.Roles = append(d.Roles, option{r, slices.Contains(choice.Roles, r)})
	}
	var codes []string
	for _, t := range types {
		if t.Status == model.DataTypeActive || t.Status == "" {
			codes = append(codes, t.Code)
			d.DataTypes = append(d.DataTypes, option{t.Code, slices.Contains(choice.DataTypes, t.Code)})
		}
	}
	for _, pr := range rulePresets {
		if allIn(pr.Roles, roles) && allIn(pr.DataTypes, codes) {
			d.Presets = append(d.Presets, pr.ID)
		}
	}
	for _, pu := range rulePurposes {
		d.Purposes = append(d.Purposes, option{pu, pu == choice.Purpose})
	}
	for _, n := range ruleDays {
		d.Days = append(d.Days, option{strconv.Itoa(n), n == choice.Days})
	}
	groups := map[string]*ruleGroup{"active": {Status: "active"}, "ended": {Status: "ended"}}
	for _, r := range list {
		g := groups["ended"]
		if r.EffectiveStatus == model.RuleActive {
			g = groups["active"]
		}
		g.Items = append(g.Items, ruleView(r))
	}
	d.Groups = []ruleGroup{*groups["active"], *groups["ended"]}
	p.render(c, status, "portal_rules", &web.Page{Title: "title.portal.rules", Nav: "rules", Errors: errs, Data: d})
}

func allIn(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// ruleFromForm reads the form's choices and the draft they make.
func (p *pages) ruleFromForm(c *gin.Context) (ruleChoice, routing.RuleDraft, *web.Errors) {
	ch := ruleChoice{Departments: c.PostFormArray("departments"), Roles: c.PostFormArray("roles"),
		DataTypes: c.PostFormArray("data_types"), Purpose: c.PostForm("purpose_code"), Note: strings.TrimSpace(c.PostForm("note")),
		MaxUses: strings.TrimSpace(c.PostForm("max_uses"))}
	d := routing.RuleDraft{Departments: ch.Departments, Roles: ch.Roles, DataTypes: ch.DataTypes, PurposeCode: ch.Purpose, Note: ch.Note}
	var errs *web.Errors
	if ch.MaxUses != "" {
		n, err := strconv.ParseUint(ch.MaxUses, 10, 32)
		if err != nil || n == 0 {
			errs = p.fieldError(c, errs, "max_uses", "rules.err_uses")
		}
		d.MaxUses = n
	}
	ch.Days, _ = strconv.Atoi(c.PostForm("days"))
	if v := c.PostForm("valid_until"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = p.fieldError(c, errs, "days", "rules.err_days")
		}
		ch.ValidUntil, d.ValidUntil = v, t
	} else if slices.Contains(ruleDays, ch.Days) {
		d.ValidFor = time.Duration(ch.Days) * 24 * time.Hour
	} else {
		errs = p.fieldError(c, errs, "days", "rules.err_days")
	}
	return ch, d, errs
}

type ruleConfirmData struct {
	Rule   web.Rule
	Choice ruleChoice
	Sign   bool
}

// portalRuleCreate shows the rule's exact terms for confirmation; the
// confirmed form records it. With a passkey, the page's script signs the
// terms instead (the API's signed creation); without one, or without
// scripts, the rule is recorded for the signed-in resident and marked
// password-only.
func (p *pages) portalRuleCreate(c *gin.Context) {
	ch, d, errs := p.ruleFromForm(c)
	if errs != nil {
		p.showRules(c, http.StatusBadRequest, ch, errs)
		return
	}
	eid := currentSession(c).Subject
	if c.PostForm("confirmed") != "yes" {
		ld, err := p.deps.Rules.Prepare(ctx(c), eid, d)
		if err != nil {
			p.ruleFailed(c, ch, err)
			return
		}
		r := web.Rule{Departments: ld.Departments, Roles: ld.Roles, DataTypes: ld.DataTypes, PurposeCode: ld.PurposeCode,
			Note: ld.Note, ValidFrom: ld.ValidFrom, ValidUntil: ld.ValidUntil, MaxUses: ld.MaxUses}
		ch.ValidUntil = ld.ValidUntil
		p.render(c, http.StatusOK, "portal_rule_confirm", &web.Page{Title: "title.confirm.rule", Nav: "rules",
			Data: ruleConfirmData{Rule: r, Choice: ch, Sign: p.hasPasskey(c)}})
		return
	}
	if _, err := p.deps.Rules.Create(ctx(c), eid, d); err != nil {
		p.ruleFailed(c, ch, err)
		return
	}
	seeOther(c, "/portal/rules", "rule_created")
}

func (p *pages) ruleFailed(c *gin.Context, ch ruleChoice, err error) {
	switch routing.KindOf(err) {
	case routing.KindInvalid, routing.KindForbidden, routing.KindConflict:
		p.showRules(c, statusOf(routing.KindOf(err)), ch, p.formErrors(c, err, standingRuleFields))
	default:
		p.pageFail(c, err)
	}
}

// portalRuleRevoke revokes after the confirmation (the dialog, or without
// scripts a page) said what will happen.
func (p *pages) portalRuleRevoke(c *gin.Context) {
	eid, id := currentSession(c).Subject, c.Param("id")
	if c.PostForm("confirmed") != "yes" {
		list, err := p.deps.Rules.ListForResident(ctx(c), eid)
		if err != nil {
			p.pageFail(c, err)
			return
		}
		i := slices.IndexFunc(list, func(r routing.RuleView) bool { return r.ID == id })
		if i < 0 {
			p.pageFail(c, (&routing.Error{Kind: routing.KindNotFound, Op: "gateway", Message: "standing rule not found"}).WithCode("not_found"))
			return
		}
		p.render(c, http.StatusOK, "portal_rule_revoke", &web.Page{Title: "title.confirm.rule_revoke", Nav: "rules", Data: ruleView(list[i])})
		return
	}
	if _, err := p.deps.Rules.Revoke(ctx(c), eid, id); err != nil {
		p.ruleFailed(c, ruleChoice{Purpose: "employment", Days: 365}, err)
		return
	}
	seeOther(c, "/portal/rules", "rule_revoked")
}
