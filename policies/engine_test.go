package policies

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

type decisionCase struct {
	name                          string
	department, dataType, purpose string
	allowed                       bool
	rule                          string // decisive rule; "" when none matched
}

var decisionCases = []decisionCase{
	{"role rule allows", "edu-bureau", "civil.household", "admission", true,
		"p, education, civil.household, admission, allow"},
	{"department rule with prefix pattern", "edu-bureau", "hrss.employment", "admission", true,
		"p, edu-bureau, hrss.*, admission, allow"},
	{"deeper code under prefix pattern", "edu-bureau", "hrss.social_insurance.summary", "admission", true,
		"p, edu-bureau, hrss.*, admission, allow"},
	{"narrower deny overrides allow", "edu-bureau", "hrss.social_insurance.detail", "admission", false,
		"p, edu-bureau, hrss.social_insurance.detail, admission, deny"},
	{"role allow by pattern", "hrss", "edu.degree", "employment", true,
		"p, social-security, edu.*, employment, allow"},
	{"role deny overrides role allow", "hrss", "edu.transcript", "employment", false,
		"p, social-security, edu.transcript, employment, deny"},
	{"pattern is segment-aware", "hrss", "education.degree", "employment", false, ""},
	{"nested role, any purpose", "civil-affairs", "civil.marriage", "marriage_registration", true,
		"p, registry-readers, civil.*, *, allow"},
	{"department deny overrides nested role allow", "civil-affairs", "civil.household", "marketing", false,
		"p, civil-affairs, civil.household, marketing, deny"},
	{"wildcard subject deny overrides role allow", "civil-affairs", "edu.transcript", "marriage_registration", false,
		"p, *, edu.transcript, marriage_registration, deny"},
	{"role allow next to the wildcard deny", "civil-affairs", "edu.degree", "marriage_registration", true,
		"p, civil-registry, edu.*, marriage_registration, allow"},
	{"wildcard data type", "hrss", "tax.return", "audit", true, "p, hrss, *, audit, allow"},
	{"wildcard subject deny applies to unknown departments", "tax-bureau", "edu.transcript", "marriage_registration", false,
		"p, *, edu.transcript, marriage_registration, deny"},
	{"unknown department", "tax-bureau", "edu.degree", "admission", false, ""},
	{"other purpose", "edu-bureau", "civil.household", "employment", false, ""},
	{"role holder's rules do not flow upwards", "registry-readers", "edu.degree", "marriage_registration", false, ""},
	// Role names share the department id namespace (docs/policies.md).
	{"a department named like a role holds its rules", "education", "civil.household", "admission", true,
		"p, education, civil.household, admission, allow"},
}

func TestDecide(t *testing.T) {
	backends(t, func(t *testing.T, db *gorm.DB) {
		e := engineWith(t, db, "decisions.csv")
		ctx := context.Background()
		for _, tc := range decisionCases {
			t.Run(tc.name, func(t *testing.T) {
				d, err := e.Decide(ctx, tc.department, tc.dataType, tc.purpose)
				if err != nil {
					t.Fatalf("Decide: %v", err)
				}
				if d.Allowed != tc.allowed || d.Rule != tc.rule {
					t.Fatalf("Decide(%s, %s, %s) = allowed %v by %q, want %v by %q",
						tc.department, tc.dataType, tc.purpose, d.Allowed, d.Rule, tc.allowed, tc.rule)
				}
				if d.Version != e.Version() || d.Version == 0 {
					t.Errorf("decision version %d, engine at %d", d.Version, e.Version())
				}
				wantReason := "no rule allows " + tc.department + " to request " + tc.dataType + " for purpose " + tc.purpose
				switch {
				case tc.allowed:
					wantReason = "allowed by " + tc.rule
				case tc.rule != "":
					wantReason = "denied by " + tc.rule
				}
				if d.Reason != wantReason {
					t.Errorf("reason %q, want %q", d.Reason, wantReason)
				}
				// The cached answer is the same answer.
				again, _ := e.Decide(ctx, tc.department, tc.dataType, tc.purpose)
				if again != d {
					t.Errorf("second Decide = %+v, first %+v", again, d)
				}
			})
		}
	})
}

func TestDecideEmptyPolicyRefuses(t *testing.T) {
	e := newEngine(t, Config{DB: openSQLite(t)})
	d, err := e.Decide(context.Background(), "edu-bureau", "edu.degree", "admission")
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed {
		t.Fatalf("d.Allowed is true; empty policy: %+v", d)
	}
	if d.Rule != "" {
		t.Fatalf("d.Rule = %q, want \"\"; empty policy: %+v", d.Rule, d)
	}
	if d.Version != 0 {
		t.Fatalf("d.Version = %v, want 0; empty policy: %+v", d.Version, d)
	}
}

