package audit

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

// The audited services wrap a domain service and record each of its
// administrative acts; every other method is the domain service's own.

// Identities is the mapping service with its eID lifecycle, documents and
// activation codes audited.
type Identities struct {
	*mapping.Service
	trail *Trail
}

// NewIdentities wraps the mapping service.
func NewIdentities(s *mapping.Service, t *Trail) *Identities {
	return &Identities{Service: s, trail: t}
}

type eidState struct {
	EID       string                   `json:"eid,omitempty"`
	Status    string                   `json:"status,omitempty"`
	MergedInt string                   `json:"merged_into,omitempty"`
	Documents []mapping.MaskedDocument `json:"documents,omitempty"`
	Document  *mapping.MaskedDocument  `json:"document,omitempty"`
}

// Create creates an eID from documents; the record, begun before the eID
// exists, is completed naming it, and shows the documents masked.
func (s *Identities) Create(ctx context.Context, docs []mapping.Input, officer string) (*mapping.CreatedIdentity, error) {
	rec, err := s.trail.Begin(ctx, Entry{Act: ActEIDCreate})
	if err != nil {
		return nil, err
	}
	c, err := s.Service.Create(ctx, docs, officer)
	var after any
	if err == nil {
		rec.EID, rec.Target = c.EID, c.EID
		after = eidState{EID: c.EID, Documents: c.Documents}
	}
	s.trail.Finish(ctx, rec, after, err)
	return c, err
}

// AddDocument maps one more document to an eID.
func (s *Identities) AddDocument(ctx context.Context, eid string, doc mapping.Input, officer string) (*mapping.MaskedDocument, error) {
	return Do(ctx, s.trail, Entry{Act: ActDocumentAdd, Target: eid, EID: eid},
		func(ctx context.Context) (*mapping.MaskedDocument, error) {
			return s.Service.AddDocument(ctx, eid, doc, officer)
		},
		func(d *mapping.MaskedDocument) any { return eidState{Document: d} })
}

// RemoveDocument unmaps a document from an eID.
func (s *Identities) RemoveDocument(ctx context.Context, eid, ref, officer string) error {
	before := s.document(ctx, eid, ref)
	_, err := Do(ctx, s.trail, Entry{Act: ActDocumentRemove, Target: eid, EID: eid, Before: before},
		func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.Service.RemoveDocument(ctx, eid, ref, officer)
		}, nil)
	return err
}

// document is the masked document ref names, for the record's before
// state (nil when it cannot be read).
func (s *Identities) document(ctx context.Context, eid, ref string) any {
	docs, err := s.Service.Documents(ctx, eid)
	if err != nil {
		return nil
	}
	for i := range docs {
		if docs[i].Ref == ref {
			return eidState{Document: &docs[i]}
		}
	}
	return nil
}

type mergeParams struct {
	From, Into, Reason, Officer string
}

type deactivateParams struct {
	EID, Reason, Officer string
}

// Merge merges eID from into eID into (a proposal when four eyes hold
// merges).
func (s *Identities) Merge(ctx context.Context, from, into, reason, officer string) error {
	if s.trail.held(ctx, FourEyesMerge) {
		return s.trail.propose(ctx, Entry{Act: ActEIDMerge, Target: into, EID: from, Reason: reason},
			mergeParams{From: from, Into: into, Reason: reason, Officer: officer})
	}
	_, err := Do(ctx, s.trail, Entry{Act: ActEIDMerge, Target: into, EID: from, Reason: reason, Before: s.state(ctx, from)},
		func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.Service.Merge(ctx, from, into, reason, officer)
		}, func(struct{}) any { return s.state(ctx, from) })
	return err
}

