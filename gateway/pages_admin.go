package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// Admin console pages (/admin). Every route names the permission its role
// needs (routes.go, accounts.RoleCan); the handlers call the same services
// as the admin API.

func (p *pages) adminLoginPage(c *gin.Context) {
	p.loginPage(c, accounts.SessionAdmin, "admin_login", "title.admin.login")
}

func (p *pages) adminLoginForm(c *gin.Context) {
	if !p.acceptSignInForm(c) {
		return
	}
	show := func(status int, errs *web.Errors) {
		p.render(c, status, "admin_login", &web.Page{Title: "title.admin.login", Errors: errs, Form: refill(c, "username")})
	}
	var errs *web.Errors
	if strings.TrimSpace(c.PostForm("username")) == "" {
		errs = p.fieldError(c, errs, "username", "err.username_required")
	}
	if c.PostForm("password") == "" {
		errs = p.fieldError(c, errs, "password", "err.password_required")
	}
	if errs.Any() {
		show(http.StatusBadRequest, errs)
		return
	}
	token, sess, err := p.deps.SignIn.Admin(signInCtx(c), strings.TrimSpace(c.PostForm("username")), c.PostForm("password"))
	if err != nil {
		setRetryAfter(c, err)
		show(statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"username": "username", "password": "password"}))
		return
	}
	p.signedIn(c, token, sess, "/admin", "")
}

func (p *pages) adminHome(c *gin.Context) {
	data := gin.H{}
	if accounts.RoleCan(currentSession(c).Role, accounts.PermAudit) {
		data["Anchoring"] = p.anchoring(ctx(c))
	}
	p.render(c, http.StatusOK, "admin_home", &web.Page{Title: "title.admin.home", Nav: "home", Data: data})
}

// --- departments, signing keys, API keys ---

func (p *pages) adminDepartments(c *gin.Context) { p.showDepartments(c, http.StatusOK, nil, nil) }

func (p *pages) showDepartments(c *gin.Context, status int, errs *web.Errors, form map[string]string) {
	ds, err := p.deps.Registry.Departments(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	slices.SortFunc(ds, func(a, b model.Department) int { return strings.Compare(a.ID, b.ID) })
	p.render(c, status, "admin_departments", &web.Page{Title: "title.admin.departments", Nav: "departments",
		Errors: errs, Form: form, Data: gin.H{"Departments": ds}})
}

func deptFields() map[string]string {
	return map[string]string{"id": "id", "name": "name", "name_en": "name_en", "msp_id": "msp_id",
		"endpoints": "endpoints", "roles": "roles", "signing_keys": "public_key_pem", "kid": "kid", "status_reason": "reason", "reason": "reason"}
}

func (p *pages) adminRegisterDepartment(c *gin.Context) {
	form := refill(c, "id", "name", "name_en", "msp_id", "endpoints", "kid", "public_key_pem")
	d := model.Department{
		ID: strings.TrimSpace(form["id"]), Name: strings.TrimSpace(form["name"]), NameEN: strings.TrimSpace(form["name_en"]),
		MSPID: strings.TrimSpace(form["msp_id"]), Endpoints: splitLines(form["endpoints"]),
	}
	kid, pem := strings.TrimSpace(form["kid"]), strings.TrimSpace(form["public_key_pem"])
	var errs *web.Errors
	switch {
	case kid != "" && pem == "":
		errs = p.fieldError(c, errs, "public_key_pem", "err.pem_required")
	case kid == "" && pem != "":
		errs = p.fieldError(c, errs, "kid", "err.kid_required")
	case kid != "":
		d.SigningKeys = []model.SigningKey{{KID: kid, PublicKeyPEM: pem + "\n", Status: model.KeyActive}}
	}
	if errs.Any() {
		p.showDepartments(c, http.StatusBadRequest, errs, form)
		return
	}
	if _, err := p.deps.Registry.RegisterDepartment(ctx(c), d); err != nil {
		p.showDepartments(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, deptFields()), form)
		return
	}
	seeOther(c, "/admin/departments/"+url.PathEscape(d.ID), "department_registered")
}

func (p *pages) adminDepartment(c *gin.Context) { p.showDepartment(c, http.StatusOK, nil, nil) }

