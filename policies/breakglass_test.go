package policies

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

// A grant applies to the department or the roles it holds, for its data
// type pattern and purpose, only where the rules allow the request; it is
// a new policy version; overlapping grants give the shortest seal; a
// removed grant stops applying.
func TestBreakGlassGrants(t *testing.T) {
	backends(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		e := newEngine(t, Config{DB: db})
		for _, l := range []Line{
			{Kind: LineRule, Subject: "police", Object: "health.*", Action: "criminal_investigation", Effect: EffectAllow},
			{Kind: LineRule, Subject: "police", Object: "health.genome", Action: "criminal_investigation", Effect: EffectDeny},
			{Kind: LineRole, Subject: "city-police", Role: "police"},
		} {
			if _, err := e.AddLine(ctx, "admin:alice", l); err != nil {
				t.Fatal(err)
			}
		}
		before := e.Version()
		v, err := e.SetBreakGlass(ctx, "admin:alice", Grant{Subject: "police", DataType: "health.*", Purpose: "criminal_investigation", SealDays: 90})
		if err != nil || v != before+1 {
			t.Fatalf("set: v=%d (before %d), %v", v, before, err)
		}
		decide := func(dept, dt string) routing.Decision {
			d, err := e.Decide(ctx, dept, dt, "criminal_investigation")
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		d := decide("city-police", "health.record")
		if !d.Allowed || d.BreakGlass == nil || d.BreakGlass.Seal != 90*24*time.Hour || d.Version != v {
			t.Fatalf("through the role: %+v", d)
		}
		if d := decide("city-police", "health.genome"); d.Allowed || d.BreakGlass != nil {
			t.Fatalf("a deny rule must win over the grant: %+v", d)
		}
		if d := decide("hrss", "health.record"); d.BreakGlass != nil {
			t.Fatalf("a department outside the role got the grant: %+v", d)
		}
		// A narrower grant with a shorter seal wins where both apply.
		if _, err := e.SetBreakGlass(ctx, "admin:alice", Grant{Subject: "city-police", DataType: "health.record", Purpose: "criminal_investigation", SealDays: 7}); err != nil {
			t.Fatal(err)
		}
		if d := decide("city-police", "health.record"); d.BreakGlass == nil || d.BreakGlass.Seal != 7*24*time.Hour {
			t.Fatalf("shortest seal: %+v", d)
		}
		// Setting again changes the seal.
		if _, err := e.SetBreakGlass(ctx, "admin:bob", Grant{Subject: "city-police", DataType: "health.record", Purpose: "criminal_investigation", SealDays: 120}); err != nil {
			t.Fatal(err)
		}
		grants, err := e.BreakGlassGrants(ctx)
		if err != nil || len(grants) != 2 || grants[0].Subject != "city-police" || grants[0].SealDays != 120 || grants[0].CreatedBy != "admin:bob" {
			t.Fatalf("grants %+v, %v", grants, err)
		}
		if d := decide("city-police", "health.record"); d.BreakGlass == nil || d.BreakGlass.Seal != 90*24*time.Hour {
			t.Fatalf("after the change: %+v", d)
		}
		if _, err := e.RemoveBreakGlass(ctx, "admin:alice", Grant{Subject: "police", DataType: "health.*", Purpose: "criminal_investigation"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RemoveBreakGlass(ctx, "admin:alice", Grant{Subject: "police", DataType: "health.*", Purpose: "criminal_investigation"}); !isCode(err, "break_glass_not_found") {
			t.Fatalf("second removal: %v", err)
		}
		if d := decide("city-police", "health.other"); !d.Allowed || d.BreakGlass != nil {
			t.Fatalf("removed grant still applies: %+v", d)
		}
		x, err := e.Explain(ctx, "city-police", "health.record", "criminal_investigation")
		if err != nil || x.BreakGlass == nil || x.BreakGlass.SealDays != 120 {
			t.Fatalf("explain: %+v, %v", x, err)
		}
	})
}

func TestBreakGlassGrantValidation(t *testing.T) {
	e := newEngine(t, Config{DB: openSQLite(t)})
	ok := Grant{Subject: "police", DataType: "health.record", Purpose: "emergency_care", SealDays: 30}
	for name, tc := range map[string]struct {
		edit  func(*Grant)
		field string
	}{
		"every department": {func(g *Grant) { g.Subject = "*" }, "subject"},
		"bad subject":      {func(g *Grant) { g.Subject = "Police!" }, "subject"},
		"every data type":  {func(g *Grant) { g.DataType = "*" }, "data_type"},
		"bad pattern":      {func(g *Grant) { g.DataType = "health*" }, "data_type"},
		"every purpose":    {func(g *Grant) { g.Purpose = "*" }, "purpose"},
		"negative seal":    {func(g *Grant) { g.SealDays = -1 }, "seal_days"},
		"seal too long":    {func(g *Grant) { g.SealDays = MaxSealDays + 1 }, "seal_days"},
	} {
		g := ok
		tc.edit(&g)
		if _, err := e.SetBreakGlass(context.Background(), "admin:alice", g); fieldOf(err) != tc.field {
			t.Errorf("%s: %v, want field %s", name, err, tc.field)
		}
	}
	if v := e.Version(); v != 0 {
		t.Fatalf("refused grants changed the policy to version %d", v)
	}
}
