package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

// Passkey operations of the API: registering, listing and removing an
// account's passkeys (residents under /v1/me, staff under /v1/admin), and
// signing in with a discoverable passkey. Every ceremony is two calls: the
// options for the browser's navigator.credentials call, then its answer.

// Passkeys runs WebAuthn ceremonies and keeps passkeys (*accounts.Passkeys).
type Passkeys interface {
	BeginRegistration(ctx context.Context, kind, subject, display string) (*protocol.CredentialCreation, error)
	FinishRegistration(ctx context.Context, kind, subject string, body []byte, name string) (*accounts.PasskeyInfo, error)
	BeginLogin(ctx context.Context, kind string) (*protocol.CredentialAssertion, error)
	FinishLogin(ctx context.Context, kind string, body []byte) (string, *accounts.PasskeyInfo, error)
	List(ctx context.Context, kind, subject string) ([]accounts.PasskeyInfo, error)
	Remove(ctx context.Context, kind, subject, id string) error
}

// credentialRequest carries what navigator.credentials returned, as its
// toJSON() renders it.
type credentialRequest struct {
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name,omitempty"`
}

func (r credentialRequest) check() error {
	if len(r.Credential) == 0 || string(r.Credential) == "null" {
		return routing.Invalid("gateway", "credential", "credential is required: the object navigator.credentials returned")
	}
	return nil
}

// bindCredential reads a body that must carry a credential.
func (a *api) bindCredential(c *gin.Context) (credentialRequest, bool) {
	var req credentialRequest
	if !a.bind(c, &req) {
		return req, false
	}
	if err := req.check(); err != nil {
		a.fail(c, err)
		return req, false
	}
	return req, true
}

// accountKind is the passkey account kind of a session kind.
func accountKind(sessionKind string) string {
	if sessionKind == accounts.SessionAdmin {
		return accounts.KindAdmin
	}
	return accounts.KindResident
}

// passkeyDisplay is how the authenticator names a resident's account: a
// masked document number, never the eID.
func (a *api) passkeyDisplay(ctx context.Context, sess *accounts.Session) string {
	if sess.Kind == accounts.SessionAdmin {
		return sess.Subject
	}
	if docs, err := a.deps.Identities.Documents(ctx, sess.Subject); err == nil && len(docs) > 0 {
		return docs[0].Masked
	}
	return "eidgate"
}

func (a *api) passkeyOptions(c *gin.Context) {
	sess := currentSession(c)
	out, err := a.deps.Passkeys.BeginRegistration(ctx(c), accountKind(sess.Kind), sess.Subject, a.passkeyDisplay(ctx(c), sess))
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) registerPasskey(c *gin.Context) {
	req, ok := a.bindCredential(c)
	if !ok {
		return
	}
	sess := currentSession(c)
	out, err := a.deps.Passkeys.FinishRegistration(ctx(c), accountKind(sess.Kind), sess.Subject, req.Credential, req.Name)
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) listPasskeys(c *gin.Context) {
	sess := currentSession(c)
	out, err := a.deps.Passkeys.List(ctx(c), accountKind(sess.Kind), sess.Subject)
	answerList(a.Server, c, "passkeys", out, err)
}

func (a *api) removePasskey(c *gin.Context) {
	sess := currentSession(c)
	err := a.deps.Passkeys.Remove(ctx(c), accountKind(sess.Kind), sess.Subject, c.Param("id"))
	a.answer(c, http.StatusOK, gin.H{"removed": true}, err)
}

// passkeyLoginOptions starts a discoverable sign-in at the portal
// (resident) or the console (admin).
func (a *api) passkeyLoginOptions(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		out, err := a.deps.Passkeys.BeginLogin(ctx(c), accountKind(kind))
		a.answer(c, http.StatusOK, out, err)
	}
}

// passkeyLogin finishes a discoverable sign-in and opens a session.
func (a *api) passkeyLogin(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		req, ok := a.bindCredential(c)
		if !ok {
			return
		}
		signIn := a.deps.SignIn.ResidentPasskey
		if kind == accounts.SessionAdmin {
			signIn = a.deps.SignIn.AdminPasskey
		}
		token, sess, err := signIn(ctx(c), req.Credential)
		a.renderSession(c, token, sess, err)
	}
}

// mustRegisterPasskey reports whether an administrator's session may only
// register a passkey: staff must use passkeys, and this session was opened
// with a password (by one who has none yet).
func (s *Server) mustRegisterPasskey(sess *accounts.Session) bool {
	return s.cfg.RequireStaffPasskeys && sess.Kind == accounts.SessionAdmin && sess.AuthMethod != accounts.AuthPasskey
}

// enrolmentPaths are what a session that must register a passkey may use.
var enrolmentPaths = []string{
	"/v1/admin/me", "/v1/admin/logout", "/v1/admin/passkeys", "/v1/admin/passkeys/options", "/v1/admin/passkeys/:id",
	"/admin/security", "/admin/passkeys/remove", "/admin/logout", "/admin/lang",
}

func enrolmentPath(route string) bool { return slices.Contains(enrolmentPaths, route) }

func passkeyRequired() error {
	return &routing.Error{Kind: routing.KindForbidden, Code: accounts.CodePasskeyRequired, Op: "gateway",
		Message: "register a passkey first: staff sign in with passkeys here"}
}
