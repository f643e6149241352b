package gateway_test

import (
	"strings"
	"testing"

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
