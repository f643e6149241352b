package gateway

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

type adminLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (a *api) adminLogin(c *gin.Context) {
	var req adminLoginRequest
	if !a.bind(c, &req) {
		return
	}
	token, sess, err := a.deps.SignIn.Admin(signInCtx(c), req.Username, req.Password)
	a.renderSession(c, token, sess, err)
}

func (a *api) adminMe(c *gin.Context) {
	sess := currentSession(c)
	c.JSON(http.StatusOK, gin.H{"username": sess.Subject, "role": sess.Role, "auth_method": sess.AuthMethod,
		"must_register_passkey": a.mustRegisterPasskey(sess)})
}

func adminName(c *gin.Context) string { return "admin:" + currentSession(c).Subject }

// --- departments, data types, API keys ---

func (a *api) listDepartments(c *gin.Context) {
	out, err := a.deps.Registry.Departments(ctx(c))
	answerList(a.Server, c, "departments", out, err)
}

func (a *api) registerDepartment(c *gin.Context) {
	var d model.Department
	if !a.bind(c, &d) {
		return
	}
	out, err := a.deps.Registry.RegisterDepartment(ctx(c), d)
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) updateDepartment(c *gin.Context) {
	var d model.Department
	if !a.bind(c, &d) {
		return
	}
	if d.ID != c.Param("id") {
		a.fail(c, routing.Invalid("gateway", "id", "the body's id must match the path"))
		return
	}
	out, err := a.deps.Registry.UpdateDepartment(ctx(c), d)
	a.answer(c, http.StatusOK, out, err)
}

type statusRequest struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (a *api) setDepartmentStatus(c *gin.Context) {
	var req statusRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Registry.SetDepartmentStatus(ctx(c), c.Param("id"), req.Status, req.Reason)
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) listDataTypes(c *gin.Context) {
	out, err := a.deps.Registry.DataTypes(ctx(c))
	answerList(a.Server, c, "data_types", out, err)
}

func (a *api) registerDataType(c *gin.Context) {
	var dt model.DataType
	if !a.bind(c, &dt) {
		return
	}
	out, err := a.deps.Registry.RegisterDataType(ctx(c), dt)
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) updateDataType(c *gin.Context) {
	var dt model.DataType
	if !a.bind(c, &dt) {
		return
	}
	if dt.Code != c.Param("code") {
		a.fail(c, routing.Invalid("gateway", "code", "the body's code must match the path"))
		return
	}
	out, err := a.deps.Registry.UpdateDataType(ctx(c), dt)
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) listAPIKeys(c *gin.Context) {
	out, err := a.deps.APIKeys.ListAPIKeys(ctx(c), c.Param("id"))
	answerList(a.Server, c, "api_keys", out, err)
}

type issueKeyRequest struct {
	Name string `json:"name"`
}

// issueAPIKey shows the token once; only its hash is kept.
func (a *api) issueAPIKey(c *gin.Context) {
	var req issueKeyRequest
	if !a.bind(c, &req) {
		return
	}
	token, key, err := a.deps.APIKeys.IssueAPIKey(ctx(c), c.Param("id"), req.Name)
	a.answer(c, http.StatusCreated, gin.H{"token": token, "api_key": key}, err)
}

func (a *api) revokeAPIKey(c *gin.Context) {
	err := a.deps.APIKeys.RevokeAPIKey(ctx(c), c.Param("id"))
	a.answer(c, http.StatusOK, gin.H{"revoked": true}, err)
}

// --- residents at the KYC counter ---

type createEIDRequest struct {
	Documents []mapping.Input `json:"documents"`
}

func (a *api) createEID(c *gin.Context) {
	var req createEIDRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Identities.Create(ctx(c), req.Documents, adminName(c))
	a.answer(c, http.StatusCreated, out, err)
}

type searchRequest struct {
	Document mapping.Input `json:"document"`
}

// searchEID finds a resident by a typed-in document (never by URL).
func (a *api) searchEID(c *gin.Context) {
	var req searchRequest
	if !a.bind(c, &req) {
		return
	}
	eid, err := a.deps.Identities.Find(ctx(c), req.Document)
	a.answer(c, http.StatusOK, gin.H{"eid": eid}, err)
}

func (a *api) getEID(c *gin.Context) {
	d, err := a.deps.Identities.Identity(ctx(c), c.Param("eid"))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"eid": d.Identity, "documents": d.Documents, "links": d.Links})
}

type documentRequest struct {
	Document mapping.Input `json:"document"`
}

func (a *api) addDocument(c *gin.Context) {
	var req documentRequest
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Identities.AddDocument(ctx(c), c.Param("eid"), req.Document, adminName(c))
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) removeDocument(c *gin.Context) {
	err := a.deps.Identities.RemoveDocument(ctx(c), c.Param("eid"), c.Param("ref"), adminName(c))
	a.answer(c, http.StatusOK, gin.H{"removed": true}, err)
}

type mergeRequest struct {
	Into   string `json:"into"`
	Reason string `json:"reason"`
}

