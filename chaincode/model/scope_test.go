package model

import "testing"

func TestConsentScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		entry          string
		valid          bool
		code, question string
	}{
		{"edu.degree", true, "edu.degree", ""},
		{"edu.degree#bachelor_or_higher", true, "edu.degree", "bachelor_or_higher"},
		{"edu.degree#", false, "edu.degree", ""},
		{"#bachelor_or_higher", false, "", "bachelor_or_higher"},
		{"edu.degree#Bachelor", false, "edu.degree", "Bachelor"},
		{"edu.degree#a#b", false, "edu.degree", "a#b"},
	} {
		if got := ValidConsentScope(tc.entry); got != tc.valid {
			t.Errorf("ValidConsentScope(%q) = %v", tc.entry, got)
		}
		code, q, _ := SplitQuestionScope(tc.entry)
		if code != tc.code || q != tc.question {
			t.Errorf("SplitQuestionScope(%q) = %q, %q", tc.entry, code, q)
		}
	}
	c := Consent{DataTypes: []string{"edu.degree#bachelor_or_higher", "civil.household"}}
	for entry, want := range map[string]bool{
		"edu.degree": false, "edu.degree#bachelor_or_higher": true, "edu.degree#adult": false,
		"civil.household": true, "civil.household#household_shanghai": true,
	} {
		if got := c.Covers(entry); got != want {
			t.Errorf("Covers(%q) = %v, want %v", entry, got, want)
		}
	}
}

func FuzzConsentScope(f *testing.F) {
	for _, s := range []string{"edu.degree", "edu.degree#bachelor_or_higher", "#", "a#b#c", "edu.degree#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidConsentScope(s) {
			return
		}
		code, q, isQuestion := SplitQuestionScope(s)
		if !ValidDataTypeCode(code) || (isQuestion && !ValidPredicateID(q)) {
			t.Fatalf("%q accepted with parts %q, %q", s, code, q)
		}
		if isQuestion && QuestionScope(code, q) != s {
			t.Fatalf("%q does not round-trip", s)
		}
		// A question never covers the record.
		if isQuestion && (Consent{DataTypes: []string{s}}).Covers(code) {
			t.Fatalf("question scope %q covers the record", s)
		}
	})
}
