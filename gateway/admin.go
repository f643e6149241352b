package gateway

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

type adminLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) adminLogin(c *gin.Context) {
	var req adminLoginRequest
	if !s.bind(c, &req) {
		return
	}
	token, sess, err := s.signInAdmin(ctx(c), req.Username, req.Password)
	s.renderSession(c, token, sess, err)
}

// signInAdmin checks an administrator's password and opens a session with
// the account's role.
func (s *Server) signInAdmin(ctx context.Context, username, password string) (string, *accounts.Session, error) {
	a, err := s.deps.Admins.Login(ctx, username, password)
	if err != nil {
		return "", nil, err
	}
	return s.deps.Sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionAdmin, Subject: username, Role: a.Role})
}

func (s *Server) adminMe(c *gin.Context) {
	sess := currentSession(c)
	c.JSON(http.StatusOK, gin.H{"username": sess.Subject, "role": sess.Role, "auth_method": sess.AuthMethod,
		"must_register_passkey": s.mustRegisterPasskey(sess)})
}

func adminName(c *gin.Context) string { return "admin:" + currentSession(c).Subject }

// --- departments, data types, API keys ---

func (s *Server) listDepartments(c *gin.Context) {
	out, err := s.deps.Dir.Departments(ctx(c))
	answerList(s, c, "departments", out, err)
}

func (s *Server) registerDepartment(c *gin.Context) {
	var d model.Department
	if !s.bind(c, &d) {
		return
	}
	out, err := s.deps.Admin.RegisterDepartment(ctx(c), d)
	s.renderRegistry(c, out, err, model.Change{Kind: model.KindDepartment, ID: d.ID}, http.StatusCreated)
}

func (s *Server) updateDepartment(c *gin.Context) {
	var d model.Department
	if !s.bind(c, &d) {
		return
	}
	if d.ID != c.Param("id") {
		s.fail(c, routing.Invalid("gateway", "id", "the body's id must match the path"))
		return
	}
	out, err := s.deps.Admin.UpdateDepartment(ctx(c), d)
	s.renderRegistry(c, out, err, model.Change{Kind: model.KindDepartment, ID: d.ID}, http.StatusOK)
}

type statusRequest struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (s *Server) setDepartmentStatus(c *gin.Context) {
	var req statusRequest
	if !s.bind(c, &req) {
		return
	}
	out, err := s.deps.Admin.SetDepartmentStatus(ctx(c), c.Param("id"), req.Status, req.Reason)
	s.renderRegistry(c, out, err, model.Change{Kind: model.KindDepartment, ID: c.Param("id")}, http.StatusOK)
}

func (s *Server) listDataTypes(c *gin.Context) {
	out, err := s.deps.Dir.DataTypes(ctx(c))
	answerList(s, c, "data_types", out, err)
}

func (s *Server) registerDataType(c *gin.Context) {
	var dt model.DataType
	if !s.bind(c, &dt) {
		return
	}
	out, err := s.deps.Admin.RegisterDataType(ctx(c), dt)
	s.renderRegistry(c, out, err, model.Change{Kind: model.KindDataType, ID: dt.Code}, http.StatusCreated)
}

func (s *Server) updateDataType(c *gin.Context) {
	var dt model.DataType
	if !s.bind(c, &dt) {
		return
	}
	if dt.Code != c.Param("code") {
		s.fail(c, routing.Invalid("gateway", "code", "the body's code must match the path"))
		return
	}
	out, err := s.deps.Admin.UpdateDataType(ctx(c), dt)
	s.renderRegistry(c, out, err, model.Change{Kind: model.KindDataType, ID: dt.Code}, http.StatusOK)
}

func (s *Server) renderRegistry(c *gin.Context, out any, err error, change model.Change, status int) {
	if err != nil {
		s.fail(c, err)
		return
	}
	s.registryChanged(ctx(c), change)
	c.JSON(status, out)
}

// registryChanged drops this replica's cached registry entries at once;
// the others drop theirs when the chaincode event arrives.
func (s *Server) registryChanged(ctx context.Context, change model.Change) {
	_ = s.deps.Dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{change}})
}

func (s *Server) listAPIKeys(c *gin.Context) {
	out, err := s.deps.APIKeys.ListAPIKeys(ctx(c), c.Param("id"))
	answerList(s, c, "api_keys", out, err)
}

type issueKeyRequest struct {
	Name string `json:"name"`
}

// issueAPIKey shows the token once; only its hash is kept.
func (s *Server) issueAPIKey(c *gin.Context) {
	var req issueKeyRequest
	if !s.bind(c, &req) {
		return
	}
	token, key, err := s.issueKey(ctx(c), c.Param("id"), req.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"token": token, "api_key": key})
}