func (p *pages) showDepartment(c *gin.Context, status int, errs *web.Errors, form map[string]string) {
	d, err := p.deps.Registry.Department(ctx(c), c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	var keys []accounts.APIKey
	if accounts.RoleCan(currentSession(c).Role, accounts.PermRegistryWrite) {
		if keys, err = p.deps.APIKeys.ListAPIKeys(ctx(c), d.ID); err != nil {
			p.pageFail(c, err)
			return
		}
	}
	if form == nil {
		form = map[string]string{}
	}
	for k, v := range map[string]string{"name": d.Name, "name_en": d.NameEN, "endpoints": strings.Join(d.Endpoints, "\n"), "roles": strings.Join(d.Roles, "\n")} {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	p.render(c, status, "admin_department", &web.Page{Title: "title.admin.department", Heading: localName(p.pageLang(c), d.Name, d.NameEN) + " (" + d.ID + ")",
		Nav: "departments", Errors: errs, Form: form, Data: gin.H{"Dept": d, "APIKeys": keys}})
}

// changeDepartment applies edit to the current record and writes it.
func (p *pages) changeDepartment(c *gin.Context, form map[string]string, notice string, edit func(d *model.Department) *web.Errors) {
	d, err := p.deps.Registry.Department(ctx(c), c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	upd := *d
	upd.SigningKeys = slices.Clone(d.SigningKeys)
	if errs := edit(&upd); errs.Any() {
		p.showDepartment(c, http.StatusBadRequest, errs, form)
		return
	}
	if _, err := p.deps.Registry.UpdateDepartment(ctx(c), upd); err != nil {
		p.showDepartment(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, deptFields()), form)
		return
	}
	seeOther(c, "/admin/departments/"+url.PathEscape(d.ID), notice)
}

func (p *pages) adminUpdateDepartment(c *gin.Context) {
	form := refill(c, "name", "name_en", "endpoints", "roles")
	p.changeDepartment(c, form, "department_updated", func(d *model.Department) *web.Errors {
		d.Name, d.NameEN = strings.TrimSpace(form["name"]), strings.TrimSpace(form["name_en"])
		d.Endpoints = splitLines(form["endpoints"])
		d.Roles = splitLines(form["roles"])
		return nil
	})
}

func (p *pages) adminAddKey(c *gin.Context) {
	form := refill(c, "kid", "public_key_pem")
	p.changeDepartment(c, form, "key_added", func(d *model.Department) *web.Errors {
		kid, pem := strings.TrimSpace(form["kid"]), strings.TrimSpace(form["public_key_pem"])
		var errs *web.Errors
		if kid == "" {
			errs = p.fieldError(c, errs, "kid", "err.kid_required")
		} else if _, dup := d.Key(kid); dup {
			errs = p.fieldError(c, errs, "kid", "err.kid_taken")
		}
		if pem == "" {
			errs = p.fieldError(c, errs, "public_key_pem", "err.pem_required")
		}
		d.SigningKeys = append(d.SigningKeys, model.SigningKey{KID: kid, PublicKeyPEM: pem + "\n", Status: model.KeyActive})
		return errs
	})
}

func (p *pages) adminRetireKey(c *gin.Context) {
	kid := c.PostForm("kid")
	if !p.confirmed(c, destructiveAct{key: "key_retire", args: []any{kid, c.Param("id")}, back: departmentPage(c.Param("id"))}) {
		return
	}
	p.changeDepartment(c, nil, "key_retired", func(d *model.Department) *web.Errors {
		for i := range d.SigningKeys {
			if d.SigningKeys[i].KID == kid {
				d.SigningKeys[i].Status = model.KeyRetired
				return nil
			}
		}
		return p.fieldError(c, nil, "", "err.kid_unknown")
	})
}

// adminRevokeKey declares a department's key compromised (a key file
// leaked): every credential it signed fails verification from then on, so
// the form asks for the reason, which the DID document publishes.
func (p *pages) adminRevokeKey(c *gin.Context) {
	form := refill(c, "revoke_reason")
	reason := strings.TrimSpace(form["revoke_reason"])
	if reason == "" {
		p.showDepartment(c, http.StatusBadRequest, p.fieldError(c, nil, "revoke_reason", "err.reason_required"), form)
		return
	}
	if !p.confirmed(c, destructiveAct{key: "key_revoke", args: []any{c.PostForm("kid"), c.Param("id")}, back: departmentPage(c.Param("id"))}) {
		return
	}
	if _, err := p.deps.Registry.RevokeSigningKey(ctx(c), c.Param("id"), c.PostForm("kid"), reason); err != nil {
		p.showDepartment(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"reason": "revoke_reason", "kid": "revoke_reason"}), form)
		return
	}
	seeOther(c, "/admin/departments/"+url.PathEscape(c.Param("id")), "key_revoked")
}

