package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// DocumentFinder finds the eID an identity document maps to (the mapping
// service); residents sign in with a document they hold.
type DocumentFinder interface {
	Find(ctx context.Context, doc mapping.Input) (string, error)
}

// SignInConfig is what a SignIn service is built from.
type SignInConfig struct {
	Residents *Residents     // required
	Admins    *Admins        // required
	Sessions  *Sessions      // required
	Documents DocumentFinder // required
	Passkeys  *Passkeys      // required: sign-in with a discoverable passkey
	// NameKey keys the hashes under which failed sign-ins are counted per
	// document; replicas share it so that they count together (nil: a
	// random key, right for one process).
	NameKey []byte
}

// SignIn opens sessions: for residents with a document they hold and their
// password (the first time with the activation code from the KYC counter),
// for administrators with their name and password. The API and the pages
// sign in through it; setting the cookie is theirs.
type SignIn struct {
	residents *Residents
	admins    *Admins
	sessions  *Sessions
	documents DocumentFinder
	passkeys  *Passkeys
	nameKey   []byte
}

// NewSignIn checks cfg and builds the service.
func NewSignIn(cfg SignInConfig) (*SignIn, error) {
	const op = "accounts.NewSignIn"
	switch {
	case cfg.Residents == nil:
		return nil, routing.MissingDependency(op, "the resident account service")
	case cfg.Admins == nil:
		return nil, routing.MissingDependency(op, "the administrator account service")
	case cfg.Sessions == nil:
		return nil, routing.MissingDependency(op, "the session service")
	case cfg.Documents == nil:
		return nil, routing.MissingDependency(op, "a document finder")
	case cfg.Passkeys == nil:
		return nil, routing.MissingDependency(op, "the passkey service")
	}
	key := cfg.NameKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	return &SignIn{residents: cfg.Residents, admins: cfg.Admins, sessions: cfg.Sessions, documents: cfg.Documents,
		passkeys: cfg.Passkeys, nameKey: key}, nil
}

// invalidDocumentCredentials is the one answer for a resident's unknown or
// malformed document, so a caller cannot learn whether a document is known.
func invalidDocumentCredentials(op string) *routing.Error {
	return newErr(routing.KindUnauthenticated, CodeInvalidCredentials, op, "the document, code or password is not correct")
}

// residentEID finds the eID of a resident's own document.
func (s *SignIn) residentEID(ctx context.Context, op string, doc mapping.Input) (string, error) {
	eid, err := s.documents.Find(ctx, doc)
	if routing.IsKind(err, routing.KindNotFound) || routing.IsKind(err, routing.KindInvalid) {
		return "", invalidDocumentCredentials(op)
	}
	return eid, err
}

// Activate sets a resident's first password with the one-time code from
// the KYC counter and opens a session.
func (s *SignIn) Activate(ctx context.Context, doc mapping.Input, code, password string) (string, *Session, error) {
	const op = "accounts.SignIn.Activate"
	eid, err := s.residentEID(ctx, op, doc)
	if err != nil {
		return "", nil, err
	}
	if err := s.residents.Activate(ctx, eid, code, password); err != nil {
		return "", nil, err
	}
	return s.residentSession(ctx, eid)
}

// Resident checks a resident's document and password and opens a session.
// A known and an unknown document cost the same work (a password hash
// each) and get the same answers; failures are counted against the
// document given, known or not, and against the client.
func (s *SignIn) Resident(ctx context.Context, doc mapping.Input, password string) (string, *Session, error) {
	const op = "accounts.SignIn.Resident"
	g, name := s.residents.guard, s.documentName(doc)
	st, err := g.admit(ctx, op, KindDocument, name)
	if err != nil {
		return "", nil, err
	}
	eid, err := s.residentEID(ctx, op, doc)
	if routing.CodeOf(err) == CodeInvalidCredentials {
		if err := s.residents.cfg.Hasher.Burn(ctx, password); err != nil {
			return "", nil, g.busy(ctx, err)
		}
		return "", nil, g.fail(ctx, op, KindDocument, name)
	}
	if err != nil {
		return "", nil, err
	}
	acc, err := s.residents.checkPassword(ctx, op, eid, password)
	if err != nil {
		return "", nil, g.busy(ctx, err)
	}
	if acc == nil {
		return "", nil, g.fail(ctx, op, KindDocument, name)
	}
	if err := g.succeed(ctx, op, KindDocument, name, st); err != nil {
		return "", nil, err
	}
	return s.residentSession(ctx, eid)
}

// documentName is the login-attempt key of a document: a keyed hash of
// its normalised form (or of the input as given, when it does not parse),
// so the attempts table never holds a document number.
func (s *SignIn) documentName(doc mapping.Input) string {
	form := strings.ToUpper(strings.TrimSpace(string(doc.Type)) + "|" + strings.TrimSpace(doc.Number) + "|" + strings.TrimSpace(doc.Country))
	if d, err := mapping.Parse(doc, s.residents.cfg.Clock.Now()); err == nil {
		form = d.RevealNormalized()
	}
	m := hmac.New(sha256.New, s.nameKey)
	m.Write([]byte(form))
	return "d:" + hex.EncodeToString(m.Sum(nil)[:20])
}

// residentSession opens a resident's session in the language they chose
// (none: the pages follow the browser's).
func (s *SignIn) residentSession(ctx context.Context, eid string) (string, *Session, error) {
	lang, _ := s.residents.ChosenLanguage(ctx, eid)
	return s.sessions.NewSession(ctx, Session{Kind: SessionResident, Subject: eid, Lang: lang})
}

// Admin checks an administrator's password and opens a session with the
// account's role.
func (s *SignIn) Admin(ctx context.Context, username, password string) (string, *Session, error) {
	a, err := s.admins.Login(ctx, username, password)
	if err != nil {
		return "", nil, err
	}
	return s.sessions.NewSession(ctx, Session{Kind: SessionAdmin, Subject: a.Username, Role: a.Role})
}

// ActivateAdmin sets a reset administrator's new password with their
// activation code and opens a session.
func (s *SignIn) ActivateAdmin(ctx context.Context, username, code, password string) (string, *Session, error) {
	a, err := s.admins.ActivateAdmin(ctx, username, code, password)
	if err != nil {
		return "", nil, err
	}
	return s.sessions.NewSession(ctx, Session{Kind: SessionAdmin, Subject: a.Username, Role: a.Role})
}
