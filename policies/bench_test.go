package policies

import (
	"context"
	"fmt"
	"testing"
)

// benchEngine loads the default policy plus extra generated rules that do
// not match the benchmarked question, so the uncached figures show how
// evaluation grows with the policy.
func benchEngine(b *testing.B, cacheSize, extra int) *Engine {
	b.Helper()
	e := newEngine(b, Config{DB: openSQLite(b), DecisionCacheSize: cacheSize, PollInterval: -1})
	set := DefaultPolicy()
	for i := range extra {
		set.Rules = append(set.Rules, Rule{
			Subject: fmt.Sprintf("dept-%04d", i), DataType: fmt.Sprintf("gen.type%d", i%50),
			Purpose: fmt.Sprintf("purpose_%d", i%20), Effect: EffectAllow,
		})
	}
	if _, err := e.Replace(context.Background(), "bench", set, ""); err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name       string
		cache      int
		extraRules int
	}{
		{"cached/default-policy", 0, 0},
		{"uncached/default-policy", -1, 0},
		{"cached/1000-more-rules", 0, 1000},
		{"uncached/1000-more-rules", -1, 1000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := benchEngine(b, bc.cache, bc.extraRules)
			if d, err := e.Decide(ctx, "hrss", "edu.degree", "employment"); err != nil {
				b.Fatalf("err = %v, want nil; %+v, %v", err, d, err)
			} else if !d.Allowed {
				b.Fatalf("d.Allowed is false; %+v, %v", d, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.Decide(ctx, "hrss", "edu.degree", "employment"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			e := benchEngine(b, bc.cache, 0)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.Decide(ctx, "hrss", "edu.degree", "employment"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkExplain(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Explain(ctx, "hrss", "edu.transcript", "employment"); err != nil {
			b.Fatal(err)
		}
	}
}