func (p *pages) adminDepartmentStatus(c *gin.Context) {
	form := refill(c, "reason")
	status, reason := c.PostForm("status"), strings.TrimSpace(form["reason"])
	if reason == "" {
		p.showDepartment(c, http.StatusBadRequest, p.fieldError(c, nil, "reason", "err.reason_required"), form)
		return
	}
	if _, err := p.deps.Registry.SetDepartmentStatus(ctx(c), c.Param("id"), status, reason); err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showDepartment(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, deptFields()), form)
		return
	}
	notice := "department_suspended"
	if status == model.DepartmentActive {
		notice = "department_reactivated"
	}
	seeOther(c, "/admin/departments/"+url.PathEscape(c.Param("id")), notice)
}

// secretData is a value shown once: an API key token or an activation
// code. The page answers the POST itself (no redirect), so the secret
// never sits in a URL or a later page.
type secretData struct {
	Kind      string // api_key or activation
	Subject   string
	Secret    string
	EID       string
	Documents []mapping.MaskedDocument
	Back      string
}

func (p *pages) adminIssueAPIKey(c *gin.Context) {
	form := refill(c, "key_name")
	name := strings.TrimSpace(form["key_name"])
	if name == "" {
		p.showDepartment(c, http.StatusBadRequest, p.fieldError(c, nil, "key_name", "err.name_required"), form)
		return
	}
	token, key, err := p.deps.APIKeys.IssueAPIKey(ctx(c), c.Param("id"), name)
	if err != nil {
		p.showDepartment(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"name": "key_name"}), form)
		return
	}
	p.render(c, http.StatusOK, "admin_secret", &web.Page{Title: "title.admin.api_key", Nav: "departments",
		Data: secretData{Kind: "api_key", Subject: key.Name, Secret: token, Back: "/admin/departments/" + url.PathEscape(c.Param("id"))}})
}

func (p *pages) adminRevokeAPIKey(c *gin.Context) {
	dept := c.PostForm("department")
	if !model.ValidDepartmentID(dept) {
		p.pageFail(c, routing.Invalid("gateway", "department", "department must be a department id"))
		return
	}
	if !p.confirmed(c, destructiveAct{key: "apikey_revoke", args: []any{c.Param("id"), dept}, back: departmentPage(dept)}) {
		return
	}
	if err := p.deps.APIKeys.RevokeAPIKey(ctx(c), c.Param("id")); err != nil {
		p.pageFail(c, err)
		return
	}
	seeOther(c, "/admin/departments/"+url.PathEscape(dept), "api_key_revoked")
}

// --- data types ---

func (p *pages) adminDataTypes(c *gin.Context) { p.showDataTypes(c, http.StatusOK, nil, nil, nil) }

