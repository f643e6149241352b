package accounts

import (
	"strconv"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Stable error codes.
const (
	CodeInvalidCredentials    = "invalid_credentials"
	CodeTooManyAttempts       = "too_many_attempts"
	CodeSignInBusy            = "sign_in_busy"
	CodeAccountDisabled       = "account_disabled"
	CodeActivationInvalid     = "activation_code_invalid"
	CodeActivationExpired     = "activation_code_expired"
	CodeActivationUsed        = "activation_used"
	CodeActivationAttempts    = "activation_attempts_exceeded"
	CodeWeakPassword          = "weak_password"
	CodeAPIKeyRevoked         = "api_key_revoked"
	CodeSessionInvalid        = "session_invalid"
	CodeSessionExpired        = "session_expired"
	CodeAdminExists           = "admin_exists"
	CodeAdminNotFound         = "admin_not_found"
	CodeAPIKeyNotFound        = "api_key_not_found"
	CodeResidentNotFound      = "resident_not_found"
	CodeInvalidRole           = "invalid_role"
	CodeInvalidUsername       = "invalid_username"
	CodeInvalidLang           = "invalid_lang"
	CodeInvalidTimeZone       = "invalid_time_zone"
	CodeInvalidName           = "invalid_name"
	CodeInvalidSessionRequest = "invalid_session"

	// Passkeys (WebAuthn).
	CodePasskeyMalformed   = "passkey_malformed"          // the body is not a WebAuthn credential or assertion
	CodeChallengeUnknown   = "passkey_challenge_unknown"  // no ceremony has this challenge
	CodeChallengeUsed      = "passkey_challenge_used"     // the ceremony was answered already (a replay)
	CodeChallengeExpired   = "passkey_challenge_expired"  // the ceremony ran out of time
	CodeCeremonyMismatch   = "passkey_ceremony_mismatch"  // the challenge is for another act or account
	CodeOriginMismatch     = "passkey_origin_mismatch"    // the browser answered for another origin
	CodeRPIDMismatch       = "passkey_rp_id_mismatch"     // the authenticator answered for another RP ID
	CodeUserNotVerified    = "passkey_user_not_verified"  // no PIN or biometric check
	CodeUnknownCredential  = "passkey_unknown_credential" // not registered here, or revoked
	CodeWrongUser          = "passkey_wrong_user"         // another account's passkey
	CodeAssertionInvalid   = "passkey_assertion_invalid"  // the signature or data do not verify
	CodeCounterRegressed   = "passkey_counter_regressed"  // the signature counter did not move forward
	CodePasskeyInvalid     = "passkey_registration_invalid"
	CodePasskeyUnsupported = "passkey_unsupported"
	CodePasskeyExists      = "passkey_exists"
	CodePasskeyLimit       = "passkey_limit"
	CodePasskeyNotFound    = "passkey_not_found"
	CodeNoPasskey          = "passkey_none"        // the account has no passkey to sign with
	CodeLastSignInMethod   = "last_sign_in_method" // removing it would lock the account out
	CodePasskeyRequired    = "passkey_required"    // staff must sign in with a passkey
)

func newErr(kind routing.Kind, code, op, msg string) *routing.Error {
	return &routing.Error{Kind: kind, Code: code, Op: op, Message: msg}
}

// invalidCredentials is the one answer for an unknown name, a wrong
// password and a malformed token alike.
func invalidCredentials(op string) *routing.Error {
	return newErr(routing.KindUnauthenticated, CodeInvalidCredentials, op, "the name or password is not right")
}

// tooManyAttempts asks a sign-in to wait until the given time: the name
// or the client failed too often lately. It reads the same for known and
// unknown names.
func tooManyAttempts(op string, until, now time.Time) *routing.Error {
	e := newErr(routing.KindRateLimited, CodeTooManyAttempts, op, "too many failed sign-ins; wait before trying again")
	secs := int64((until.Sub(now) + time.Second - 1) / time.Second)
	e.Details = map[string]string{"retry_after": strconv.FormatInt(max(secs, 1), 10)}
	return e
}

// signInBusy is the answer while every password check slot is taken and
// the queue is full: the caller retries shortly, and everything else the
// gateway does keeps its share of the processors.
func signInBusy(op string) *routing.Error {
	return routing.Unavailable(op, CodeSignInBusy, "too many sign-ins at once; try again in a few seconds", nil)
}

func weakPassword(op, why string) *routing.Error {
	e := newErr(routing.KindInvalid, CodeWeakPassword, op, why)
	e.Field = "password"
	return e
}
