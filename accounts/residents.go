package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Portal languages.
const (
	LangZhCN    = "zh-CN"
	LangEN      = "en"
	DefaultLang = LangZhCN
)

// ValidLang reports whether lang is a portal language.
func ValidLang(lang string) bool { return lang == LangZhCN || lang == LangEN }

// Resident is a resident's account as the portal sees it.
type Resident struct {
	EID         string
	Lang        string
	ActivatedAt time.Time
}

// Residents manages residents' portal accounts: one-time activation codes
// handed out at the KYC counter, passwords, sign-in and language.
type Residents struct {
	store ResidentStore
	guard guard
	cfg   Config
	// revoker, when set, ends a resident's sessions when the password is
	// set anew (activation with a fresh code, or a change), so a session
	// opened with the old password does not outlive it.
	revoker SessionRevoker
}

// NewResidents checks cfg and builds the resident account service.
func NewResidents(cfg Config) (*Residents, error) {
	cfg, err := cfg.check("accounts.NewResidents")
	if err != nil {
		return nil, err
	}
	return &Residents{store: cfg.Store, guard: guard{attempts: cfg.Store, cfg: cfg}, cfg: cfg, revoker: cfg.Sessions}, nil
}

func (r *Residents) revoke(ctx context.Context, op, eid string) error {
	if r.revoker == nil {
		return nil
	}
	return routing.Wrap(op, r.revoker.RevokeAllFor(ctx, eid))
}

// CreateActivation issues a fresh one-time activation code for eid,
// replacing any earlier code, and returns it as shown to the resident: 16
// Crockford base32 characters in four groups (80 bits), valid for
// ActivationTTL. Only its argon2id hash is stored.
func (r *Residents) CreateActivation(ctx context.Context, eid string) (string, error) {
	code, _, err := r.IssueActivation(ctx, eid)
	return code, err
}