func (p *pages) showDataTypes(c *gin.Context, status int, errs *web.Errors, form map[string]string, owners []string) {
	ts, err := p.deps.Registry.DataTypes(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	slices.SortFunc(ts, func(a, b model.DataType) int { return strings.Compare(a.Code, b.Code) })
	ds, err := p.deps.Registry.Departments(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, status, "admin_datatypes", &web.Page{Title: "title.admin.datatypes", Nav: "datatypes", Errors: errs, Form: form,
		Data: gin.H{"DataTypes": ts, "Departments": ds, "Owners": setOf(owners)}})
}

func setOf(xs []string) map[string]bool {
	out := map[string]bool{}
	for _, x := range xs {
		out[x] = true
	}
	return out
}

func dataTypeFields() map[string]string {
	return map[string]string{"code": "code", "name": "name", "name_en": "name_en", "schema": "schema", "owners": "owners", "status": "status"}
}

// checkDataType finds every problem of a data type form at once, each at
// its field in words, before the ledger is asked (whose refusal names one
// problem by its rule); code is checked when registering.
func (p *pages) checkDataType(c *gin.Context, dt model.DataType, registering bool) *web.Errors {
	var errs *web.Errors
	switch {
	case registering && dt.Code == "":
		errs = p.fieldError(c, errs, "code", "err.dt_code_required")
	case registering && !model.ValidDataTypeCode(dt.Code):
		errs = p.fieldError(c, errs, "code", "err.dt_code_format")
	}
	if dt.Name == "" {
		errs = p.fieldError(c, errs, "name", "err.name_required")
	}
	var schema map[string]json.RawMessage
	switch {
	case dt.Schema == "":
		errs = p.fieldError(c, errs, "schema", "err.dt_schema_required")
	case json.Unmarshal([]byte(dt.Schema), &schema) != nil || schema == nil:
		errs = p.fieldError(c, errs, "schema", "err.dt_schema_json")
	}
	if len(dt.Owners) == 0 {
		errs = p.fieldError(c, errs, "owners", "err.dt_owners_required")
	}
	return errs
}

// dataTypeErrors places a refusal of the ledger at the form field its
// message names (the contract's messages start with the field).
func (p *pages) dataTypeErrors(c *gin.Context, err error) *web.Errors {
	fields := dataTypeFields()
	if re, ok := errors.AsType[*routing.Error](err); ok && re.Field == "" && re.Kind == routing.KindInvalid {
		first, _, _ := strings.Cut(routing.MessageOf(err), " ")
		first, _, _ = strings.Cut(first, "[")
		if f, known := fields[first]; known {
			fields["*"] = f
		}
	}
	return p.formErrors(c, err, fields)
}

func (p *pages) adminRegisterDataType(c *gin.Context) {
	form := refill(c, "code", "name", "name_en", "schema")
	dt := model.DataType{Code: strings.TrimSpace(form["code"]), Name: strings.TrimSpace(form["name"]),
		NameEN: strings.TrimSpace(form["name_en"]), Schema: strings.TrimSpace(form["schema"]), Owners: c.PostFormArray("owners")}
	if errs := p.checkDataType(c, dt, true); errs.Any() {
		p.showDataTypes(c, http.StatusBadRequest, errs, form, dt.Owners)
		return
	}
	if _, err := p.deps.Registry.RegisterDataType(ctx(c), dt); err != nil {
		p.showDataTypes(c, statusOf(routing.KindOf(err)), p.dataTypeErrors(c, err), form, dt.Owners)
		return
	}
	seeOther(c, "/admin/datatypes/"+url.PathEscape(dt.Code), "datatype_registered")
}

func (p *pages) adminDataType(c *gin.Context) { p.showDataType(c, http.StatusOK, nil, nil, nil) }

func (p *pages) showDataType(c *gin.Context, status int, errs *web.Errors, form map[string]string, owners []string) {
	dt, err := p.deps.Registry.DataType(ctx(c), c.Param("code"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	ds, err := p.deps.Registry.Departments(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	pretty := dt.Schema
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(dt.Schema), "", "  ") == nil {
		pretty = buf.String()
	}
	if form == nil {
		form = map[string]string{"name": dt.Name, "name_en": dt.NameEN, "schema": pretty, "status": dt.Status}
		owners = dt.Owners
	}
	if form["status"] == "" {
		form["status"] = model.DataTypeActive
	}
	p.render(c, status, "admin_datatype", &web.Page{Title: "title.admin.datatype", Heading: localName(p.pageLang(c), dt.Name, dt.NameEN) + " (" + dt.Code + ")",
		Nav: "datatypes", Errors: errs, Form: form,
		Data: gin.H{"DataType": dt, "SchemaPretty": pretty, "Departments": ds, "Owners": setOf(owners)}})
}

func (p *pages) adminUpdateDataType(c *gin.Context) {
	form := refill(c, "name", "name_en", "schema", "status")
	dt := model.DataType{Code: c.Param("code"), Name: strings.TrimSpace(form["name"]), NameEN: strings.TrimSpace(form["name_en"]),
		Schema: strings.TrimSpace(form["schema"]), Owners: c.PostFormArray("owners"), Status: form["status"]}
	if errs := p.checkDataType(c, dt, false); errs.Any() {
		p.showDataType(c, http.StatusBadRequest, errs, form, dt.Owners)
		return
	}
	if _, err := p.deps.Registry.UpdateDataType(ctx(c), dt); err != nil {
		p.showDataType(c, statusOf(routing.KindOf(err)), p.dataTypeErrors(c, err), form, dt.Owners)
		return
	}
	seeOther(c, "/admin/datatypes/"+url.PathEscape(dt.Code), "datatype_updated")
}

// --- residents at the KYC counter ---

func (p *pages) adminResidents(c *gin.Context) { p.showResidents(c, http.StatusOK, nil) }

func (p *pages) showResidents(c *gin.Context, status int, errs *web.Errors) {
	var form map[string]string
	if c.Request.Method == http.MethodPost {
		form = docRefill(c, nil, "", "doc1_", "doc2_", "doc3_")
	}
	p.render(c, status, "admin_residents", &web.Page{Title: "title.admin.residents", Nav: "residents", Errors: errs, Form: form})
}

// adminSearchResident finds an eID by a typed-in document. The document
// travels in the POST body only; the answer is a redirect to the eID.
func (p *pages) adminSearchResident(c *gin.Context) {
	doc, ok := formDocument(c, "")
	if !ok || doc.Type == "" {
		p.showResidents(c, http.StatusBadRequest, p.fieldError(c, nil, "number", "err.doc_number_required"))
		return
	}
	eid, err := p.deps.Identities.Find(ctx(c), doc)
	if err != nil {
		if routing.IsKind(err, routing.KindNotFound) {
			p.showResidents(c, http.StatusNotFound, p.fieldError(c, nil, "number", "err.no_eid_for_document"))
			return
		}
		p.showResidents(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, docFields("")))
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/residents/"+url.PathEscape(eid))
}

func (p *pages) adminCreateResident(c *gin.Context) {
	var docs []mapping.Input
	for _, prefix := range []string{"doc1_", "doc2_", "doc3_"} {
		if d, ok := formDocument(c, prefix); ok {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		p.showResidents(c, http.StatusBadRequest, p.fieldError(c, nil, "doc1_number", "err.doc_number_required"))
		return
	}
	out, err := p.deps.Identities.Create(ctx(c), docs, adminName(c))
	if err != nil {
		p.showResidents(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"*": "doc1_number"}))
		return
	}
	p.render(c, http.StatusOK, "admin_secret", &web.Page{Title: "title.admin.kyc_done", Nav: "residents",
		Data: secretData{Kind: "activation", Subject: out.EID, Secret: out.ActivationCode, EID: out.EID,
			Documents: out.Documents, Back: "/admin/residents/" + url.PathEscape(out.EID)}})
}

func (p *pages) adminResident(c *gin.Context) { p.showResident(c, http.StatusOK, nil, nil) }

// showResident renders a resident's page; mergeInto, when given, is the
// target of a checked merge form awaiting confirmation.
func (p *pages) showResident(c *gin.Context, status int, errs *web.Errors, form map[string]string, mergeInto ...*mapping.IdentityDetail) {
	eid := c.Param("eid")
	if !model.ValidDID(eid) {
		p.pageFail(c, &routing.Error{Kind: routing.KindNotFound, Code: "not_found", Op: "gateway", Message: "no such eID"})
		return
	}
	d, err := p.deps.Identities.Identity(ctx(c), eid)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	data := p.residentWithPasskeys(c, d)
	if len(mergeInto) > 0 {
		data.MergeInto = mergeInto[0]
	}
	p.render(c, status, "admin_resident", &web.Page{Title: "title.admin.resident", Nav: "residents", Errors: errs, Form: form,
		Data: data})
}

func (p *pages) adminAddDocument(c *gin.Context) {
	form := docRefill(c, nil, "")
	doc, ok := formDocument(c, "")
	if !ok || doc.Type == "" {
		p.showResident(c, http.StatusBadRequest, p.fieldError(c, nil, "number", "err.doc_number_required"), form)
		return
	}
	if _, err := p.deps.Identities.AddDocument(ctx(c), c.Param("eid"), doc, adminName(c)); err != nil {
		fields := docFields("")
		fields["*"] = "number"
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, fields), form)
		return
	}
	seeOther(c, "/admin/residents/"+url.PathEscape(c.Param("eid")), "document_added")
}

