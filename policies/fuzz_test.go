package policies

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// FuzzParsePolicy: any text either fails with a field-naming invalid error
// or parses into a set that renders and parses back to itself.
func FuzzParsePolicy(f *testing.F) {
	f.Add(defaultPolicyCSV)
	f.Add("p, edu-bureau, edu.*, admission, allow\ng, edu-bureau, education\n")
	f.Add("p,*,*,*,deny")
	f.Add("p, a1, edu*, x1, allow")
	f.Add("g, a1, a1")
	f.Add("# only a comment\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		set, err := ParsePolicy(strings.NewReader(text))
		if err != nil {
			if !routing.IsKind(err, routing.KindInvalid) || !strings.HasPrefix(fieldOf(err), "line ") {
				t.Fatalf("error %v has no line", err)
			}
			return
		}
		if err := validatePolicySet("fuzz", set); err != nil {
			t.Fatalf("parsed set does not validate: %v", err)
		}
		again, err := ParsePolicy(strings.NewReader(set.String()))
		if err != nil {
			t.Fatalf("rendered set does not parse: %v\n%s", err, set.String())
		}
		if again.String() != set.String() {
			t.Fatalf("round trip changed the set:\n%s\n---\n%s", set.String(), again.String())
		}
	})
}

// FuzzDataTypeMatch checks DataTypeMatch against the definition in
// segments: "*" covers everything, "a.b.*" covers codes whose segments
// start with a, b and go on, anything else only itself.
func FuzzDataTypeMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"edu.degree", "edu.*"}, {"education.x", "edu.*"}, {"edu.degree", "edu.degree.*"},
		{"edu.degree.x", "edu.degree.*"}, {"a.b", "*"}, {"a.b", "a.b"}, {"edu.degree", "edu*"},
		{"edu.x", "Edu.*"}, {"edu.x", "edu..*"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, code, pattern string) {
		if !model.ValidDataTypeCode(code) {
			return
		}
		got := DataTypeMatch(code, pattern)
		if !validDataTypePattern(pattern) {
			// Only length keeps a pattern that covers a real code out of
			// the rule syntax.
			if got && len(pattern) <= maxPatternLen {
				t.Fatalf("pattern %q, refused by the rule syntax, covers %q", pattern, code)
			}
			return
		}
		var want bool
		switch prefix, ok := strings.CutSuffix(pattern, ".*"); {
		case pattern == Any:
			want = true
		case ok:
			cs, ps := strings.Split(code, "."), strings.Split(prefix, ".")
			want = len(cs) > len(ps) && slices.Equal(cs[:len(ps)], ps)
		default:
			want = code == pattern
		}
		if got != want {
			t.Fatalf("DataTypeMatch(%q, %q) = %v, want %v", code, pattern, got, want)
		}
	})
}

// FuzzDecide asks the fixture policy arbitrary questions: Decide either
// refuses the input as invalid or answers consistently with Explain.
func FuzzDecide(f *testing.F) {
	e := engineWith(f, openSQLite(f), "decisions.csv")
	for _, tc := range decisionCases {
		f.Add(tc.department, tc.dataType, tc.purpose)
	}
	f.Add("*", "*", "*")
	f.Add("edu-bureau", "edu.*", "admission")
	f.Fuzz(func(t *testing.T, department, dataType, purpose string) {
		d, err := e.Decide(context.Background(), department, dataType, purpose)
		if err != nil {
			if !routing.IsKind(err, routing.KindInvalid) {
				t.Fatalf("Decide(%q, %q, %q): %v", department, dataType, purpose, err)
			}
			return
		}
		if d.Allowed && d.Rule == "" {
			t.Fatalf("allowed without a rule: %+v", d)
		}
		checkExplainAgrees(t, e, department, dataType, purpose)
	})
}
