package policies

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

func TestEveryChangeBumpsTheVersion(t *testing.T) {
	backends(t, func(t *testing.T, db *gorm.DB) {
		now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		e := newEngine(t, Config{DB: db, Clock: routing.ClockFunc(func() time.Time { return now })})
		ctx := context.Background()
		allow := Rule{"hrss", "edu.*", "employment", EffectAllow}
		deny := Rule{"hrss", "edu.transcript", "employment", EffectDeny}
		role := RoleMapping{"edu-bureau", "education"}
		roleRule := Rule{"education", "civil.household", "admission", EffectAllow}

		type step struct {
			do      func() (int64, error)
			summary string
			// the decision that must hold once the step is done
			department, dataType, purpose string
			allowed                       bool
		}
		steps := []step{
			{func() (int64, error) { return e.AddRule(ctx, "alice", allow) },
				"add rule p, hrss, edu.*, employment, allow", "hrss", "edu.transcript", "employment", true},
			{func() (int64, error) { return e.AddRule(ctx, "alice", deny) },
				"add rule p, hrss, edu.transcript, employment, deny", "hrss", "edu.transcript", "employment", false},
			{func() (int64, error) { return e.AddRule(ctx, "bob", roleRule) },
				"add rule p, education, civil.household, admission, allow", "edu-bureau", "civil.household", "admission", false},
			{func() (int64, error) { return e.AddRole(ctx, "bob", role) },
				"add role mapping g, edu-bureau, education", "edu-bureau", "civil.household", "admission", true},
			{func() (int64, error) { return e.RemoveRole(ctx, "bob", role) },
				"remove role mapping g, edu-bureau, education", "edu-bureau", "civil.household", "admission", false},
			{func() (int64, error) { return e.RemoveRule(ctx, "alice", deny) },
				"remove rule p, hrss, edu.transcript, employment, deny", "hrss", "edu.transcript", "employment", true},
			{func() (int64, error) {
				return e.Replace(ctx, "carol", PolicySet{Rules: []Rule{deny}, Roles: []RoleMapping{role}}, "quarterly review")
			}, "replace policy: 1 rules, 1 role mappings (quarterly review)", "hrss", "edu.transcript", "employment", false},
		}
		for i, s := range steps {
			v, err := s.do()
			if err != nil {
				t.Fatalf("step %d (%s): %v", i+1, s.summary, err)
			}
			if v != int64(i+1) || e.Version() != v {
				t.Fatalf("step %d: version %d, engine at %d", i+1, v, e.Version())
			}
			d, err := e.Decide(ctx, s.department, s.dataType, s.purpose)
			if err != nil {
				t.Fatalf("err = %v, want nil; step %d (%s): Decide = %+v, %v; want allowed %v at version %d", err, i+1, s.summary, d, err, s.allowed, v)
			}
			if d.Allowed != s.allowed {
				t.Fatalf("d.Allowed = %v, want s.allowed; step %d (%s): Decide = %+v, %v; want allowed %v at version %d", d.Allowed, i+1, s.summary, d, err, s.allowed, v)
			}
			if d.Version != v {
				t.Fatalf("d.Version = %v, want v; step %d (%s): Decide = %+v, %v; want allowed %v at version %d", d.Version, i+1, s.summary, d, err, s.allowed, v)
			}
		}

		h, err := e.History(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != len(steps) {
			t.Fatalf("history has %d entries, want %d", len(h), len(steps))
		}
		for i, entry := range h { // newest first
			want := steps[len(steps)-1-i].summary
			if entry.Version != int64(len(steps)-i) {
				t.Errorf("entry.Version = %v, want int64(len(steps)-i); history[%d] = %+v, want version %d %q", entry.Version, i, entry, len(steps)-i, want)
			} else if entry.Summary != want {
				t.Errorf("entry.Summary = %v, want want; history[%d] = %+v, want version %d %q", entry.Summary, i, entry, len(steps)-i, want)
			} else if !entry.CreatedAt.Equal(now) {
				t.Errorf("entry.CreatedAt.Equal(now) is false; history[%d] = %+v, want version %d %q", i, entry, len(steps)-i, want)
			} else if entry.ChangedBy == "" {
				t.Errorf("entry.ChangedBy == \"\", want it different; history[%d] = %+v, want version %d %q", i, entry, len(steps)-i, want)
			}
		}
		if h[0].ChangedBy != "carol" || h[len(h)-1].ChangedBy != "alice" {
			t.Errorf("changed_by: newest %q, oldest %q", h[0].ChangedBy, h[len(h)-1].ChangedBy)
		}
		if h2, err := e.History(ctx, 2); err != nil {
			t.Errorf("err = %v, want nil; History(2) = %+v, %v", err, h2, err)
		} else if len(h2) != 2 {
			t.Errorf("len(h2) = %v, want 2; History(2) = %+v, %v", len(h2), h2, err)
		} else if h2[0].Version != 7 {
			t.Errorf("h2[0].Version = %v, want 7; History(2) = %+v, %v", h2[0].Version, h2, err)
		}

		l, err := e.Rules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l.Version != 7 {
			t.Errorf("l.Version = %v, want 7; Rules = %+v", l.Version, l)
		} else if len(l.Rules) != 1 {
			t.Errorf("len(l.Rules) = %v, want 1; Rules = %+v", len(l.Rules), l)
		} else if l.Rules[0] != deny {
			t.Errorf("l.Rules[0] = %v, want deny; Rules = %+v", l.Rules[0], l)
		} else if len(l.Roles) != 1 {
			t.Errorf("len(l.Roles) = %v, want 1; Rules = %+v", len(l.Roles), l)
		} else if l.Roles[0] != role {
			t.Errorf("l.Roles[0] = %v, want role; Rules = %+v", l.Roles[0], l)
		} else if l.Problem != "" {
			t.Errorf("l.Problem = %q, want \"\"; Rules = %+v", l.Problem, l)
		}
	})
}

func TestRefusedChangesLeaveTheVersion(t *testing.T) {
	backends(t, func(t *testing.T, db *gorm.DB) {
		e := engineWith(t, db, "decisions.csv")
		ctx := context.Background()
		before := e.Version()
		existing := Rule{"hrss", "*", "audit", EffectAllow}
		for _, tc := range []struct {
			name  string
			do    func() (int64, error)
			kind  routing.Kind
			code  string
			field string
		}{
			{"duplicate rule", func() (int64, error) { return e.AddRule(ctx, "alice", existing) },
				routing.KindConflict, "rule_exists", ""},
			{"missing rule", func() (int64, error) {
				return e.RemoveRule(ctx, "alice", Rule{"hrss", "*", "audit", EffectDeny})
			}, routing.KindNotFound, "rule_not_found", ""},
			{"duplicate role mapping", func() (int64, error) {
				return e.AddRole(ctx, "alice", RoleMapping{"hrss", "social-security"})
			}, routing.KindConflict, "role_exists", ""},
			{"missing role mapping", func() (int64, error) {
				return e.RemoveRole(ctx, "alice", RoleMapping{"hrss", "education"})
			}, routing.KindNotFound, "role_not_found", ""},
			{"invalid subject", func() (int64, error) {
				return e.AddRule(ctx, "alice", Rule{"Hrss", "edu.*", "employment", EffectAllow})
			}, routing.KindInvalid, "invalid", "subject"},
			{"invalid pattern", func() (int64, error) {
				return e.AddRule(ctx, "alice", Rule{"hrss", "edu*", "employment", EffectAllow})
			}, routing.KindInvalid, "invalid", "data_type"},
			{"invalid purpose", func() (int64, error) {
				return e.RemoveRule(ctx, "alice", Rule{"hrss", "edu.*", "Employment", EffectAllow})
			}, routing.KindInvalid, "invalid", "purpose"},
			{"invalid effect", func() (int64, error) {
				return e.AddRule(ctx, "alice", Rule{"hrss", "edu.*", "employment", "permit"})
			}, routing.KindInvalid, "invalid", "effect"},
			{"invalid member", func() (int64, error) {
				return e.AddRole(ctx, "alice", RoleMapping{"*", "education"})
			}, routing.KindInvalid, "invalid", "member"},
			{"invalid role", func() (int64, error) {
				return e.RemoveRole(ctx, "alice", RoleMapping{"hrss", "hrss"})
			}, routing.KindInvalid, "invalid", "role"},
			{"nobody", func() (int64, error) {
				return e.AddRule(ctx, "", Rule{"hrss", "edu.*", "employment", EffectAllow})
			}, routing.KindInvalid, "invalid", "changed_by"},
			{"control character in changed_by", func() (int64, error) {
				return e.AddRule(ctx, "alice\n", Rule{"hrss", "edu.*", "employment", EffectAllow})
			}, routing.KindInvalid, "invalid", "changed_by"},
			{"replace with a bad item", func() (int64, error) {
				return e.Replace(ctx, "alice", PolicySet{Rules: []Rule{existing, {"hrss", "edu.*", "", EffectAllow}}}, "")
			}, routing.KindInvalid, "invalid", "rules[1].purpose"},
			{"replace with a duplicate", func() (int64, error) {
				return e.Replace(ctx, "alice", PolicySet{Rules: []Rule{existing, existing}}, "")
			}, routing.KindInvalid, "invalid", "rules[1]"},
			{"replace with a bad role mapping", func() (int64, error) {
				return e.Replace(ctx, "alice", PolicySet{Roles: []RoleMapping{{"hrss", "x"}}}, "")
			}, routing.KindInvalid, "invalid", "roles[0].role"},
			{"replace with a long note", func() (int64, error) {
				return e.Replace(ctx, "alice", PolicySet{}, strings.Repeat("n", 501))
			}, routing.KindInvalid, "invalid", "note"},
		} {
			v, err := tc.do()
			if v != 0 || !routing.IsKind(err, tc.kind) || routing.CodeOf(err) != tc.code || fieldOf(err) != tc.field {
				t.Errorf("%s: %d, %v; want %s (%s) field %q", tc.name, v, err, tc.kind, tc.code, tc.field)
			}
		}
		if e.Version() != before {
			t.Errorf("version moved from %d to %d", before, e.Version())
		}
		if h, _ := e.History(ctx, 10); len(h) != 1 {
			t.Errorf("history has %d entries, want the fixture's one", len(h))
		}
		if _, err := e.History(ctx, 1001); fieldOf(err) != "limit" {
			t.Errorf("History(1001) = %v", err)
		}
	})
}

// A rule written into the table behind the engine's back, which the engine
// would refuse, stops every decision until the policy is replaced.
func TestInvalidStoredRuleFailsClosed(t *testing.T) {
	db := openSQLite(t)
	e := engineWith(t, db, "decisions.csv")
	ctx := context.Background()
	if err := db.Exec("INSERT INTO policy_rules (ptype, v0, v1, v2, v3, v4, v5) VALUES ('p', 'hrss', 'edu*', 'employment', 'deny', '', '')").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("INSERT INTO policy_versions (version, changed_by, summary, created_at) VALUES (?, 'dba', 'manual edit', ?)", e.Version()+1, time.Now()).Error; err != nil {
		t.Fatal(err)
	}
	l, err := e.Rules(ctx)
	if err != nil {
		t.Fatalf("err = %v, want nil; Rules = %+v, %v; want the bad rule named", err, l, err)
	}
	if !strings.Contains(l.Problem, "edu*") {
		t.Fatalf("strings.Contains(l.Problem, \"edu*\") is false; Rules = %+v, %v; want the bad rule named", l, err)
	}
	_, err = e.Decide(ctx, "hrss", "edu.degree", "employment")
	if routing.CodeOf(err) != "policy_invalid" {
		t.Fatalf("Decide with an invalid stored rule = %v", err)
	}
	if _, err := e.Explain(ctx, "hrss", "edu.degree", "employment"); routing.CodeOf(err) != "policy_invalid" {
		t.Fatalf("Explain with an invalid stored rule = %v", err)
	}
	// A second replica starting now refuses as well.
	other := newEngine(t, Config{DB: db, PollInterval: -1})
	if _, err := other.Decide(ctx, "hrss", "edu.degree", "employment"); routing.CodeOf(err) != "policy_invalid" {
		t.Fatalf("fresh replica Decide = %v", err)
	}

	if _, err := e.Replace(ctx, "alice", loadPolicyFile(t, "decisions.csv"), "repair"); err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(ctx, "hrss", "edu.degree", "employment")
	if err != nil {
		t.Fatalf("err = %v, want nil; after repair: %+v, %v", err, d, err)
	}
	if !d.Allowed {
		t.Fatalf("d.Allowed is false; after repair: %+v, %v", d, err)
	}
}