func (p *pages) adminRemoveDocument(c *gin.Context) {
	if err := p.deps.Identities.RemoveDocument(ctx(c), c.Param("eid"), c.PostForm("ref"), adminName(c)); err != nil {
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil), nil)
		return
	}
	seeOther(c, "/admin/residents/"+url.PathEscape(c.Param("eid")), "document_removed")
}

func (p *pages) adminMerge(c *gin.Context) {
	form := refill(c, "into", "merge_reason")
	into, reason := strings.TrimSpace(form["into"]), strings.TrimSpace(form["merge_reason"])
	var errs *web.Errors
	if !model.ValidDID(into) {
		errs = p.fieldError(c, errs, "into", "err.eid_invalid")
	} else if into == c.Param("eid") {
		errs = p.fieldError(c, errs, "into", "err.merge_self")
	}
	if reason == "" {
		errs = p.fieldError(c, errs, "merge_reason", "err.reason_required")
	}
	// The target is looked up before the confirmation, so that the
	// confirmation can name it and a wrong eID is said at the field.
	var target *mapping.IdentityDetail
	if errs.Field("into") == "" {
		var err error
		switch target, err = p.deps.Identities.Identity(ctx(c), into); {
		case routing.IsKind(err, routing.KindNotFound):
			errs = p.fieldError(c, errs, "into", "err.merge_target_unknown")
		case err != nil:
			p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil), form)
			return
		case target.Identity.Status != model.EIDActive:
			errs = p.fieldError(c, errs, "into", "err.merge_target_inactive")
		}
	}
	if errs.Any() {
		p.showResident(c, http.StatusBadRequest, errs, form)
		return
	}
	if c.PostForm("confirmed") != "yes" {
		p.showResident(c, http.StatusOK, nil, form, target)
		return
	}
	if err := p.deps.Identities.Merge(ctx(c), c.Param("eid"), into, reason, adminName(c)); err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"into": "into", "reason": "merge_reason"}), form)
		return
	}
	seeOther(c, "/admin/residents/"+url.PathEscape(into), "merged")
}

