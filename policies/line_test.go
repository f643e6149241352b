package policies

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

func TestLinesAddAndRemoveRulesAndRoleMemberships(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *gorm.DB) {
		now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		e := newEngine(t, Config{DB: db, Clock: routing.ClockFunc(func() time.Time { return now })})
		ctx := context.Background()
		rule := Line{Kind: LineRule, Subject: "education", Object: "civil.household", Action: "admission", Effect: EffectAllow}
		role := Line{Kind: LineRole, Subject: "edu-bureau", Role: "education"}
		for _, l := range []Line{rule, role} {
			if _, err := e.AddLine(ctx, "admin:root", l); err != nil {
				t.Fatalf("AddLine(%+v): %v", l, err)
			}
		}
		got, err := e.Lines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Line{rule, role}; !slices.Equal(got, want) {
			t.Fatalf("Lines = %+v, want %+v", got, want)
		}
		if d, err := e.Decide(ctx, "edu-bureau", "civil.household", "admission"); err != nil {
			t.Errorf("err = %v, want nil; the member of education is not allowed by its rule: %+v, %v", err, d, err)
		} else if !d.Allowed {
			t.Errorf("d.Allowed is false; the member of education is not allowed by its rule: %+v, %v", d, err)
		}
		if _, err := e.RemoveLine(ctx, "admin:root", role); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.Lines(ctx); !slices.Equal(got, []Line{rule}) {
			t.Errorf("after removing the membership Lines = %+v", got)
		}
		for _, kind := range []string{"x", "P"} {
			_, err := e.AddLine(ctx, "admin:root", Line{Kind: kind, Subject: "hrss"})
			if !routing.IsKind(err, routing.KindInvalid) {
				t.Errorf("AddLine with kind %q = %v, want invalid", kind, err)
			}
			var re *routing.Error
			if errors.As(err, &re) && re.Field != "kind" {
				t.Errorf("AddLine with kind %q names field %q, want kind", kind, re.Field)
			}
		}
	})
}
