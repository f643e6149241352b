package policies

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2/util"

	"github.com/eidgate/eidgate/routing"
)

func TestDataTypeMatch(t *testing.T) {
	for _, tc := range []struct {
		dataType, pattern string
		want              bool
	}{
		{"edu.degree", "edu.degree", true},
		{"edu.degree", "edu.transcript", false},
		{"edu.degree", "edu.*", true},
		{"edu.degree.bachelor", "edu.*", true},
		{"edu.degree.bachelor", "edu.degree.*", true},
		{"edu.degree", "edu.degree.*", false}, // the prefix itself is not below it
		{"education.x", "edu.*", false},       // segment-aware
		{"edux.degree", "edu.*", false},
		{"edu", "edu.*", false},
		{"edu.", "edu.*", false},
		{"civil.household", "*", true},
		{"x.y.z", "*", true},
		{"edu.degree", "", false},
		// Patterns the rule syntax refuses cover nothing.
		{"education.x", "edu*", false},
		{"edu.degree", "edu.*.x", false},
		{"edu.degree", "*.degree", false},
		{"edu.degree", ".*", false},
		{"edu.degree", "edu.**", false},
	} {
		if got := DataTypeMatch(tc.dataType, tc.pattern); got != tc.want {
			t.Errorf("DataTypeMatch(%q, %q) = %v, want %v", tc.dataType, tc.pattern, got, tc.want)
		}
	}
}

// The reasons model.conf does not use Casbin's keyMatch or globMatch: with
// them, patterns the rule syntax might let through would cover codes
// nobody meant. If Casbin's functions change, this test says so.
func TestBuiltinMatchersAreTooLoose(t *testing.T) {
	if !util.KeyMatch("education.x", "edu*") {
		t.Error("keyMatch no longer lets edu* cover education.x")
	}
	if !util.KeyMatch("edu.degree", "edu.*.x") {
		t.Error("keyMatch no longer reads edu.*.x as edu.*")
	}
	if ok, err := util.GlobMatch("edu.degree", "edu.[a-e]*"); err != nil || !ok {
		t.Error("globMatch no longer takes character classes")
	}
	if _, err := util.GlobMatch("edu.degree", "edu.[*"); err == nil {
		t.Error("globMatch no longer fails on a malformed pattern")
	}
}

func TestValidateRule(t *testing.T) {
	ok := Rule{Subject: "edu-bureau", DataType: "edu.*", Purpose: "admission", Effect: EffectAllow}
	for _, tc := range []struct {
		name  string
		edit  func(r *Rule)
		field string
	}{
		{"valid", func(*Rule) {}, ""},
		{"wildcards", func(r *Rule) { r.Subject, r.DataType, r.Purpose = "*", "*", "*" }, ""},
		{"role name", func(r *Rule) { r.Subject = "education" }, ""},
		{"deep code", func(r *Rule) { r.DataType = "hrss.social_insurance.detail" }, ""},
		{"deny", func(r *Rule) { r.Effect = EffectDeny }, ""},
		{"empty subject", func(r *Rule) { r.Subject = "" }, "subject"},
		{"upper-case subject", func(r *Rule) { r.Subject = "Edu-Bureau" }, "subject"},
		{"subject starting with -", func(r *Rule) { r.Subject = "-edu" }, "subject"},
		{"subject pattern", func(r *Rule) { r.Subject = "edu-*" }, "subject"},
		{"one-letter subject", func(r *Rule) { r.Subject = "e" }, "subject"},
		{"empty data type", func(r *Rule) { r.DataType = "" }, "data_type"},
		{"bare prefix", func(r *Rule) { r.DataType = "edu" }, "data_type"},
		{"glued wildcard", func(r *Rule) { r.DataType = "edu*" }, "data_type"},
		{"inner wildcard", func(r *Rule) { r.DataType = "edu.*.x" }, "data_type"},
		{"leading wildcard", func(r *Rule) { r.DataType = "*.degree" }, "data_type"},
		{"glob class", func(r *Rule) { r.DataType = "edu.[a-z]" }, "data_type"},
		{"upper-case code", func(r *Rule) { r.DataType = "Edu.degree" }, "data_type"},
		{"too long", func(r *Rule) { r.DataType = "edu." + strings.Repeat("x", 100) }, "data_type"},
		{"empty purpose", func(r *Rule) { r.Purpose = "" }, "purpose"},
		{"purpose pattern", func(r *Rule) { r.Purpose = "adm*" }, "purpose"},
		{"purpose with space", func(r *Rule) { r.Purpose = "school admission" }, "purpose"},
		{"quote in purpose", func(r *Rule) { r.Purpose = `a"b` }, "purpose"},
		{"effect", func(r *Rule) { r.Effect = "Allow" }, "effect"},
		{"empty effect", func(r *Rule) { r.Effect = "" }, "effect"},
	} {
		r := ok
		tc.edit(&r)
		err := ValidateRule(r)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !routing.IsKind(err, routing.KindInvalid) || fieldOf(err) != tc.field {
			t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.field)
		}
	}
}

