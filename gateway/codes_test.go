package gateway_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/gateway"
)

var update = flag.Bool("update", false, "regenerate docs/api.md's error table and the OpenAPI code enum from gateway/codes.go")

const (
	apiDoc      = "../docs/api.md"
	openAPIFile = "openapi.yaml"
)

// The error-code table in codes.go lists exactly the codes the gateway and
// the services behind it can answer with, and docs/api.md and the OpenAPI
// document list exactly the table's codes. -update regenerates both.
func TestErrorCodeTable(t *testing.T) {
	found, unresolved, err := collectErrorCodes("..", servedRoots, constantRoots)
	if err != nil {
		t.Fatalf("reading the served packages: %v", err)
	}
	for _, pos := range unresolved {
		t.Errorf("%s: an error code that is not a constant; name it with a string constant so it can be listed", pos)
	}
	table, startup := gateway.ErrorCodes(), gateway.StartupCodes()
	listed := map[string]bool{}
	for _, c := range append(append([]gateway.ErrorCodeEntry{}, table...), startup...) {
		if listed[c.Code] {
			t.Errorf("code %s is listed twice in gateway/codes.go", c.Code)
		}
		listed[c.Code] = true
		if c.Meaning == "" {
			t.Errorf("code %s has no meaning in gateway/codes.go", c.Code)
		}
	}
	for _, c := range table {
		if c.Status < 400 || c.Status > 599 {
			t.Errorf("code %s has status %d", c.Code, c.Status)
		}
	}
	var missing, stale []string
	for code, pos := range found {
		if !listed[code] {
			missing = append(missing, code+" ("+pos+")")
		}
	}
	for code := range listed {
		if _, ok := found[code]; !ok {
			stale = append(stale, code)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, m := range missing {
		t.Errorf("code %s is not in gateway/codes.go: add its status and meaning there, then run go test ./gateway -run TestErrorCodeTable -update", m)
	}
	for _, s := range stale {
		t.Errorf("code %s is in gateway/codes.go but nothing returns it any more: remove it", s)
	}

	checkGenerated(t, apiDoc, apiErrorTable(table), replaceAPITable)
	checkGenerated(t, openAPIFile, openAPIEnum(table), replaceOpenAPIEnum)
}

// checkGenerated compares the generated part of a file with want, or
// rewrites it with -update.
func checkGenerated(t *testing.T, path, want string, replace func(doc, want string) (string, string, error)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, got, err := replace(string(raw), want)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gotSet, wantSet := codesIn(got), codesIn(want)
	for c := range wantSet {
		if !gotSet[c] {
			t.Errorf("%s does not list code %s", path, c)
		}
	}
	for c := range gotSet {
		if !wantSet[c] {
			t.Errorf("%s lists code %s, which gateway/codes.go does not", path, c)
		}
	}
	t.Errorf("%s's error codes differ from gateway/codes.go; run go test ./gateway -run TestErrorCodeTable -update", path)
}

// codesIn finds the codes a generated part lists.
func codesIn(part string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(part, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "| `"):
			out[strings.SplitN(strings.TrimPrefix(line, "| `"), "`", 2)[0]] = true
		case strings.HasPrefix(line, "- "):
			out[strings.TrimPrefix(line, "- ")] = true
		}
	}
	return out
}

func apiErrorTable(table []gateway.ErrorCodeEntry) string {
	var b strings.Builder
	b.WriteString("| code | HTTP | meaning |\n| --- | --- | --- |\n")
	for _, c := range table {
		fmt.Fprintf(&b, "| `%s` | %d | %s |\n", c.Code, c.Status, c.Meaning)
	}
	return b.String()
}

// replaceAPITable swaps the table under "## Error codes" for want.
func replaceAPITable(doc, want string) (string, string, error) {
	const heading = "## Error codes\n\n"
	i := strings.Index(doc, heading)
	if i < 0 {
		return "", "", fmt.Errorf("no %q section", strings.TrimSpace(heading))
	}
	start := i + len(heading)
	end := strings.Index(doc[start:], "\n\n")
	if end < 0 {
		end = len(doc) - start
	}
	end += start + 1
	return doc[:start] + want + doc[end:], doc[start:end], nil
}

const enumIndent = "                - "

func openAPIEnum(table []gateway.ErrorCodeEntry) string {
	var b strings.Builder
	for _, c := range table {
		b.WriteString(enumIndent + c.Code + "\n")
	}
	return b.String()
}

// replaceOpenAPIEnum swaps the enum of the error envelope's code for want.
func replaceOpenAPIEnum(doc, want string) (string, string, error) {
	const envelope = "\n    Error:\n"
	i := strings.Index(doc, envelope)
	if i < 0 {
		return "", "", fmt.Errorf("no Error schema")
	}
	const code = "\n            code:\n"
	j := strings.Index(doc[i:], code)
	if j < 0 {
		return "", "", fmt.Errorf("the Error schema has no code property")
	}
	j += i + len(code)
	const enum = "              enum:\n"
	k := strings.Index(doc[j:], enum)
	next := strings.Index(doc[j:], "\n            message:")
	if k < 0 || (next >= 0 && k > next) {
		// No enum yet: it goes at the end of the code property.
		at := j + next + 1
		return doc[:at] + enum + want + doc[at:], "", nil
	}
	start := j + k + len(enum)
	end := start
	for strings.HasPrefix(doc[end:], enumIndent) {
		end += strings.Index(doc[end:], "\n") + 1
	}
	return doc[:start] + want + doc[end:], doc[start:end], nil
}