// Deactivate deactivates an eID (a proposal when four eyes hold
// deactivations).
func (s *Identities) Deactivate(ctx context.Context, eid, reason, officer string) error {
	if s.trail.held(ctx, FourEyesDeactivate) {
		return s.trail.propose(ctx, Entry{Act: ActEIDDeactivate, Target: eid, EID: eid, Reason: reason},
			deactivateParams{EID: eid, Reason: reason, Officer: officer})
	}
	_, err := Do(ctx, s.trail, Entry{Act: ActEIDDeactivate, Target: eid, EID: eid, Reason: reason, Before: s.state(ctx, eid)},
		func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.Service.Deactivate(ctx, eid, reason, officer)
		},
		func(struct{}) any { return s.state(ctx, eid) })
	return err
}

// NewActivationCode issues a resident a new activation code (never in the
// record).
func (s *Identities) NewActivationCode(ctx context.Context, eid, officer string) (string, error) {
	return Do(ctx, s.trail, Entry{Act: ActActivationCode, Target: eid, EID: eid},
		func(ctx context.Context) (string, error) { return s.Service.NewActivationCode(ctx, eid, officer) }, nil)
}

// state is an eID's status as the ledger has it (nil when unreadable).
func (s *Identities) state(ctx context.Context, eid string) any {
	d, err := s.Service.Identity(ctx, eid)
	if err != nil || d.Identity == nil {
		return nil
	}
	return eidState{Status: d.Identity.Status, MergedInt: d.Identity.MergedInto}
}

// checkEID settles an unfinished merge or deactivation from the eID's
// state on the ledger.
func (s *Identities) checkEID(ctx context.Context, r *Record) (string, any, error) {
	d, err := s.Service.Identity(ctx, r.EID)
	if err != nil {
		return "", nil, err
	}
	st := eidState{Status: d.Identity.Status, MergedInt: d.Identity.MergedInto}
	switch {
	case r.Act == ActEIDMerge && d.Identity.MergedInto == r.Target:
		return StatusDone, st, nil
	case r.Act == ActEIDDeactivate && d.Identity.Status == model.EIDDeactivated:
		return StatusDone, st, nil
	}
	return StatusFailed, st, nil
}

// Importer is the bulk importer with the start of each import audited.
type Importer struct {
	*mapping.Importer
	trail *Trail
}

// NewImporter wraps the importer.
func NewImporter(im *mapping.Importer, t *Trail) *Importer { return &Importer{Importer: im, trail: t} }

// Start starts an import; the record names the job and the file.
func (s *Importer) Start(ctx context.Context, fileName string, body io.Reader, officer string) (*mapping.ImportJob, error) {
	return Do(ctx, s.trail, Entry{Act: ActImport, Target: fileName},
		func(ctx context.Context) (*mapping.ImportJob, error) {
			return s.Importer.Start(ctx, fileName, body, officer)
		},
		func(j *mapping.ImportJob) any {
			return map[string]any{"job": j.ID, "file": j.FileName, "status": j.Status}
		})
}

// Registry is the register of departments and data types with its changes
// audited.
type Registry struct {
	*routing.Registry
	trail *Trail
}

// NewRegistry wraps the registry.
func NewRegistry(r *routing.Registry, t *Trail) *Registry { return &Registry{Registry: r, trail: t} }

func (s *Registry) department(ctx context.Context, id string) any {
	d, err := s.Registry.Department(ctx, id)
	if err != nil {
		return nil
	}
	return d
}

func (s *Registry) dataType(ctx context.Context, code string) any {
	d, err := s.Registry.DataType(ctx, code)
	if err != nil {
		return nil
	}
	return d
}

func anyOf[T any](v T) any { return v }

// RegisterDepartment registers a department.
func (s *Registry) RegisterDepartment(ctx context.Context, d model.Department) (*model.Department, error) {
	return Do(ctx, s.trail, Entry{Act: ActDepartmentCreate, Target: d.ID},
		func(ctx context.Context) (*model.Department, error) { return s.Registry.RegisterDepartment(ctx, d) }, anyOf)
}

