package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Session kinds.
const (
	SessionResident = "resident"
	SessionAdmin    = "admin"
)

// How a session was opened.
const (
	AuthPassword = "password"
	AuthPasskey  = "passkey"
)

// Session is a signed-in resident or administrator.
type Session struct {
	Kind    string // SessionResident or SessionAdmin
	Subject string // eID or user name
	Role    string // administrator role; empty for residents
	Lang    string
	// AuthMethod is how the session was opened: AuthPassword or
	// AuthPasskey ("" counts as a password).
	AuthMethod string

	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time // absolute expiry
	IdleExpiresAt time.Time // when it ends without use
	CSRFToken     string    // to echo in a header or form field on every change
}

// Sessions issues and checks session tokens. A token is 256 random bits
// (the cookie value); only its SHA-256 is stored, so a database leak yields
// no usable session. The CSRF token is derived from the session token, so
// it needs no storage and changes with every session.
type Sessions struct {
	store SessionStore
	cfg   Config
}

// NewSessions checks cfg and builds the session service.
func NewSessions(cfg Config) (*Sessions, error) {
	cfg, err := cfg.check("accounts.NewSessions")
	if err != nil {
		return nil, err
	}
	return &Sessions{store: cfg.Store, cfg: cfg}, nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func csrfOf(token string) string {
	sum := sha256.Sum256([]byte("eidgate-csrf-v1\x00" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewSession starts a session for in (Kind, Subject, Role, Lang) and
// returns its token and the session with its CSRF token and expiries.
func (s *Sessions) NewSession(ctx context.Context, in Session) (string, *Session, error) {
	const op = "accounts.NewSession"
	bad := func(msg string) (string, *Session, error) {
		return "", nil, newErr(routing.KindInvalid, CodeInvalidSessionRequest, op, msg)
	}
	switch in.Kind {
	case SessionResident:
		if in.Role != "" {
			return bad("a resident session has no role")
		}
	case SessionAdmin:
		if !ValidRole(in.Role) {
			return bad("an administrator session needs a role")
		}
	default:
		return bad("unknown session kind")
	}
	if _, ok := loginName(in.Subject); !ok {
		return bad("a session needs a subject")
	}
	if in.Lang != "" && !ValidLang(in.Lang) {
		return bad("unknown language")
	}
	switch in.AuthMethod {
	case "":
		in.AuthMethod = AuthPassword
	case AuthPassword, AuthPasskey:
	default:
		return bad("unknown sign-in method")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, routing.Wrap(op, err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.cfg.Clock.Now().UTC()
	rec := SessionRecord{
		TokenHash: tokenHash(token), Kind: in.Kind, Subject: in.Subject, Role: in.Role, Lang: in.Lang,
		AuthMethod: in.AuthMethod, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
	}
	if err := s.store.CreateSession(ctx, rec); err != nil {
		return "", nil, routing.Wrap(op, err)
	}
	return token, s.sessionOf(rec, token), nil
}

func (s *Sessions) sessionOf(r SessionRecord, token string) *Session {
	idle := r.LastSeenAt.Add(s.cfg.SessionIdle)
	if idle.After(r.ExpiresAt) {
		idle = r.ExpiresAt
	}
	return &Session{
		Kind: r.Kind, Subject: r.Subject, Role: r.Role, Lang: r.Lang, AuthMethod: r.AuthMethod,
		CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt, IdleExpiresAt: idle,
		CSRFToken: csrfOf(token),
	}
}

// Lookup returns the live session of token. An unknown token is
// session_invalid; one past its absolute or idle expiry is session_expired
// (and deleted). Use extends the idle expiry; the last-seen time is written
// at most once per TouchEvery.
func (s *Sessions) Lookup(ctx context.Context, token string) (*Session, error) {
	const op = "accounts.Lookup"
	invalid := newErr(routing.KindUnauthenticated, CodeSessionInvalid, op, "not signed in")
	if token == "" || len(token) > 128 {
		return nil, invalid
	}
	h := tokenHash(token)
	rec, err := s.store.GetSession(ctx, h)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	now := s.cfg.Clock.Now().UTC()
	if !now.Before(rec.ExpiresAt) || !now.Before(rec.LastSeenAt.Add(s.cfg.SessionIdle)) {
		if err := s.store.DeleteSession(ctx, h); err != nil && !routing.IsKind(err, routing.KindNotFound) {
			s.cfg.Logger.Debug("expired session not deleted", "err", err)
		}
		return nil, newErr(routing.KindUnauthenticated, CodeSessionExpired, op, "the session has expired; sign in again")
	}
	if now.Sub(rec.LastSeenAt) >= s.cfg.TouchEvery {
		if err := s.store.TouchSession(ctx, h, now); err != nil {
			return nil, routing.Wrap(op, err)
		}
		rec.LastSeenAt = now
	}
	return s.sessionOf(*rec, token), nil
}

// CheckCSRF reports whether got is the session's CSRF token (constant
// time).
func (s *Session) CheckCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRFToken)) == 1
}

// Revoke ends the session of token (signing out); an unknown token is not
// an error.
func (s *Sessions) Revoke(ctx context.Context, token string) error {
	err := s.store.DeleteSession(ctx, tokenHash(token))
	if routing.IsKind(err, routing.KindNotFound) {
		return nil
	}
	return routing.Wrap("accounts.Revoke", err)
}

// RevokeAllFor ends every session of subject (an eID or a user name).
func (s *Sessions) RevokeAllFor(ctx context.Context, subject string) error {
	_, err := s.store.DeleteSessionsFor(ctx, subject)
	return routing.Wrap("accounts.RevokeAllFor", err)
}

// Purge deletes sessions past their absolute or idle expiry; run it now
// and then.
func (s *Sessions) Purge(ctx context.Context) (int64, error) {
	n, err := s.store.DeleteExpiredSessions(ctx, s.cfg.Clock.Now().UTC(), s.cfg.SessionIdle)
	return n, routing.Wrap("accounts.Purge", err)
}
