package model_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

func record(t testing.TB, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPredicateEvaluate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	degree := `{"claim":"degree","op":"in","values":["bachelor","master","doctor"]}`
	adult := `{"claim":"birth_date","op":"age_at_least","value":18}`
	cases := []struct {
		name, expr, rec string
		want            bool
		missing         bool
	}{
		{"bachelor", degree, `{"degree":"bachelor"}`, true, false},
		{"doctor", degree, `{"degree":"doctor"}`, true, false},
		{"associate", degree, `{"degree":"associate"}`, false, false},
		{"no degree claim", degree, `{"major":"x"}`, false, true},
		{"18 today", adult, `{"birth_date":"2008-03-01"}`, true, false},
		{"18 tomorrow", adult, `{"birth_date":"2008-03-02"}`, false, false},
		{"birth date not a date", adult, `{"birth_date":"yesterday"}`, false, true},
		{"eq text", `{"claim":"city","op":"eq","value":"上海市"}`, `{"city":"上海市"}`, true, false},
		{"ne text", `{"claim":"city","op":"ne","value":"上海市"}`, `{"city":"深圳市"}`, true, false},
		{"eq number spelled differently", `{"claim":"n","op":"eq","value":3}`, `{"n":3.0}`, true, false},
		{"not_in", `{"claim":"s","op":"not_in","values":["closed"]}`, `{"s":"active"}`, true, false},
		{"gte number", `{"claim":"gpa","op":"gte","value":3}`, `{"gpa":3.6}`, true, false},
		{"lt number", `{"claim":"gpa","op":"lt","value":3}`, `{"gpa":3.6}`, false, false},
		{"quoted number is no number", `{"claim":"gpa","op":"gte","value":3}`, `{"gpa":"3.6"}`, false, true},
		{"date before", `{"claim":"awarded","op":"lt","value":"2015-01-01"}`, `{"awarded":"2012-07-01"}`, true, false},
		{"exists", `{"claim":"x","op":"exists"}`, `{"x":0}`, true, false},
		{"exists null", `{"claim":"x","op":"exists"}`, `{"x":null}`, false, false},
		{"all", `{"all":[` + degree + `,{"claim":"major","op":"eq","value":"law"}]}`, `{"degree":"master","major":"law"}`, true, false},
		{"all fails", `{"all":[` + degree + `,{"claim":"major","op":"eq","value":"law"}]}`, `{"degree":"master","major":"art"}`, false, false},
		{"any", `{"any":[{"claim":"a","op":"eq","value":1},{"claim":"b","op":"eq","value":2}]}`, `{"a":0,"b":2}`, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cond, err := model.ParseCondition(c.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cond.Evaluate(record(t, c.rec), at)
			if c.missing {
				if !errors.Is(err, model.ErrClaimMissing) {
					t.Fatalf("got %v, %v; want ErrClaimMissing", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestParseConditionRefuses(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		``, `[]`, `{}`, `{"claim":"a"}`, `{"claim":"a","op":"regex","value":"x"}`,
		`{"claim":"a","op":"eq"}`, `{"claim":"a","op":"in","values":[]}`, `{"claim":"a","op":"in","value":1}`,
		`{"claim":"a.b","op":"eq","value":1}`, `{"claim":"a","op":"gte","value":"soon"}`,
		`{"claim":"a","op":"age_at_least","value":18.5}`, `{"claim":"a","op":"exists","value":1}`,
		`{"all":[]}`, `{"all":[{"claim":"a","op":"exists"}],"any":[{"claim":"a","op":"exists"}]}`,
		`{"all":[{"claim":"a","op":"exists"}],"claim":"b","op":"exists"}`,
		`{"claim":"a","op":"exists","extra":1}`, `{"claim":"a","op":"exists"} {}`,
		`{"all":[{"all":[{"all":[{"all":[{"all":[{"all":[{"claim":"a","op":"exists"}]}]}]}]}]}]}`,
	} {
		if _, err := model.ParseCondition(expr); model.CodeOf(err) != model.CodeInvalid {
			t.Errorf("%s: %v, want INVALID", expr, err)
		}
	}
}

// FuzzParseCondition: arbitrary expressions never panic; one that parses
// evaluates without panicking against an arbitrary record.
func FuzzParseCondition(f *testing.F) {
	f.Add(`{"claim":"degree","op":"in","values":["bachelor","master"]}`, `{"degree":"bachelor"}`)
	f.Add(`{"any":[{"claim":"a","op":"gte","value":"2020-01-01"},{"claim":"b","op":"age_at_least","value":18}]}`, `{"a":"2021-05-05","b":"2000-01-01"}`)
	f.Add(`{"claim":"x","op":"lt","value":1e308}`, `{"x":-1e308}`)
	f.Fuzz(func(t *testing.T, expr, rec string) {
		cond, err := model.ParseCondition(expr)
		if err != nil {
			if model.CodeOf(err) != model.CodeInvalid {
				t.Fatalf("error without INVALID: %v", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(rec), &m) != nil {
			return
		}
		_, _ = cond.Evaluate(m, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	})
}
