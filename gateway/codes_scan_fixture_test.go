package gateway_test

import (
	"slices"
	"strings"
	"testing"
)

// The scanner finds a code in every form a served package answers with
// one, follows helpers that pass a code on, reports a code it cannot
// resolve, leaves test helpers and constant-only packages' own codes out,
// and fails on a package that is not there instead of skipping it.
func TestCollectErrorCodesFindsEveryForm(t *testing.T) {
	const root = "testdata/codescan"
	found, unresolved, err := collectErrorCodes(root, []string{"svc"}, []string{"prov"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for code := range found {
		if !slices.Contains(allKinds(), code) {
			got = append(got, code)
		}
	}
	slices.Sort(got)
	want := []string{"elsewhere_code", "literal_code", "named_code", "passed_twice", "with_code"}
	if !slices.Equal(got, want) {
		t.Errorf("codes found: %v, want %v", got, want)
	}
	for _, k := range allKinds() {
		if _, ok := found[k]; !ok {
			t.Errorf("error kind %s is not among the codes", k)
		}
	}
	if len(unresolved) != 1 || !strings.HasPrefix(unresolved[0], "svc/svc.go:") {
		t.Errorf("unresolved codes: %v, want the one computed in svc/svc.go", unresolved)
	}

	if _, _, err := collectErrorCodes(root, []string{"svc", "gone"}, nil); err == nil {
		t.Error("a served package that is not there was skipped without an error")
	}
}
