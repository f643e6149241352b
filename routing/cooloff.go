package routing

import (
	"slices"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// DefaultConsentCoolOff is how long, after a resident denies or revokes a
// consent, the same department may not ask again for the same data type
// and purpose.
const DefaultConsentCoolOff = 30 * 24 * time.Hour

// Codes of a request refused because the resident said no recently.
const (
	CodeConsentDenied  = "consent_denied"
	CodeConsentRevoked = "consent_revoked"
)

// coolOff says whether requester is still cooling off for scope and
// purpose: among the resident's consents, the latest one the resident
// denied or revoked for them less than period ago. It returns a forbidden
// *Error (consent_denied or consent_revoked, details.retry_after the end
// of the period and details.consent_id the decision's consent), or nil.
//
// Scopes are compared exactly: after the record was refused the
// department may still ask for the yes/no answer to one of its questions,
// which discloses less, and the other way round.
func coolOff(all []model.Consent, requester, scope, purpose string, now time.Time, period time.Duration) *Error {
	if period <= 0 {
		return nil
	}
	var latest *model.Consent
	var latestAt time.Time
	for i := range all {
		c := &all[i]
		if c.Requester != requester || c.PurposeCode != purpose || !slices.Contains(c.DataTypes, scope) {
			continue
		}
		at, ok := refusedAt(*c)
		if ok && now.Before(at.Add(period)) && (latest == nil || at.After(latestAt)) {
			latest, latestAt = c, at
		}
	}
	if latest == nil {
		return nil
	}
	retry := latestAt.Add(period).UTC().Format(time.RFC3339)
	details := map[string]string{"retry_after": retry, "consent_id": latest.ID}
	if latest.Status == model.ConsentRevoked {
		return &Error{Kind: KindForbidden, Code: CodeConsentRevoked, Op: opConsent, Details: details,
			Message: "the resident revoked their consent to this request; the same request may not be made again before " + retry}
	}
	return &Error{Kind: KindForbidden, Code: CodeConsentDenied, Op: opConsent, Details: details,
		Message: "the resident denied this request; the same request may not be made again before " + retry}
}

// refusedAt is when the resident denied or revoked c.
func refusedAt(c model.Consent) (time.Time, bool) {
	var at string
	switch c.Status {
	case model.ConsentDenied:
		at = c.DecidedAt
	case model.ConsentRevoked:
		at = c.RevokedAt
	default:
		return time.Time{}, false
	}
	t, err := model.ParseTime(at)
	return t, err == nil
}