func (p *pages) adminDeactivate(c *gin.Context) {
	form := refill(c, "deactivate_reason")
	reason := strings.TrimSpace(form["deactivate_reason"])
	if reason == "" {
		p.showResident(c, http.StatusBadRequest, p.fieldError(c, nil, "deactivate_reason", "err.reason_required"), form)
		return
	}
	if err := p.deps.Identities.Deactivate(ctx(c), c.Param("eid"), reason, adminName(c)); err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"reason": "deactivate_reason"}), form)
		return
	}
	seeOther(c, "/admin/residents/"+url.PathEscape(c.Param("eid")), "deactivated")
}

func (p *pages) adminActivationCode(c *gin.Context) {
	eid := c.Param("eid")
	code, err := p.deps.Identities.NewActivationCode(ctx(c), eid, adminName(c))
	if err != nil {
		p.showResident(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil), nil)
		return
	}
	p.render(c, http.StatusOK, "admin_secret", &web.Page{Title: "title.admin.activation_code", Nav: "residents",
		Data: secretData{Kind: "activation", Subject: eid, Secret: code, Back: "/admin/residents/" + url.PathEscape(eid)}})
}

// --- bulk import ---

func (p *pages) adminImports(c *gin.Context) { p.showImports(c, http.StatusOK, nil) }

func (p *pages) showImports(c *gin.Context, status int, errs *web.Errors) {
	jobs, err := p.deps.Importer.Jobs(ctx(c), 50)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, status, "admin_imports", &web.Page{Title: "title.admin.imports", Nav: "imports", Errors: errs, Data: gin.H{"Jobs": jobs}})
}

// adminStartImport streams the upload into the importer. The form puts
// the CSRF token before the file, so the token is checked before a byte of
// the file is read and nothing is buffered.
func (p *pages) adminStartImport(c *gin.Context) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, p.cfg.ImportLimit)
	mt, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "multipart/form-data" || params["boundary"] == "" {
		p.showImports(c, http.StatusBadRequest, p.fieldError(c, nil, "file", "err.file_required"))
		return
	}
	mr := multipart.NewReader(body, params["boundary"])
	sess := currentSession(c)
	csrfOK := false
	for {
		part, err := mr.NextPart()
		if err != nil {
			if !csrfOK {
				p.pageFail(c, csrfError())
				return
			}
			p.showImports(c, http.StatusBadRequest, p.fieldError(c, nil, "file", "err.file_required"))
			return
		}
		switch part.FormName() {
		case "csrf":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			csrfOK = tokenEqual(string(v), sess.CSRFToken)
			if !csrfOK {
				p.pageFail(c, csrfError())
				return
			}
		case "file":
			if !csrfOK {
				p.pageFail(c, csrfError())
				return
			}
			if part.FileName() == "" {
				p.showImports(c, http.StatusBadRequest, p.fieldError(c, nil, "file", "err.file_required"))
				return
			}
			job, err := p.deps.Importer.Start(ctx(c), part.FileName(), part, adminName(c))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					p.showImports(c, http.StatusRequestEntityTooLarge, p.fieldError(c, nil, "file", "err.file_too_large"))
					return
				}
				p.showImports(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"*": "file"}))
				return
			}
			c.Redirect(http.StatusSeeOther, "/admin/imports/"+url.PathEscape(job.ID))
			return
		}
	}
}

func (p *pages) adminImport(c *gin.Context) {
	job, err := p.deps.Importer.Job(ctx(c), c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, http.StatusOK, "admin_import", &web.Page{Title: "title.admin.import", Heading: job.FileName, Nav: "imports", Data: gin.H{"Job": job}})
}

// --- policies ---

type explainView struct {
	*explainResponse
	Department string
	DataType   string
	Purpose    string
}

func (p *pages) adminPolicies(c *gin.Context) { p.showPolicies(c, http.StatusOK, nil, nil, nil) }