// IssueActivation is CreateActivation that also returns the code's expiry
// (for the slip printed at the counter). A new code is how a resident who
// lost their passkeys gets back in, so the resident's passkeys are revoked
// (and retired on the ledger) and their sessions ended first: whoever
// holds a lost passkey can no longer use it.
func (r *Residents) IssueActivation(ctx context.Context, eid string) (string, time.Time, error) {
	const op = "accounts.CreateActivation"
	if _, ok := loginName(eid); !ok {
		return "", time.Time{}, routing.Invalid(op, "eid", "not an eID")
	}
	if r.cfg.Passkeys != nil {
		if err := r.cfg.Passkeys.RevokeAll(ctx, KindResident, eid, "lost"); err != nil {
			return "", time.Time{}, routing.Wrap(op, err)
		}
	}
	display, canonical, err := newActivationCode()
	if err != nil {
		return "", time.Time{}, routing.Wrap(op, err)
	}
	h, err := r.cfg.Hasher.Hash(ctx, canonical)
	if err != nil {
		return "", time.Time{}, routing.Wrap(op, err)
	}
	now := r.cfg.Clock.Now().UTC()
	exp := now.Add(r.cfg.ActivationTTL)
	if err := r.store.PutActivationCode(ctx, ActivationCode{EID: eid, CodeHash: h, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return "", time.Time{}, routing.Wrap(op, err)
	}
	return display, exp, nil
}

// Activate sets the resident's first password with the activation code.
// The password is optional: without one the resident signs in with the
// passkeys they register in the session this opens. A code works once: a
// second use, even with the same code, fails with activation_used. Too many
// wrong codes burn the code.
func (r *Residents) Activate(ctx context.Context, eid, code, newPassword string) error {
	const op = "accounts.Activate"
	canonical, perr := ParseActivationCode(code)
	if newPassword != "" {
		if why := CheckPassword(newPassword, canonical, code, eid); why != "" {
			return weakPassword(op, why)
		}
	}
	bad := newErr(routing.KindUnauthenticated, CodeActivationInvalid, op, "the activation code is not right")
	if _, ok := loginName(eid); !ok {
		r.cfg.Hasher.Burn(ctx, code)
		return bad
	}
	ac, err := r.store.GetActivationCode(ctx, eid)
	if routing.IsKind(err, routing.KindNotFound) {
		r.cfg.Hasher.Burn(ctx, code)
		return bad
	}
	if err != nil {
		return routing.Wrap(op, err)
	}
	if ac.FailedAttempts >= r.cfg.MaxActivationAttempts {
		return newErr(routing.KindForbidden, CodeActivationAttempts, op,
			"too many wrong activation codes; ask the service counter for a new code")
	}
	ok := false
	if perr == nil {
		ok, _, err = r.cfg.Hasher.Verify(ctx, canonical, ac.CodeHash)
		if err != nil {
			return routing.Wrap(op, err)
		}
	} else {
		r.cfg.Hasher.Burn(ctx, code)
	}
	if !ok {
		if _, err := r.store.RecordActivationFailure(ctx, eid, ac.CodeHash); err != nil {
			return routing.Wrap(op, err)
		}
		return bad
	}
	now := r.cfg.Clock.Now().UTC()
	if !ac.UsedAt.IsZero() {
		return newErr(routing.KindConflict, CodeActivationUsed, op, "this activation code was already used; sign in with your password")
	}
	if !now.Before(ac.ExpiresAt) {
		return newErr(routing.KindUnauthenticated, CodeActivationExpired, op, "the activation code has expired; ask the service counter for a new code")
	}
	pw := ""
	if newPassword != "" {
		if pw, err = r.cfg.Hasher.Hash(ctx, newPassword); err != nil {
			return routing.Wrap(op, err)
		}
	}
	consumed, err := r.store.ConsumeActivationCode(ctx, eid, ac.CodeHash, pw, now)
	if err != nil {
		return routing.Wrap(op, err)
	}
	if !consumed {
		// Another request used (or replaced) the code since it was read.
		return newErr(routing.KindConflict, CodeActivationUsed, op, "this activation code was already used; sign in with your password")
	}
	return r.revoke(ctx, op, eid)
}

// Login checks a resident's password. Unknown eIDs, accounts not yet
// activated and wrong passwords get the same answer after the same work;
// failures in a row make the next try wait (Config.NameDelays).
func (r *Residents) Login(ctx context.Context, eid, password string) (*Resident, error) {
	const op = "accounts.Login"
	name, ok := loginName(eid)
	if !ok {
		if err := r.cfg.Hasher.Burn(ctx, password); err != nil {
			return nil, err
		}
		return nil, invalidCredentials(op)
	}
	st, err := r.guard.admit(ctx, op, KindResident, name)
	if err != nil {
		return nil, err
	}
	acc, err := r.checkPassword(ctx, op, name, password)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return nil, r.guard.fail(ctx, op, KindResident, name)
	}
	if err := r.guard.succeed(ctx, op, KindResident, name, st); err != nil {
		return nil, err
	}
	return acc, nil
}

// checkPassword checks a resident's password with the same work whether
// or not the account exists and is activated; a wrong password is a nil
// account without error.
func (r *Residents) checkPassword(ctx context.Context, op, eid, password string) (*Resident, error) {
	acc, err := r.store.GetResident(ctx, eid)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, routing.Wrap(op, err)
	}
	if acc == nil || acc.PasswordHash == "" {
		return nil, r.cfg.Hasher.Burn(ctx, password)
	}
	match, rehash, err := r.cfg.Hasher.Verify(ctx, password, acc.PasswordHash)
	if err != nil || !match {
		return nil, hashError(op, err)
	}
	if rehash {
		r.upgradeHash(ctx, eid, password)
	}
	return &Resident{EID: acc.EID, Lang: langOrDefault(acc.Lang), ActivatedAt: acc.ActivatedAt}, nil
}

// upgradeHash stores a hash under the current parameters after a
// successful sign-in with an older one; failing only keeps the old hash.
func (r *Residents) upgradeHash(ctx context.Context, eid, password string) {
	h, err := r.cfg.Hasher.Hash(ctx, password)
	if err == nil {
		err = r.store.SetResidentPassword(ctx, eid, h, r.cfg.Clock.Now().UTC())
	}
	if err != nil {
		r.cfg.Logger.Warn("password hash upgrade failed", "err", err)
	}
}