func TestDecideRefusesInvalidRequests(t *testing.T) {
	e := engineWith(t, openSQLite(t), "decisions.csv")
	for _, tc := range []struct {
		department, dataType, purpose, field string
	}{
		{"*", "edu.degree", "admission", "department"},
		{"Edu-Bureau", "edu.degree", "admission", "department"},
		{"edu-bureau", "edu", "admission", "data_type"},
		{"edu-bureau", "edu.*", "admission", "data_type"},
		{"edu-bureau", "*", "admission", "data_type"},
		{"edu-bureau", "edu.degree", "*", "purpose"},
		{"edu-bureau", "edu.degree", "", "purpose"},
	} {
		_, err := e.Decide(context.Background(), tc.department, tc.dataType, tc.purpose)
		if !routing.IsKind(err, routing.KindInvalid) || fieldOf(err) != tc.field {
			t.Errorf("Decide(%q, %q, %q) = %v, want invalid %s", tc.department, tc.dataType, tc.purpose, err, tc.field)
		}
		_, err = e.Explain(context.Background(), tc.department, tc.dataType, tc.purpose)
		if !routing.IsKind(err, routing.KindInvalid) || fieldOf(err) != tc.field {
			t.Errorf("Explain(%q, %q, %q) = %v, want invalid %s", tc.department, tc.dataType, tc.purpose, err, tc.field)
		}
	}
}

func TestExplain(t *testing.T) {
	e := engineWith(t, openSQLite(t), "decisions.csv")
	ctx := context.Background()

	x, err := e.Explain(ctx, "civil-affairs", "edu.transcript", "marriage_registration")
	if err != nil {
		t.Fatal(err)
	}
	if x.Allowed {
		t.Fatalf("x.Allowed is true; explanation decision: %+v", x)
	}
	if x.Rule != "p, *, edu.transcript, marriage_registration, deny" {
		t.Fatalf("x.Rule = %q, want \"p, *, edu.transcript, marriage_registration, deny\"; explanation decision: %+v", x.Rule, x)
	}
	if x.Version != e.Version() {
		t.Fatalf("x.Version = %v, want e.Version(); explanation decision: %+v", x.Version, x)
	}
	if got, want := strings.Join(x.Roles, ","), "civil-registry,registry-readers"; got != want {
		t.Errorf("roles %s, want %s", got, want)
	}
	var texts []string
	for _, m := range x.Matched {
		texts = append(texts, m.Text)
		if m.Decisive != (m.Text == x.Rule) {
			t.Errorf("rule %s decisive=%v", m.Text, m.Decisive)
		}
	}
	want := []string{
		"p, civil-registry, edu.*, marriage_registration, allow",
		"p, *, edu.transcript, marriage_registration, deny",
	}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("matched\n %v\nwant\n %v", texts, want)
	}

	x, err = e.Explain(ctx, "tax-bureau", "edu.degree", "admission")
	if err != nil {
		t.Fatal(err)
	}
	if x.Allowed {
		t.Errorf("x.Allowed is true; no-match explanation: %+v", x)
	} else if x.Rule != "" {
		t.Errorf("x.Rule = %q, want \"\"; no-match explanation: %+v", x.Rule, x)
	} else if len(x.Matched) != 0 {
		t.Errorf("len(x.Matched) = %v, want 0; no-match explanation: %+v", len(x.Matched), x)
	} else if len(x.Roles) != 0 {
		t.Errorf("len(x.Roles) = %v, want 0; no-match explanation: %+v", len(x.Roles), x)
	} else if x.Reason != "no rule allows tax-bureau to request edu.degree for purpose admission" {
		t.Errorf("x.Reason = %q, want \"no rule allows tax-bureau to request edu.degree for purpose admission\"; no-match explanation: %+v", x.Reason, x)
	}
}

// Explain and Decide must tell the same story for every question: the
// decision is allowed exactly when an allow rule and no deny rule matched,
// and the decisive rule is among the matched ones.
func TestExplainAgreesWithDecide(t *testing.T) {
	e := engineWith(t, openSQLite(t), "decisions.csv")
	for _, tc := range decisionCases {
		checkExplainAgrees(t, e, tc.department, tc.dataType, tc.purpose)
	}
}