func (a *api) mergeEID(c *gin.Context) {
	var req mergeRequest
	if !a.bind(c, &req) {
		return
	}
	err := a.deps.Identities.Merge(ctx(c), c.Param("eid"), req.Into, req.Reason, adminName(c))
	a.answer(c, http.StatusOK, gin.H{"merged_into": req.Into}, err)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (a *api) deactivateEID(c *gin.Context) {
	var req reasonRequest
	if !a.bind(c, &req) {
		return
	}
	err := a.deps.Identities.Deactivate(ctx(c), c.Param("eid"), req.Reason, adminName(c))
	a.answer(c, http.StatusOK, gin.H{"deactivated": true}, err)
}

func (a *api) newActivationCode(c *gin.Context) {
	code, err := a.deps.Identities.NewActivationCode(ctx(c), c.Param("eid"), adminName(c))
	a.answer(c, http.StatusCreated, gin.H{"activation_code": code}, err)
}

// --- bulk import ---

// startImport takes the file as a multipart upload (field "file") or as
// the raw body (text/csv or application/x-ndjson with ?name=).
func (a *api) startImport(c *gin.Context) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.ImportLimit)
	name := c.Query("name")
	var r io.Reader = body
	mt, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				a.fail(c, routing.Invalid("gateway", "file", "upload the file in a form field named file"))
				return
			}
			if part.FormName() == "file" {
				r, name = part, part.FileName()
				break
			}
		}
	}
	if name == "" {
		a.fail(c, routing.Invalid("gateway", "name", "name the uploaded file"))
		return
	}
	job, err := a.deps.Importer.Start(ctx(c), name, r, adminName(c))
	a.answer(c, http.StatusAccepted, job, err)
}

func (a *api) listImports(c *gin.Context) {
	out, err := a.deps.Importer.Jobs(ctx(c), 50)
	answerList(a.Server, c, "imports", out, err)
}

func (a *api) getImport(c *gin.Context) {
	out, err := a.deps.Importer.Job(ctx(c), c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) importRejects(c *gin.Context) {
	if _, err := a.deps.Importer.Job(ctx(c), c.Param("id")); err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="rejects-`+c.Param("id")+`.csv"`)
	c.Status(http.StatusOK)
	if err := a.deps.Importer.WriteRejects(ctx(c), c.Param("id"), c.Writer); err != nil {
		a.log.Warn("writing reject report failed", "request_id", requestID(c), "err", err)
	}
}

// --- policies ---

func (a *api) listPolicy(c *gin.Context) {
	out, err := a.deps.Policies.Lines(ctx(c))
	answerList(a.Server, c, "rules", out, err)
}

func (a *api) addPolicyRule(c *gin.Context) {
	var r policies.Line
	if !a.bind(c, &r) {
		return
	}
	v, err := a.deps.Policies.AddLine(ctx(c), adminName(c), r)
	a.answer(c, http.StatusCreated, gin.H{"policy_version": v}, err)
}

func (a *api) removePolicyRule(c *gin.Context) {
	var r policies.Line
	if !a.bind(c, &r) {
		return
	}
	v, err := a.deps.Policies.RemoveLine(ctx(c), adminName(c), r)
	a.answer(c, http.StatusOK, gin.H{"policy_version": v}, err)
}

func (a *api) policyHistory(c *gin.Context) {
	out, err := a.deps.Policies.History(ctx(c), 100)
	answerList(a.Server, c, "versions", out, err)
}

// adminExplain answers the console's explain form for any department.
func (a *api) adminExplain(c *gin.Context) {
	var req explainRequest
	if !a.bind(c, &req) {
		return
	}
	if !model.ValidDepartmentID(req.Department) {
		a.fail(c, routing.Invalid("gateway", "department", "department must be a department id"))
		return
	}
	a.explain(c, req.Department, req)
}

// --- audit ---

func (a *api) auditAccess(c *gin.Context) {
	a.listAccess(c, func(f *routing.AccessFilter) { f.Requester = c.Query("requester") })
}

// anchoringStatus is the anchoring state of access records, with that of
// the officials' audit records under "audit".
func (a *api) anchoringStatus(c *gin.Context) {
	out := anchoringView(c, a.deps.Anchoring)
	out["audit"] = anchoringView(c, a.deps.AuditAnchoring)
	c.JSON(http.StatusOK, out)
}

func anchoringView(c *gin.Context, an Anchoring) gin.H {
	st := an.Status()
	return gin.H{
		"lag_seconds": st.Lag.Seconds(), "oldest_unanchored": st.Oldest, "checked_at": st.CheckedAt,
		"leader": st.Leader, "last_batch": st.LastBatch, "last_block": st.LastBlock,
		"last_anchored_at": st.LastAnchoredAt, "batches": st.Batches, "records": st.Records,
		"last_error": st.LastError, "ok": an.Check(ctx(c)) == nil,
	}
}

func (a *api) listAdmins(c *gin.Context) {
	out, err := a.deps.Admins.List(ctx(c))
	answerList(a.Server, c, "users", out, err)
}

type createAdminRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (a *api) createAdmin(c *gin.Context) {
	var req createAdminRequest
	if !a.bind(c, &req) {
		return
	}
	_, err := a.deps.Admins.CreateAdmin(ctx(c), req.Username, req.Password, req.Role)
	a.answer(c, http.StatusCreated, gin.H{"username": req.Username, "role": req.Role}, err)
}