// UpdateDepartment changes a department.
func (s *Registry) UpdateDepartment(ctx context.Context, d model.Department) (*model.Department, error) {
	return Do(ctx, s.trail, Entry{Act: ActDepartmentUpdate, Target: d.ID, Before: s.department(ctx, d.ID)},
		func(ctx context.Context) (*model.Department, error) { return s.Registry.UpdateDepartment(ctx, d) }, anyOf)
}

type statusParams struct {
	ID, Status, Reason string
}

// SetDepartmentStatus suspends or reactivates a department (a suspension
// is a proposal when four eyes hold suspensions).
func (s *Registry) SetDepartmentStatus(ctx context.Context, id, status, reason string) (*model.Department, error) {
	if status == model.DepartmentSuspended && s.trail.held(ctx, FourEyesSuspend) {
		return nil, s.trail.propose(ctx, Entry{Act: ActDepartmentStatus, Target: id, Reason: reason},
			statusParams{ID: id, Status: status, Reason: reason})
	}
	return Do(ctx, s.trail, Entry{Act: ActDepartmentStatus, Target: id, Reason: reason, Before: s.department(ctx, id)},
		func(ctx context.Context) (*model.Department, error) {
			return s.Registry.SetDepartmentStatus(ctx, id, status, reason)
		},
		anyOf)
}

// RevokeSigningKey revokes a department's signing key.
func (s *Registry) RevokeSigningKey(ctx context.Context, dept, kid, reason string) (*model.Department, error) {
	return Do(ctx, s.trail, Entry{Act: ActSigningKeyRevoke, Target: dept + "#" + kid, Reason: reason, Before: s.department(ctx, dept)},
		func(ctx context.Context) (*model.Department, error) {
			return s.Registry.RevokeSigningKey(ctx, dept, kid, reason)
		},
		anyOf)
}

// RegisterDataType registers a data type.
func (s *Registry) RegisterDataType(ctx context.Context, dt model.DataType) (*model.DataType, error) {
	return Do(ctx, s.trail, Entry{Act: ActDataTypeCreate, Target: dt.Code},
		func(ctx context.Context) (*model.DataType, error) { return s.Registry.RegisterDataType(ctx, dt) }, anyOf)
}

// UpdateDataType changes a data type.
func (s *Registry) UpdateDataType(ctx context.Context, dt model.DataType) (*model.DataType, error) {
	return Do(ctx, s.trail, Entry{Act: ActDataTypeUpdate, Target: dt.Code, Before: s.dataType(ctx, dt.Code)},
		func(ctx context.Context) (*model.DataType, error) { return s.Registry.UpdateDataType(ctx, dt) }, anyOf)
}

// checkDepartment settles an unfinished department status change from the
// department's status on the ledger.
func (s *Registry) checkDepartment(ctx context.Context, r *Record) (string, any, error) {
	d, err := s.Registry.Department(ctx, r.Target)
	if err != nil {
		return "", nil, err
	}
	var before model.Department
	if jsonInto(r.Before, &before) && before.Status == d.Status {
		return StatusFailed, d, nil
	}
	return StatusDone, d, nil
}

// APIKeys is the API key service with issuing and revoking audited.
type APIKeys struct {
	*accounts.APIKeys
	trail *Trail
}

// NewAPIKeys wraps the API key service.
func NewAPIKeys(k *accounts.APIKeys, t *Trail) *APIKeys { return &APIKeys{APIKeys: k, trail: t} }

type issued struct {
	token string
	key   accounts.APIKey
}

// IssueAPIKey issues a key; the record shows the key, never its token.
func (s *APIKeys) IssueAPIKey(ctx context.Context, department, name string) (string, accounts.APIKey, error) {
	out, err := Do(ctx, s.trail, Entry{Act: ActAPIKeyIssue, Target: department},
		func(ctx context.Context) (issued, error) {
			token, key, err := s.APIKeys.IssueAPIKey(ctx, department, name)
			return issued{token, key}, err
		}, func(i issued) any { return i.key })
	return out.token, out.key, err
}

