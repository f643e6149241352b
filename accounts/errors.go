package accounts

import (
	"strconv"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Stable error codes.
const (
	CodeInvalidCredentials    = "invalid_credentials"
	CodeAccountLocked         = "account_locked"
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
	CodeInvalidName           = "invalid_name"
	CodeInvalidSessionRequest = "invalid_session"
)

func newErr(kind routing.Kind, code, op, msg string) *routing.Error {
	return &routing.Error{Kind: kind, Code: code, Op: op, Message: msg}
}

// invalidCredentials is the one answer for an unknown name, a wrong
// password and a malformed token alike.
func invalidCredentials(op string) *routing.Error {
	return newErr(routing.KindUnauthenticated, CodeInvalidCredentials, op, "the name or password is not right")
}

func accountLocked(op string, until, now time.Time) *routing.Error {
	e := newErr(routing.KindUnauthenticated, CodeAccountLocked, op, "too many failed sign-ins; try again later")
	secs := int64(until.Sub(now).Round(time.Second) / time.Second)
	e.Details = map[string]string{"retry_after": strconv.FormatInt(max(secs, 1), 10)}
	return e
}

func weakPassword(op, why string) *routing.Error {
	e := newErr(routing.KindInvalid, CodeWeakPassword, op, why)
	e.Field = "password"
	return e
}
