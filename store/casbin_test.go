package store_test

import (
	"testing"

	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/store/storetest"
)

// The policy engine keeps its tables (policy_rules, policy_versions) in the
// store's database through Gorm(), beside the store's own tables, and a
// second replica reads what the first saved.
func TestPolicyEngineSharesTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		engine := func() *policies.Engine {
			e, err := policies.New(ctx, policies.Config{DB: d.Open(t).Gorm(), PollInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
			return e
		}
		first := engine()
		if _, _, err := first.LoadDefaults(ctx, "installer"); err != nil {
			t.Fatal(err)
		}
		v, err := first.AddRule(ctx, "admin-1", policies.Rule{Subject: "test-dept", DataType: "edu.degree", Purpose: "audit", Effect: "allow"})
		if err != nil || v == 0 {
			t.Fatalf("add rule: version %d, %v", v, err)
		}
		second := engine()
		if second.Version() != v {
			t.Fatalf("second replica at version %d, want %d", second.Version(), v)
		}
		dec, err := second.Decide(ctx, "test-dept", "edu.degree", "audit")
		if err != nil {
			t.Fatalf("err = %v, want nil; decision %+v, %v", err, dec, err)
		}
		if !dec.Allowed {
			t.Fatalf("dec.Allowed is false; decision %+v, %v", dec, err)
		}
		if dec.Version != v {
			t.Fatalf("dec.Version = %v, want v; decision %+v, %v", dec.Version, dec, err)
		}
		// The store's own tables are untouched by the engine's migration.
		if got, err := d.Open(t).AppliedMigrations(ctx); err != nil || len(got) == 0 {
			t.Fatalf("store migrations after the engine's: %v %v", got, err)
		}
	})
}