// issueKey issues an API key for a registered department.
func (s *Server) issueKey(ctx context.Context, dept, name string) (string, *accounts.APIKey, error) {
	if _, err := s.deps.Dir.Department(ctx, dept); err != nil {
		return "", nil, err
	}
	token, key, err := s.deps.APIKeys.IssueAPIKey(ctx, dept, name)
	if err != nil {
		return "", nil, err
	}
	return token, &key, nil
}

func (s *Server) revokeAPIKey(c *gin.Context) {
	err := s.deps.APIKeys.RevokeAPIKey(ctx(c), c.Param("id"))
	s.answer(c, http.StatusOK, gin.H{"revoked": true}, err)
}

// --- residents at the KYC counter ---

type createEIDRequest struct {
	Documents []mapping.Input `json:"documents"`
}

func (s *Server) createEID(c *gin.Context) {
	var req createEIDRequest
	if !s.bind(c, &req) {
		return
	}
	out, err := s.createIdentity(ctx(c), req.Documents, adminName(c))
	s.answer(c, http.StatusCreated, out, err)
}

// createIdentity is the KYC counter: a new eID from 1 to 8 documents.
func (s *Server) createIdentity(ctx context.Context, docs []mapping.Input, officer string) (*mapping.CreatedIdentity, error) {
	if len(docs) == 0 || len(docs) > 8 {
		return nil, routing.Invalid("gateway", "documents", "give 1 to 8 documents")
	}
	return s.deps.Identities.Create(ctx, docs, officer)
}

type searchRequest struct {
	Document mapping.Input `json:"document"`
}

// searchEID finds a resident by a typed-in document (never by URL).
func (s *Server) searchEID(c *gin.Context) {
	var req searchRequest
	if !s.bind(c, &req) {
		return
	}
	eid, err := s.deps.Identities.Find(ctx(c), req.Document)
	s.answer(c, http.StatusOK, gin.H{"eid": eid}, err)
}

func (s *Server) getEID(c *gin.Context) {
	d, err := s.identityDetail(ctx(c), c.Param("eid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"eid": d.Identity, "documents": d.Documents, "links": d.Links})
}

// identityView is an eID as an officer sees it: the record, its documents
// (masked) and its department account links.
type identityView struct {
	Identity  *model.Identity
	Documents []mapping.MaskedDocument
	Links     []model.AccountLink
}

func (s *Server) identityDetail(ctx context.Context, eid string) (*identityView, error) {
	id, err := s.deps.Agent.GetEID(ctx, eid)
	if err != nil {
		return nil, err
	}
	docs, err := s.deps.Identities.Documents(ctx, eid)
	if err != nil {
		return nil, err
	}
	links, err := s.deps.Agent.ListLinks(ctx, eid)
	if err != nil {
		return nil, err
	}
	return &identityView{Identity: id, Documents: nonNil(docs), Links: nonNil(links)}, nil
}

type documentRequest struct {
	Document mapping.Input `json:"document"`
}

func (s *Server) addDocument(c *gin.Context) {
	var req documentRequest
	if !s.bind(c, &req) {
		return
	}
	out, err := s.deps.Identities.AddDocument(ctx(c), c.Param("eid"), req.Document, adminName(c))
	s.answer(c, http.StatusCreated, out, err)
}

func (s *Server) removeDocument(c *gin.Context) {
	err := s.deps.Identities.RemoveDocument(ctx(c), c.Param("eid"), c.Param("ref"), adminName(c))
	s.answer(c, http.StatusOK, gin.H{"removed": true}, err)
}

type mergeRequest struct {
	Into   string `json:"into"`
	Reason string `json:"reason"`
}

func (s *Server) mergeEID(c *gin.Context) {
	var req mergeRequest
	if !s.bind(c, &req) {
		return
	}
	err := s.deps.Identities.Merge(ctx(c), c.Param("eid"), req.Into, req.Reason, adminName(c))
	s.answer(c, http.StatusOK, gin.H{"merged_into": req.Into}, err)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) deactivateEID(c *gin.Context) {
	var req reasonRequest
	if !s.bind(c, &req) {
		return
	}
	err := s.deps.Identities.Deactivate(ctx(c), c.Param("eid"), req.Reason, adminName(c))
	s.answer(c, http.StatusOK, gin.H{"deactivated": true}, err)
}

func (s *Server) newActivationCode(c *gin.Context) {
	code, err := s.deps.Identities.NewActivationCode(ctx(c), c.Param("eid"), adminName(c))
	s.answer(c, http.StatusCreated, gin.H{"activation_code": code}, err)
}

// --- bulk import ---

// startImport takes the file as a multipart upload (field "file") or as
// the raw body (text/csv or application/x-ndjson with ?name=).
func (s *Server) startImport(c *gin.Context) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.ImportLimit)
	name := c.Query("name")
	var r io.Reader = body
	mt, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				s.fail(c, routing.Invalid("gateway", "file", "upload the file in a form field named file"))
				return
			}
			if part.FormName() == "file" {
				r, name = part, part.FileName()
				break
			}
		}
	}
	if name == "" {
		s.fail(c, routing.Invalid("gateway", "name", "name the uploaded file"))
		return
	}
	job, err := s.deps.Importer.Start(ctx(c), name, r, adminName(c))
	s.answer(c, http.StatusAccepted, job, err)
}