// RevokeAPIKey revokes a key.
func (s *APIKeys) RevokeAPIKey(ctx context.Context, id string) error {
	var before any
	if k, err := s.APIKeys.GetAPIKey(ctx, id); err == nil {
		before = k
	}
	_, err := Do(ctx, s.trail, Entry{Act: ActAPIKeyRevoke, Target: id, Before: before},
		func(ctx context.Context) (struct{}, error) { return struct{}{}, s.APIKeys.RevokeAPIKey(ctx, id) }, nil)
	return err
}

// checkAPIKey settles an unfinished revocation from the key's state.
func (s *APIKeys) checkAPIKey(ctx context.Context, r *Record) (string, any, error) {
	k, err := s.APIKeys.GetAPIKey(ctx, r.Target)
	if err != nil {
		return "", nil, err
	}
	if k.Revoked() {
		return StatusDone, k, nil
	}
	return StatusFailed, k, nil
}

// Policies is the policy engine with its changes audited.
type Policies struct {
	*policies.Engine
	trail *Trail
}

// NewPolicies wraps the policy engine.
func NewPolicies(e *policies.Engine, t *Trail) *Policies { return &Policies{Engine: e, trail: t} }

type policyChange struct {
	Line    policies.Line `json:"line"`
	Version int64         `json:"version"`
}

func lineTarget(l policies.Line) string {
	if l.Kind == policies.LineRole {
		return "g, " + l.Subject + ", " + l.Role
	}
	return "p, " + l.Subject + ", " + l.Object + ", " + l.Action + ", " + l.Effect
}

type lineParams struct {
	By   string
	Line policies.Line
}

// AddLine adds a rule or role membership (a proposal when four eyes hold
// policy changes).
func (s *Policies) AddLine(ctx context.Context, by string, l policies.Line) (int64, error) {
	if s.trail.held(ctx, FourEyesPolicy) {
		return 0, s.trail.propose(ctx, Entry{Act: ActPolicyAdd, Target: lineTarget(l)}, lineParams{By: by, Line: l})
	}
	return Do(ctx, s.trail, Entry{Act: ActPolicyAdd, Target: lineTarget(l)},
		func(ctx context.Context) (int64, error) { return s.Engine.AddLine(ctx, by, l) },
		func(v int64) any { return policyChange{Line: l, Version: v} })
}

// RemoveLine removes a rule or role membership (a proposal when four eyes
// hold policy changes).
func (s *Policies) RemoveLine(ctx context.Context, by string, l policies.Line) (int64, error) {
	if s.trail.held(ctx, FourEyesPolicy) {
		return 0, s.trail.propose(ctx, Entry{Act: ActPolicyRemove, Target: lineTarget(l), Before: l}, lineParams{By: by, Line: l})
	}
	return Do(ctx, s.trail, Entry{Act: ActPolicyRemove, Target: lineTarget(l), Before: l},
		func(ctx context.Context) (int64, error) { return s.Engine.RemoveLine(ctx, by, l) },
		func(v int64) any { return map[string]int64{"version": v} })
}

type grantParams struct {
	By    string
	Grant policies.Grant
}

type grantChange struct {
	Grant   policies.Grant `json:"grant"`
	Version int64          `json:"version"`
}

func grantTarget(g policies.Grant) string {
	return "break-glass, " + g.Subject + ", " + g.DataType + ", " + g.Purpose
}

