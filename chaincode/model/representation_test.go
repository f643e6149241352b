package model

import (
	"testing"
	"time"
)

func TestComingOfAge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ birth, want string }{
		{"2010-06-15", "2028-06-14T16:00:00Z"},
		{"2008-02-29", "2026-02-28T16:00:00Z"}, // 1 March UTC+8
		{"2012-01-01", "2029-12-31T16:00:00Z"},
	} {
		got, err := AdultFrom(c.birth)
		if err != nil || FormatTime(got) != c.want {
			t.Errorf("AdultFrom(%s) = %s %v, want %s", c.birth, FormatTime(got), err, c.want)
		}
	}
	if _, err := AdultFrom("2010-02-30"); err == nil {
		t.Error("a date that does not exist was read")
	}
}

func TestRepresentationWindowAndValidity(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	parent := RepresentationDraft{Kind: RepresentationParent, WardBirthDate: "2012-05-01"}
	from, until, err := parent.Window(now)
	if err != nil || !from.Equal(now) || FormatTime(until) != "2030-04-30T16:00:00Z" {
		t.Fatalf("parent window: %v %v %v", from, until, err)
	}
	// An end date after the 18th birthday is capped at it; one before it is kept.
	parent.ValidUntil = "2035-01-01T00:00:00Z"
	if _, until, _ := parent.Window(now); FormatTime(until) != "2030-04-30T16:00:00Z" {
		t.Errorf("capped: %v", until)
	}
	parent.ValidUntil = "2027-01-01T00:00:00Z"
	if _, until, _ := parent.Window(now); FormatTime(until) != "2027-01-01T00:00:00Z" {
		t.Errorf("kept: %v", until)
	}
	r := Representation{Kind: RepresentationParent, WardBirthDate: "2012-05-01", Status: RepresentationActive,
		ValidFrom: "2026-03-01T09:00:00Z", ValidUntil: "2040-01-01T00:00:00Z"}
	for _, c := range []struct {
		at     time.Time
		ok     bool
		reason string
	}{
		{now.Add(-time.Second), false, RepresentationNotYetValid},
		{now, true, ""},
		{time.Date(2030, 4, 30, 15, 59, 59, 0, time.UTC), true, ""},
		// Even with a later recorded end, the ward's coming of age ends it.
		{time.Date(2030, 4, 30, 16, 0, 0, 0, time.UTC), false, RepresentationExpired},
	} {
		if ok, reason := r.ValidAt(c.at); ok != c.ok || reason != c.reason {
			t.Errorf("ValidAt(%v) = %v %q, want %v %q", c.at, ok, reason, c.ok, c.reason)
		}
	}
	r.Status = RepresentationEnded
	if ok, reason := r.ValidAt(now); ok || reason != RepresentationEndedReason {
		t.Errorf("ended: %v %q", ok, reason)
	}
	if r.Overlaps(now, now.Add(time.Hour)) {
		t.Error("an ended relation overlaps")
	}
	adult := RepresentationDraft{Kind: RepresentationParent, WardBirthDate: "2008-03-01"}
	if _, _, err := adult.Window(now); CodeOf(err) != CodeConflict {
		t.Errorf("adult ward: %v", err)
	}
	if !ValidRepresentationID(DeriveRepresentationID("tx")) || ValidRepresentationID("rp-XYZ") || ValidRepresentationID(DeriveRuleID("tx")) {
		t.Error("representation ids")
	}
}
