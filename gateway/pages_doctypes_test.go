package gateway_test

import (
	"slices"
	"testing"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/web"
)

// The forms offer exactly the document types the mapping service knows,
// each with a name in both languages.
func TestDocumentTypesMatchMapping(t *testing.T) {
	var want []string
	for _, dt := range mapping.Types() {
		want = append(want, string(dt))
	}
	if got := gateway.DocumentTypes(); !slices.Equal(got, want) {
		t.Fatalf("gateway.DocumentTypes() = %v, mapping.Types() = %v", got, want)
	}
	site := web.MustNew()
	for _, dt := range want {
		if !site.HasMessage("doctype." + dt) {
			t.Errorf("no name for document type %s", dt)
		}
	}
}