// SetBreakGlass adds a break-glass grant or changes its seal (a proposal
// when four eyes hold policy changes).
func (s *Policies) SetBreakGlass(ctx context.Context, by string, g policies.Grant) (int64, error) {
	e := Entry{Act: ActBreakGlassSet, Target: grantTarget(g), Before: s.grant(ctx, g)}
	if s.trail.held(ctx, FourEyesPolicy) {
		return 0, s.trail.propose(ctx, e, grantParams{By: by, Grant: g})
	}
	return Do(ctx, s.trail, e, func(ctx context.Context) (int64, error) { return s.Engine.SetBreakGlass(ctx, by, g) },
		func(v int64) any { return grantChange{Grant: g, Version: v} })
}

// RemoveBreakGlass removes a break-glass grant (a proposal when four eyes
// hold policy changes).
func (s *Policies) RemoveBreakGlass(ctx context.Context, by string, g policies.Grant) (int64, error) {
	e := Entry{Act: ActBreakGlassRemove, Target: grantTarget(g), Before: s.grant(ctx, g)}
	if s.trail.held(ctx, FourEyesPolicy) {
		return 0, s.trail.propose(ctx, e, grantParams{By: by, Grant: g})
	}
	return Do(ctx, s.trail, e, func(ctx context.Context) (int64, error) { return s.Engine.RemoveBreakGlass(ctx, by, g) },
		func(v int64) any { return map[string]int64{"version": v} })
}

// grant is the current grant for g's subject, data type and purpose (the
// state before a change), nil when there is none.
func (s *Policies) grant(ctx context.Context, g policies.Grant) any {
	grants, err := s.Engine.BreakGlassGrants(ctx)
	if err != nil {
		return nil
	}
	for _, c := range grants {
		if c.Subject == g.Subject && c.DataType == g.DataType && c.Purpose == g.Purpose {
			return c
		}
	}
	return nil
}

// Access is the access records service with auditors' reviews of
// break-glass accesses audited.
type Access struct {
	*routing.AccessRecords
	trail *Trail
}

// NewAccess wraps the access records service.
func NewAccess(a *routing.AccessRecords, t *Trail) *Access {
	return &Access{AccessRecords: a, trail: t}
}

type reviewState struct {
	ReviewedBy string    `json:"reviewed_by"`
	ReviewedAt time.Time `json:"reviewed_at"`
}

// Review records the acting auditor's review of a break-glass access with
// a note. The audit record names the access, never the resident, so the
// review does not show in the resident's portal while the access is
// sealed.
func (s *Access) Review(ctx context.Context, id, note string) (*routing.AccessRecord, error) {
	const op = "audit.Access.Review"
	a, err := actor(ctx, op)
	if err != nil {
		return nil, err
	}
	return Do(ctx, s.trail, Entry{Act: ActBreakGlassReview, Target: id, Reason: note},
		func(ctx context.Context) (*routing.AccessRecord, error) {
			return s.AccessRecords.Review(ctx, id, a.Official, note)
		},
		func(r *routing.AccessRecord) any {
			return reviewState{ReviewedBy: r.ReviewedBy, ReviewedAt: r.ReviewedAt}
		})
}

// Admins is the administrator account service with its changes audited.
type Admins struct {
	*accounts.Admins
	trail *Trail
}

// NewAdmins wraps the administrator account service.
func NewAdmins(a *accounts.Admins, t *Trail) *Admins { return &Admins{Admins: a, trail: t} }

// CreateAdmin adds an administrator (the password is never recorded).
func (s *Admins) CreateAdmin(ctx context.Context, username, password, role string) (*accounts.Admin, error) {
	return Do(ctx, s.trail, Entry{Act: ActStaffCreate, Target: username},
		func(ctx context.Context) (*accounts.Admin, error) {
			return s.Admins.CreateAdmin(ctx, username, password, role)
		},
		anyOf)
}