func (s *Server) listImports(c *gin.Context) {
	out, err := s.deps.Importer.Jobs(ctx(c), 50)
	answerList(s, c, "imports", out, err)
}

func (s *Server) getImport(c *gin.Context) {
	out, err := s.deps.Importer.Job(ctx(c), c.Param("id"))
	s.answer(c, http.StatusOK, out, err)
}

func (s *Server) importRejects(c *gin.Context) {
	if _, err := s.deps.Importer.Job(ctx(c), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="rejects-`+c.Param("id")+`.csv"`)
	c.Status(http.StatusOK)
	if err := s.deps.Importer.WriteRejects(ctx(c), c.Param("id"), c.Writer); err != nil {
		s.log.Warn("writing reject report failed", "request_id", requestID(c), "err", err)
	}
}

// --- policies ---

func (s *Server) listPolicy(c *gin.Context) {
	out, err := s.deps.Policies.Lines(ctx(c))
	answerList(s, c, "rules", out, err)
}

func (s *Server) addPolicyRule(c *gin.Context) {
	var r policies.Line
	if !s.bind(c, &r) {
		return
	}
	v, err := s.deps.Policies.AddLine(ctx(c), adminName(c), r)
	s.answer(c, http.StatusCreated, gin.H{"policy_version": v}, err)
}

func (s *Server) removePolicyRule(c *gin.Context) {
	var r policies.Line
	if !s.bind(c, &r) {
		return
	}
	v, err := s.deps.Policies.RemoveLine(ctx(c), adminName(c), r)
	s.answer(c, http.StatusOK, gin.H{"policy_version": v}, err)
}

func (s *Server) policyHistory(c *gin.Context) {
	out, err := s.deps.Policies.History(ctx(c), 100)
	answerList(s, c, "versions", out, err)
}

// adminExplain answers the console's explain form for any department.
func (s *Server) adminExplain(c *gin.Context) {
	var req explainRequest
	if !s.bind(c, &req) {
		return
	}
	if !model.ValidDepartmentID(req.Department) {
		s.fail(c, routing.Invalid("gateway", "department", "department must be a department id"))
		return
	}
	s.explain(c, req.Department, req)
}

// --- audit ---

func (s *Server) auditAccess(c *gin.Context) {
	s.listAccess(c, func(f *routing.AccessFilter) { f.Requester = c.Query("requester") }, false)
}

func (s *Server) anchoringStatus(c *gin.Context) {
	st := s.deps.Anchorer.Status()
	c.JSON(http.StatusOK, gin.H{
		"lag_seconds": st.Lag.Seconds(), "oldest_unanchored": st.Oldest, "checked_at": st.CheckedAt,
		"leader": st.Leader, "last_batch": st.LastBatch, "last_block": st.LastBlock,
		"last_anchored_at": st.LastAnchoredAt, "batches": st.Batches, "records": st.Records,
		"last_error": st.LastError, "ok": s.deps.Anchorer.Check(ctx(c)) == nil,
	})
}

func (s *Server) listAdmins(c *gin.Context) {
	out, err := s.deps.Admins.List(ctx(c))
	answerList(s, c, "users", out, err)
}

type createAdminRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (s *Server) createAdmin(c *gin.Context) {
	var req createAdminRequest
	if !s.bind(c, &req) {
		return
	}
	err := s.createAdminUser(ctx(c), req.Username, req.Password, req.Role)
	s.answer(c, http.StatusCreated, gin.H{"username": req.Username, "role": req.Role}, err)
}

// createAdminUser creates an administrator with one of the three roles.
func (s *Server) createAdminUser(ctx context.Context, username, password, role string) error {
	switch role {
	case accounts.RoleAdmin, accounts.RoleMappingOfficer, accounts.RoleAuditor:
	default:
		return routing.Invalid("gateway", "role", "role must be admin, mapping-officer or auditor")
	}
	_, err := s.deps.Admins.CreateAdmin(ctx, username, password, role)
	return err
}