func checkExplainAgrees(t testing.TB, e *Engine, department, dataType, purpose string) {
	t.Helper()
	ctx := context.Background()
	d, err := e.Decide(ctx, department, dataType, purpose)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	x, err := e.Explain(ctx, department, dataType, purpose)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	if x.Decision() != d {
		t.Fatalf("%s %s %s: explain %+v, decide %+v", department, dataType, purpose, x.Decision(), d)
	}
	var allow, deny, decisive bool
	for _, m := range x.Matched {
		allow = allow || m.Effect == EffectAllow
		deny = deny || m.Effect == EffectDeny
		decisive = decisive || (m.Decisive && m.Text == d.Rule)
	}
	if d.Allowed != (allow && !deny) {
		t.Fatalf("%s %s %s: allowed=%v but matched %+v", department, dataType, purpose, d.Allowed, x.Matched)
	}
	if (d.Rule != "") != decisive {
		t.Fatalf("%s %s %s: decisive rule %q not among matched %+v", department, dataType, purpose, d.Rule, x.Matched)
	}
	if d.Rule == "" && (allow || deny) {
		t.Fatalf("%s %s %s: no decisive rule but matched %+v", department, dataType, purpose, x.Matched)
	}
}

func TestDefaultPolicy(t *testing.T) {
	e := newEngine(t, Config{DB: openSQLite(t)})
	ctx := context.Background()
	loaded, v, err := e.LoadDefaults(ctx, "system")
	if err != nil || !loaded || v != 1 {
		t.Fatalf("LoadDefaults = %v, %d, %v; want loaded at version 1", loaded, v, err)
	}
	for _, tc := range []decisionCase{
		{"", "edu-bureau", "civil.household", "admission", true, "p, education, civil.household, admission, allow"},
		{"", "hrss", "edu.degree", "employment", true, "p, social-security, edu.*, employment, allow"},
		{"", "hrss", "edu.transcript", "employment", false, "p, social-security, edu.transcript, employment, deny"},
		{"", "civil-affairs", "hrss.employment", "social_assistance", true, "p, civil-registry, hrss.employment, social_assistance, allow"},
		{"", "civil-affairs", "edu.transcript", "marriage_registration", false, "p, *, edu.transcript, marriage_registration, deny"},
		{"", "hrss", "civil.marriage", "marketing", false, "p, consortium, *, marketing, deny"},
		{"", "edu-bureau", "civil.marriage", "admission", false, ""},
	} {
		d, err := e.Decide(ctx, tc.department, tc.dataType, tc.purpose)
		if err != nil {
			t.Errorf("err = %v, want nil; Decide(%s, %s, %s) = %+v, %v; want allowed %v by %q at 1", err, tc.department, tc.dataType, tc.purpose, d, err, tc.allowed, tc.rule)
		} else if d.Allowed != tc.allowed {
			t.Errorf("d.Allowed = %v, want tc.allowed; Decide(%s, %s, %s) = %+v, %v; want allowed %v by %q at 1", d.Allowed, tc.department, tc.dataType, tc.purpose, d, err, tc.allowed, tc.rule)
		} else if d.Rule != tc.rule {
			t.Errorf("d.Rule = %v, want tc.rule; Decide(%s, %s, %s) = %+v, %v; want allowed %v by %q at 1", d.Rule, tc.department, tc.dataType, tc.purpose, d, err, tc.allowed, tc.rule)
		} else if d.Version != 1 {
			t.Errorf("d.Version = %v, want 1; Decide(%s, %s, %s) = %+v, %v; want allowed %v by %q at 1", d.Version, tc.department, tc.dataType, tc.purpose, d, err, tc.allowed, tc.rule)
		}
	}

	// A policy exists now: nothing is loaded again.
	loaded, v, err = e.LoadDefaults(ctx, "system")
	if err != nil || loaded || v != 1 {
		t.Fatalf("second LoadDefaults = %v, %d, %v", loaded, v, err)
	}
	// An administrator who empties the policy means it.
	if _, err := e.Replace(ctx, "alice", PolicySet{}, "close everything"); err != nil {
		t.Fatal(err)
	}
	loaded, v, err = e.LoadDefaults(ctx, "system")
	if err != nil || loaded || v != 2 {
		t.Fatalf("LoadDefaults after emptying = %v, %d, %v", loaded, v, err)
	}
	l, err := e.Rules(ctx)
	if err != nil {
		t.Fatalf("err = %v, want nil; rules after emptying: %+v, %v", err, l, err)
	}
	if len(l.Rules)+len(l.Roles) != 0 {
		t.Fatalf("len(l.Rules)+len(l.Roles) = %v, want 0; rules after emptying: %+v, %v", len(l.Rules)+len(l.Roles), l, err)
	}
}