// ChangePassword replaces a resident's password after checking the
// current one (a failure counts towards the lockout) and ends the
// resident's sessions; the caller starts a new one.
func (r *Residents) ChangePassword(ctx context.Context, eid, current, newPassword string) error {
	const op = "accounts.ChangePassword"
	if why := CheckPassword(newPassword, eid); why != "" {
		return weakPassword(op, why)
	}
	if _, err := r.Login(ctx, eid, current); err != nil {
		return err
	}
	h, err := r.cfg.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return routing.Wrap(op, err)
	}
	if err := r.store.SetResidentPassword(ctx, eid, h, r.cfg.Clock.Now().UTC()); err != nil {
		return routing.Wrap(op, err)
	}
	return r.revoke(ctx, op, eid)
}

// Language is the resident's portal language (DefaultLang when never set).
func (r *Residents) Language(ctx context.Context, eid string) (string, error) {
	l, err := r.chosen(ctx, "accounts.Language", eid)
	if err != nil {
		return "", err
	}
	return langOrDefault(l), nil
}

// ChosenLanguage is the language the resident chose, "" when they never
// chose one: pages then follow the browser's language instead.
func (r *Residents) ChosenLanguage(ctx context.Context, eid string) (string, error) {
	l, err := r.chosen(ctx, "accounts.ChosenLanguage", eid)
	if err != nil || !ValidLang(l) {
		return "", err
	}
	return l, nil
}

func (r *Residents) chosen(ctx context.Context, op, eid string) (string, error) {
	acc, err := r.store.GetResident(ctx, eid)
	if routing.IsKind(err, routing.KindNotFound) {
		return "", newErr(routing.KindNotFound, CodeResidentNotFound, op, "no account for this resident")
	}
	if err != nil {
		return "", routing.Wrap(op, err)
	}
	return acc.Lang, nil
}

// TimeZone is the time zone the resident chose for the portal's times,
// nil when they chose none (the portal's default applies).
func (r *Residents) TimeZone(ctx context.Context, eid string) (*time.Location, error) {
	acc, err := r.store.GetResident(ctx, eid)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, newErr(routing.KindNotFound, CodeResidentNotFound, "accounts.TimeZone", "no account for this resident")
	}
	if err != nil || acc.TimeZone == "" {
		return nil, routing.Wrap("accounts.TimeZone", err)
	}
	z, err := time.LoadLocation(acc.TimeZone)
	if err != nil {
		// A zone this build no longer knows falls back to the default.
		return nil, nil
	}
	return z, nil
}

// SetTimeZone stores the resident's time zone, an IANA name such as
// Asia/Shanghai; "" returns to the default of their language.
func (r *Residents) SetTimeZone(ctx context.Context, eid, zone string) error {
	const op = "accounts.SetTimeZone"
	if zone != "" && !ValidTimeZone(zone) {
		e := newErr(routing.KindInvalid, CodeInvalidTimeZone, op, "the time zone must be an IANA name such as Asia/Shanghai")
		e.Field = "time_zone"
		return e
	}
	err := r.store.SetResidentTimeZone(ctx, eid, zone, r.cfg.Clock.Now().UTC())
	if routing.IsKind(err, routing.KindNotFound) {
		return newErr(routing.KindNotFound, CodeResidentNotFound, op, "no account for this resident")
	}
	return routing.Wrap(op, err)
}

// ValidTimeZone reports whether zone is an IANA zone name this build
// knows (not "Local", not a file path).
func ValidTimeZone(zone string) bool {
	if zone == "" || zone == "Local" || len(zone) > 64 || strings.ContainsAny(zone, "\\ ") || strings.Contains(zone, "..") || strings.HasPrefix(zone, "/") {
		return false
	}
	_, err := time.LoadLocation(zone)
	return err == nil
}

// SetLanguage stores the resident's portal language (zh-CN or en).
func (r *Residents) SetLanguage(ctx context.Context, eid, lang string) error {
	const op = "accounts.SetLanguage"
	if !ValidLang(lang) {
		e := newErr(routing.KindInvalid, CodeInvalidLang, op, "the language must be zh-CN or en")
		e.Field = "lang"
		return e
	}
	err := r.store.SetResidentLang(ctx, eid, lang, r.cfg.Clock.Now().UTC())
	if routing.IsKind(err, routing.KindNotFound) {
		return newErr(routing.KindNotFound, CodeResidentNotFound, op, "no account for this resident")
	}
	return routing.Wrap(op, err)
}

func langOrDefault(l string) string {
	if ValidLang(l) {
		return l
	}
	return DefaultLang
}
