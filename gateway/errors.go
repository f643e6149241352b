package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/routing"
	"github.com/gin-gonic/gin"
)

// statusOf is the one mapping from error kind to HTTP status.
func statusOf(k routing.Kind) int {
	switch k {
	case routing.KindInvalid:
		return http.StatusBadRequest
	case routing.KindUnauthenticated:
		return http.StatusUnauthorized
	case routing.KindForbidden, routing.KindConsentRequired:
		return http.StatusForbidden
	case routing.KindNotFound:
		return http.StatusNotFound
	case routing.KindConflict:
		return http.StatusConflict
	case routing.KindRateLimited:
		return http.StatusTooManyRequests
	case routing.KindUnavailable:
		return http.StatusServiceUnavailable
	case routing.KindBadGateway:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// ErrorBody is the error envelope.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of the envelope.
type ErrorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	RequestID string            `json:"request_id"`
	Field     string            `json:"field,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// fail renders err and stops the chain. Internal errors are logged with
// their cause; the caller sees only the safe message.
func (s *Server) fail(c *gin.Context, err error) {
	var held *audit.Pending
	if errors.As(err, &held) {
		// Four eyes: the act became a proposal for a second official.
		c.AbortWithStatusJSON(http.StatusAccepted, gin.H{"proposal": held.Proposal})
		return
	}
	kind := routing.KindOf(err)
	status := statusOf(kind)
	detail := ErrorDetail{Code: routing.CodeOf(err), Message: routing.MessageOf(err), RequestID: requestID(c)}
	var de *routing.Error
	if errors.As(err, &de) {
		detail.Field = de.Field
		detail.Details = de.Details
	}
	if status == http.StatusBadRequest && detail.Field == "" {
		// Every 400 names what is at fault; an error from deep inside a
		// parser (a credential, a proof) is about the body it came in.
		detail.Field = "body"
	}
	if status >= 500 && !shedding[detail.Code] {
		s.log.ErrorContext(c.Request.Context(), "request failed", "request_id", detail.RequestID, "code", detail.Code, "err", err)
	}
	setRetryAfter(c, err)
	c.Set(ctxErrorCode, detail.Code)
	c.AbortWithStatusJSON(status, ErrorBody{Error: detail})
}

// shedding are the codes of work refused on purpose to protect the rest
// (a sign-in flood's excess): not faults, so no error line each — the
// request log line names the code. Under a flood an error line per
// refusal would be hundreds a second.
var shedding = map[string]bool{"sign_in_busy": true}

// answer renders body with status, or err when it is set.
func (s *Server) answer(c *gin.Context, status int, body any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, body)
}

// answerList renders {key: items} with items never null, or err when it
// is set.
func answerList[T any](s *Server, c *gin.Context, key string, items []T, err error) {
	s.answer(c, http.StatusOK, gin.H{key: nonNil(items)}, err)
}

// failWith renders a new error of kind with a code and message.
func (s *Server) failWith(c *gin.Context, kind routing.Kind, code, message string) {
	s.fail(c, &routing.Error{Kind: kind, Code: code, Op: "gateway", Message: message})
}

func rateLimited(retry int) error {
	return &routing.Error{Kind: routing.KindRateLimited, Code: "rate_limited", Op: "gateway",
		Message: "too many requests; retry after " + strconv.Itoa(retry) + " s"}
}

// setRetryAfter tells a client refused for now when to come back: the
// wait an error names in details.retry_after, else 5 s for a dependency
// that is down.
func setRetryAfter(c *gin.Context, err error) {
	var de *routing.Error
	if errors.As(err, &de) && de.Details["retry_after"] != "" {
		c.Header("Retry-After", de.Details["retry_after"])
		return
	}
	if routing.KindOf(err) == routing.KindUnavailable {
		c.Header("Retry-After", "5")
	}
}

// signInCtx is the request's context naming the client, whose failed
// sign-ins are counted (and slowed) across every name it tries.
func signInCtx(c *gin.Context) context.Context {
	return accounts.WithClient(ctx(c), c.ClientIP())
}