// RegisterCheckers lets Recover settle unfinished acts of these services
// from their effects, and approved proposals execute through them.
func RegisterCheckers(t *Trail, ids *Identities, reg *Registry, keys *APIKeys, pol *Policies) {
	t.OnRecover(ActEIDMerge, ids.checkEID)
	t.OnRecover(ActEIDDeactivate, ids.checkEID)
	t.OnRecover(ActDepartmentStatus, reg.checkDepartment)
	t.OnRecover(ActAPIKeyRevoke, keys.checkAPIKey)
	t.OnExecute(ActEIDMerge, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p mergeParams
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return nil, ids.Merge(ctx, p.From, p.Into, p.Reason, p.Officer)
	})
	t.OnExecute(ActEIDDeactivate, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p deactivateParams
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return nil, ids.Deactivate(ctx, p.EID, p.Reason, p.Officer)
	})
	t.OnExecute(ActDepartmentStatus, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p statusParams
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return reg.SetDepartmentStatus(ctx, p.ID, p.Status, p.Reason)
	})
	for act, run := range map[string]func(context.Context, string, policies.Line) (int64, error){
		ActPolicyAdd: pol.AddLine, ActPolicyRemove: pol.RemoveLine,
	} {
		t.OnExecute(act, func(ctx context.Context, raw json.RawMessage) (any, error) {
			var p lineParams
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, err
			}
			return run(ctx, p.By, p.Line)
		})
	}
	for act, run := range map[string]func(context.Context, string, policies.Grant) (int64, error){
		ActBreakGlassSet: pol.SetBreakGlass, ActBreakGlassRemove: pol.RemoveBreakGlass,
	} {
		t.OnExecute(act, func(ctx context.Context, raw json.RawMessage) (any, error) {
			var p grantParams
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, err
			}
			return run(ctx, p.By, p.Grant)
		})
	}
}

type staffState struct {
	Role     string `json:"role,omitempty"`
	Disabled *bool  `json:"disabled,omitempty"`
	Expires  string `json:"activation_expires_at,omitempty"`
}

func (s *Admins) state(ctx context.Context, username string) any {
	a, err := s.Admins.Get(ctx, username)
	if err != nil {
		return nil
	}
	return staffState{Role: a.Role, Disabled: &a.Disabled}
}

// Disable disables an administrator and ends their sessions.
func (s *Admins) Disable(ctx context.Context, username string) error {
	_, err := Do(ctx, s.trail, Entry{Act: ActStaffDisable, Target: username, Before: s.state(ctx, username)},
		func(ctx context.Context) (struct{}, error) { return struct{}{}, s.Admins.Disable(ctx, username) },
		func(struct{}) any { return s.state(ctx, username) })
	return err
}

// Enable re-enables an administrator.
func (s *Admins) Enable(ctx context.Context, username string) error {
	_, err := Do(ctx, s.trail, Entry{Act: ActStaffEnable, Target: username, Before: s.state(ctx, username)},
		func(ctx context.Context) (struct{}, error) { return struct{}{}, s.Admins.Enable(ctx, username) },
		func(struct{}) any { return s.state(ctx, username) })
	return err
}

// SetRole changes an administrator's role and ends their sessions.
func (s *Admins) SetRole(ctx context.Context, username, role string) error {
	_, err := Do(ctx, s.trail, Entry{Act: ActStaffRole, Target: username, Before: s.state(ctx, username)},
		func(ctx context.Context) (struct{}, error) { return struct{}{}, s.Admins.SetRole(ctx, username, role) },
		func(struct{}) any { return s.state(ctx, username) })
	return err
}

type resetCode struct {
	code    string
	expires time.Time
}

// Reset issues an administrator a new activation code (never recorded).
func (s *Admins) Reset(ctx context.Context, username string) (string, time.Time, error) {
	out, err := Do(ctx, s.trail, Entry{Act: ActStaffReset, Target: username},
		func(ctx context.Context) (resetCode, error) {
			code, exp, err := s.Admins.Reset(ctx, username)
			return resetCode{code, exp}, err
		}, func(r resetCode) any { return staffState{Expires: r.expires.UTC().Format(time.RFC3339)} })
	return out.code, out.expires, err
}
