package gateway_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/web"
)

// Every document type the mapping service knows, which the forms offer,
// has a name in both languages.
func TestDocumentTypesHaveNames(t *testing.T) {
	t.Parallel()
	site := web.MustNew()
	for _, dt := range mapping.Types() {
		for _, lang := range web.Langs() {
			if name := site.Message(lang, "doctype."+string(dt)); strings.HasPrefix(name, web.MissingMark) {
				t.Errorf("no %s name for document type %s", lang, dt)
			}
		}
	}
}

// The password hints say the policy's minimum length, the one
// accounts.CheckPassword applies, in every language.
func TestPasswordHintsStateThePolicy(t *testing.T) {
	site := web.MustNew()
	for _, lang := range web.Langs() {
		for _, key := range []string{"activate.password_hint", "users.password_hint"} {
			if hint := site.Message(lang, key); !strings.Contains(hint, strconv.Itoa(accounts.MinPasswordLen)) {
				t.Errorf("%s %s = %q: does not name %d characters", lang, key, hint, accounts.MinPasswordLen)
			}
		}
	}
}
