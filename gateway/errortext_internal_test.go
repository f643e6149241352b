package gateway

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// A sign-in told to wait says how long in the page's language: a few
// seconds below 45 s, a minute up to a minute, else whole minutes rounded
// up; without a wait it says only to wait.
func TestErrorTextSaysTheWait(t *testing.T) {
	s := &Server{site: web.MustNew()}
	wait := func(retry string) error {
		e := &routing.Error{Kind: routing.KindRateLimited, Code: "too_many_attempts", Op: "test", Message: "wait"}
		if retry != "" {
			e.Details = map[string]string{"retry_after": retry}
		}
		return e
	}
	for _, tc := range []struct {
		lang, retry, want string
	}{
		{"en", "1", "Too many failed sign-ins. Try again in a few seconds."},
		{"en", "44", "Too many failed sign-ins. Try again in a few seconds."},
		{"en", "45", "Too many failed sign-ins. Try again in a minute."},
		{"en", "60", "Too many failed sign-ins. Try again in a minute."},
		{"en", "61", "Too many failed sign-ins. Try again in 2 minutes."},
		{"en", "900", "Too many failed sign-ins. Try again in 15 minutes."},
		{"en", "", "Too many failed sign-ins; wait a moment and try again (a passkey signs in without waiting)."},
		{"en", "soon", "Too many failed sign-ins; wait a moment and try again (a passkey signs in without waiting)."},
		{"zh-CN", "30", "登录失败次数过多，请几秒钟后再试。"},
		{"zh-CN", "50", "登录失败次数过多，请 1 分钟后再试。"},
		{"zh-CN", "120", "登录失败次数过多，请 2 分钟后再试。"},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Set(ctxLang, tc.lang)
		if got := s.errorText(c, wait(tc.retry)); got != tc.want {
			t.Errorf("%s, retry_after %q: %q, want %q", tc.lang, tc.retry, got, tc.want)
		}
	}
	// Another code naming a wait keeps its own message.
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Set(ctxLang, "en")
	other := &routing.Error{Kind: routing.KindRateLimited, Code: "sign_in_busy", Op: "test", Message: "busy",
		Details: map[string]string{"retry_after": "120"}}
	if got, want := s.errorText(c, other), s.site.Message("en", "err.sign_in_busy"); got != want {
		t.Errorf("sign_in_busy with a wait: %q, want %q", got, want)
	}
}

// A refused sign-in of a flood (sign_in_busy) is answered 503 without an
// error log line; a dependency's failure still logs one.
func TestSheddingIsNotLoggedAsAFailure(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{site: web.MustNew(), log: slog.New(slog.NewJSONHandler(&logs, nil))}
	for _, tc := range []struct {
		code   string
		logged bool
	}{
		{"sign_in_busy", false},
		{"database_unavailable", true},
	} {
		logs.Reset()
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("POST", "/v1/me/login", nil)
		s.fail(c, routing.Unavailable("test", tc.code, "unavailable", nil))
		if w.Code != 503 {
			t.Errorf("%s answered %d, want 503", tc.code, w.Code)
		}
		if got := strings.Contains(logs.String(), `"request failed"`); got != tc.logged {
			t.Errorf("%s: error line logged %v, want %v: %s", tc.code, got, tc.logged, logs.String())
		}
	}
}