func TestValidateRoleMapping(t *testing.T) {
	for _, tc := range []struct {
		m     RoleMapping
		field string
	}{
		{RoleMapping{"edu-bureau", "education"}, ""},
		{RoleMapping{"civil-registry", "registry-readers"}, ""},
		{RoleMapping{"", "education"}, "member"},
		{RoleMapping{"*", "education"}, "member"},
		{RoleMapping{"edu-bureau", "*"}, "role"},
		{RoleMapping{"edu-bureau", "Education"}, "role"},
		{RoleMapping{"education", "education"}, "role"},
	} {
		err := ValidateRoleMapping(tc.m)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.m, err)
			}
			continue
		}
		if !routing.IsKind(err, routing.KindInvalid) || fieldOf(err) != tc.field {
			t.Errorf("%v: %v, want invalid %s", tc.m, err, tc.field)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "decisions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := ParsePolicy(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 10 || len(set.Roles) != 4 {
		t.Fatalf("parsed %d rules, %d roles", len(set.Rules), len(set.Roles))
	}
	if got := set.Rules[1]; got != (Rule{"edu-bureau", "hrss.*", "admission", "allow"}) {
		t.Errorf("second rule %+v", got)
	}
	if got := set.Roles[3]; got != (RoleMapping{"civil-registry", "registry-readers"}) {
		t.Errorf("fourth role mapping %+v", got)
	}
	again, err := ParsePolicy(strings.NewReader(set.String()))
	if err != nil || again.String() != set.String() {
		t.Errorf("round trip: %v\n%s\n---\n%s", err, set.String(), again.String())
	}
	if set.String() != loadPolicyFile(t, "decisions.csv").String() {
		t.Error("parsing is not deterministic")
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		text, field, message string
	}{
		{"p, edu-bureau, edu.*, admission", "line 1", "5 fields"},
		{"\n# c\np, edu-bureau, edu.*, admission, allow, extra", "line 3", "5 fields"},
		{"g, edu-bureau", "line 1", "3 fields"},
		{"x, edu-bureau, education", "line 1", "starts with p"},
		{"p, edu-bureau, edu*, admission, allow", "line 1", "data_type"},
		{"g, edu-bureau, edu-bureau", "line 1", "cannot contain itself"},
		{"p, a1, edu.degree, admission, allow\np,a1,edu.degree,admission,allow", "line 2", "repeats line 1"},
		{"g, a1, b1\ng, a1, b1", "line 2", "repeats line 1"},
		{strings.Repeat("p", 5000), "line 1", "unreadable"},
	} {
		_, err := ParsePolicy(strings.NewReader(tc.text))
		var e *routing.Error
		if !errors.As(err, &e) || e.Kind != routing.KindInvalid || e.Field != tc.field || !strings.Contains(e.Message, tc.message) {
			t.Errorf("ParsePolicy(%.40q) = %v, want invalid %s mentioning %q", tc.text, err, tc.field, tc.message)
		}
	}
}

func TestDefaultPolicyParses(t *testing.T) {
	set := DefaultPolicy()
	if len(set.Rules) == 0 || len(set.Roles) == 0 {
		t.Fatalf("default policy: %d rules, %d roles", len(set.Rules), len(set.Roles))
	}
	if err := validatePolicySet("test", set); err != nil {
		t.Fatal(err)
	}
}