func (p *pages) showPolicies(c *gin.Context, status int, errs *web.Errors, form map[string]string, ex *explainView) {
	rules, err := p.deps.Policies.Lines(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	history, err := p.deps.Policies.History(ctx(c), 100)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	grants, err := p.deps.Policies.BreakGlassGrants(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	data := gin.H{"Rules": rules, "History": history, "Grants": grants}
	if ex != nil {
		data["Explanation"] = ex
	}
	deptOpts, typeOpts := p.registryOptions(c, "")
	data["DepartmentOptions"], data["DataTypeOptions"] = deptOpts, typeOpts
	p.render(c, status, "admin_policies", &web.Page{Title: "title.admin.policies", Nav: "policies", Errors: errs, Form: form, Data: data})
}

// registryOptions lists departments and data types for selects; any is
// the label key of an "any" first choice ("" for none).
func (p *pages) registryOptions(c *gin.Context, any string) ([]web.Option, []web.Option) {
	lang := p.pageLang(c)
	var depts, types []web.Option
	if any != "" {
		depts = append(depts, web.Option{Value: "", Label: p.site.Message(lang, any)})
		types = append(types, web.Option{Value: "", Label: p.site.Message(lang, any)})
	}
	if ds, err := p.deps.Registry.Departments(ctx(c)); err == nil {
		slices.SortFunc(ds, func(a, b model.Department) int { return strings.Compare(a.ID, b.ID) })
		for _, d := range ds {
			depts = append(depts, web.Option{Value: d.ID, Label: localName(lang, d.Name, d.NameEN) + " (" + d.ID + ")"})
		}
	}
	if ts, err := p.deps.Registry.DataTypes(ctx(c)); err == nil {
		slices.SortFunc(ts, func(a, b model.DataType) int { return strings.Compare(a.Code, b.Code) })
		for _, t := range ts {
			types = append(types, web.Option{Value: t.Code, Label: localName(lang, t.Name, t.NameEN) + " (" + t.Code + ")"})
		}
	}
	return depts, types
}

func localName(lang, zh, en string) string {
	if lang == web.LangEN && en != "" {
		return en
	}
	return zh
}

func (p *pages) adminExplainForm(c *gin.Context) {
	form := docRefill(c, refill(c, "department", "data_type", "purpose", "eid"), "")
	req := explainRequest{DataType: form["data_type"], Purpose: strings.TrimSpace(form["purpose"])}
	dept := form["department"]
	var errs *web.Errors
	if !model.ValidDepartmentID(dept) {
		errs = p.fieldError(c, errs, "department", "err.department_required")
	}
	if eid := strings.TrimSpace(form["eid"]); eid != "" {
		if !model.ValidDID(eid) {
			errs = p.fieldError(c, errs, "eid", "err.eid_invalid")
		}
		req.Subject = &subjectBody{EID: eid}
	} else if doc, ok := formDocument(c, ""); ok {
		req.Subject = &subjectBody{Document: &doc}
	}
	if errs.Any() {
		p.showPolicies(c, http.StatusBadRequest, errs, form, nil)
		return
	}
	out, err := p.explanation(ctx(c), dept, req)
	if err != nil {
		p.showPolicies(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"data_type": "data_type", "purpose": "purpose", "document": "number"}), form, nil)
		return
	}
	p.showPolicies(c, http.StatusOK, nil, form, &explainView{explainResponse: out, Department: dept, DataType: req.DataType, Purpose: req.Purpose})
}

func ruleFields() map[string]string {
	return map[string]string{"kind": "kind", "subject": "subject", "object": "object", "action": "action", "effect": "effect", "role": "role"}
}

func ruleFromForm(c *gin.Context) policies.Line {
	r := policies.Line{Kind: c.PostForm("kind"), Subject: strings.TrimSpace(c.PostForm("subject"))}
	if r.Kind == "g" {
		r.Role = strings.TrimSpace(c.PostForm("role"))
	} else {
		r.Object, r.Action, r.Effect = strings.TrimSpace(c.PostForm("object")), strings.TrimSpace(c.PostForm("action")), c.PostForm("effect")
	}
	return r
}

func (p *pages) adminAddRule(c *gin.Context) {
	form := refill(c, "kind", "subject", "object", "action", "effect", "role")
	if _, err := p.deps.Policies.AddLine(ctx(c), adminName(c), ruleFromForm(c)); err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showPolicies(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, ruleFields()), form, nil)
		return
	}
	seeOther(c, "/admin/policies", "rule_added")
}

func (p *pages) adminRemoveRule(c *gin.Context) {
	if !p.confirmed(c, destructiveAct{key: "rule_delete", args: []any{ruleText(c)}, back: "/admin/policies"}) {
		return
	}
	if _, err := p.deps.Policies.RemoveLine(ctx(c), adminName(c), ruleFromForm(c)); err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showPolicies(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil), nil, nil)
		return
	}
	seeOther(c, "/admin/policies", "rule_removed")
}

// --- audit ---

const auditPageSize = 100

// adminAudit lists access records with the filters of the form (a GET
// form: department, data type, purpose, outcome, date range; nothing in
// it identifies a resident by document).
func (p *pages) adminAudit(c *gin.Context) {
	form := map[string]string{}
	for _, k := range []string{"requester", "provider", "data_type", "purpose", "outcome", "from", "to"} {
		form[k] = strings.TrimSpace(c.Query(k))
	}
	f := routing.AccessFilter{Requester: form["requester"], Provider: form["provider"], DataType: form["data_type"],
		Purpose: form["purpose"], Outcome: form["outcome"], Desc: true, Limit: auditPageSize}
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
		f.To = t.Add(24*time.Hour - time.Nanosecond) // the whole day
	}
	before, err := pageBefore(c)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	f.BeforeSeq = before
	var recs []routing.AccessRecord
	status := http.StatusOK
	if errs.Any() {
		status = http.StatusBadRequest
	} else if recs, err = p.deps.Access.List(ctx(c), f); err != nil {
		status = statusOf(routing.KindOf(err))
		errs = p.formErrors(c, err, map[string]string{"data_type": "data_type", "purpose": "purpose", "outcome": "outcome"})
	}
	rows := make([]web.Access, len(recs))
	for i, r := range recs {
		rows[i] = accessRow(r, r.Official)
	}
	older := olderPage("/admin/audit", form, recs)
	lang := p.pageLang(c)
	depts, types := p.registryOptions(c, "audit.any")
	outcomes := []web.Option{{Value: "", Label: p.site.Message(lang, "audit.any")}}
	for _, o := range []string{routing.OutcomeIssued, routing.OutcomePolicyDenied, routing.OutcomeConsentRequired, routing.OutcomeNoRoute, routing.OutcomeSubjectUnknown} {
		outcomes = append(outcomes, web.Option{Value: o, Label: p.site.Message(lang, "outcome."+o)})
	}
	p.render(c, status, "admin_audit", &web.Page{Title: "title.admin.audit", Nav: "audit", Errors: errs, Form: form,
		Data: gin.H{"Records": rows, "Older": older, "Anchoring": p.anchoring(ctx(c)),
			"DepartmentOptions": depts, "ProviderOptions": depts, "DataTypeOptions": types, "OutcomeOptions": outcomes}})
}

// olderPage links a full page of access records to the next, older one
// with the same filters ("" when the page is not full).
func olderPage(path string, form map[string]string, recs []routing.AccessRecord) string {
	if len(recs) != auditPageSize {
		return ""
	}
	q := url.Values{}
	for k, v := range form {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("before", strconv.FormatUint(recs[len(recs)-1].Seq, 10))
	return path + "?" + q.Encode()
}

// --- administrator accounts ---

func (p *pages) adminUsers(c *gin.Context) { p.showUsers(c, http.StatusOK, nil, nil) }

func (p *pages) showUsers(c *gin.Context, status int, errs *web.Errors, form map[string]string) {
	users, err := p.deps.Admins.List(ctx(c))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, status, "admin_users", &web.Page{Title: "title.admin.users", Nav: "users", Errors: errs, Form: form,
		Data: gin.H{"Users": users, "Roles": []string{accounts.RoleAdmin, accounts.RoleMappingOfficer, accounts.RoleAuditor}}})
}

func (p *pages) adminCreateUser(c *gin.Context) {
	form := refill(c, "username", "role")
	username := strings.TrimSpace(form["username"])
	var errs *web.Errors
	if username == "" {
		errs = p.fieldError(c, errs, "username", "err.username_required")
	}
	if c.PostForm("password") == "" {
		errs = p.fieldError(c, errs, "password", "err.password_required")
	}
	if errs.Any() {
		p.showUsers(c, http.StatusBadRequest, errs, form)
		return
	}
	if _, err := p.deps.Admins.CreateAdmin(ctx(c), username, c.PostForm("password"), form["role"]); err != nil {
		p.showUsers(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"username": "username", "password": "password", "role": "role"}), form)
		return
	}
	seeOther(c, "/admin/users", "user_created")
}
