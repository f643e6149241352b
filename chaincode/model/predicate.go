package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Predicate is a catalogued yes/no question about a record of a data type,
// e.g. "holds a bachelor's degree or higher". Expression is the condition
// as JSON text (see Condition); it is kept as text on the ledger so the
// catalogue is one agreed string every party evaluates the same way.
type Predicate struct {
	ID         string `json:"id"` // ^[a-z][a-z0-9_]{1,63}$, unique within the data type
	Name       string `json:"name"`
	NameEN     string `json:"name_en,omitempty" metadata:",optional"`
	Expression string `json:"expression"`
}

// Limits of the predicate catalogue.
const (
	MaxPredicates        = 32
	MaxExpressionBytes   = 4 << 10
	maxConditionDepth    = 4
	maxConditionChildren = 16
)

var predicateIDRe = regexp.MustCompile(`^[a-z][a-z0-9_]{1,63}$`)

// ValidPredicateID reports whether s is a predicate id.
func ValidPredicateID(s string) bool { return predicateIDRe.MatchString(s) }

// Condition is the parsed form of a predicate expression. A leaf compares
// one top-level claim of the record:
//
//	{"claim":"degree","op":"in","values":["bachelor","master","doctor"]}
//	{"claim":"birth_date","op":"age_at_least","value":18}
//	{"claim":"city","op":"eq","value":"上海市"}
//	{"claim":"gpa","op":"gte","value":3}
//
// and a branch combines conditions: {"all":[…]} or {"any":[…]}.
//
// Operators: eq, ne (any JSON value, compared after decoding), in, not_in
// (values), gt, gte, lt, lte (numbers, or dates YYYY-MM-DD against a date
// value), age_at_least (a YYYY-MM-DD claim, whole years at the evaluation
// date), exists.
type Condition struct {
	Claim  string            `json:"claim,omitempty"`
	Op     string            `json:"op,omitempty"`
	Value  json.RawMessage   `json:"value,omitempty"`
	Values []json.RawMessage `json:"values,omitempty"`
	All    []Condition       `json:"all,omitempty"`
	Any    []Condition       `json:"any,omitempty"`
}

// Predicate operators.
const (
	OpEq         = "eq"
	OpNe         = "ne"
	OpIn         = "in"
	OpNotIn      = "not_in"
	OpGt         = "gt"
	OpGte        = "gte"
	OpLt         = "lt"
	OpLte        = "lte"
	OpAgeAtLeast = "age_at_least"
	OpExists     = "exists"
)

var claimNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ParseCondition parses and checks a predicate expression.
func ParseCondition(expr string) (Condition, error) {
	if len(expr) > MaxExpressionBytes {
		return Condition{}, Invalid("expression is larger than %d bytes", MaxExpressionBytes)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(expr)))
	dec.DisallowUnknownFields()
	var c Condition
	if err := dec.Decode(&c); err != nil {
		return Condition{}, Invalid("expression is not a condition object")
	}
	if dec.More() {
		return Condition{}, Invalid("expression has trailing data")
	}
	if err := c.check(0); err != nil {
		return Condition{}, err
	}
	return c, nil
}

func (c Condition) check(depth int) error {
	if depth > maxConditionDepth {
		return Invalid("expression nests deeper than %d levels", maxConditionDepth)
	}
	branches := 0
	for _, b := range [][]Condition{c.All, c.Any} {
		if b != nil {
			branches++
		}
	}
	leaf := c.Claim != "" || c.Op != "" || c.Value != nil || c.Values != nil
	switch {
	case branches == 1 && !leaf:
		kids := c.All
		if kids == nil {
			kids = c.Any
		}
		if len(kids) == 0 || len(kids) > maxConditionChildren {
			return Invalid("all/any must hold 1 to %d conditions", maxConditionChildren)
		}
		for _, k := range kids {
			if err := k.check(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case branches == 0 && leaf:
		return c.checkLeaf()
	default:
		return Invalid("a condition is either a comparison (claim, op) or one of all/any")
	}
}

func (c Condition) checkLeaf() error {
	if !claimNameRe.MatchString(c.Claim) {
		return Invalid("claim must name a top-level claim")
	}
	switch c.Op {
	case OpEq, OpNe:
		if c.Value == nil || c.Values != nil {
			return Invalid("%s needs value", c.Op)
		}
	case OpIn, OpNotIn:
		if c.Value != nil || len(c.Values) == 0 || len(c.Values) > 64 {
			return Invalid("%s needs 1 to 64 values", c.Op)
		}
	case OpGt, OpGte, OpLt, OpLte:
		if c.Values != nil || c.Value == nil {
			return Invalid("%s needs value", c.Op)
		}
		if _, ok := number(c.Value); !ok {
			if _, ok := date(c.Value); !ok {
				return Invalid("%s needs a number or a YYYY-MM-DD date", c.Op)
			}
		}
	case OpAgeAtLeast:
		n, ok := number(c.Value)
		if c.Values != nil || !ok || n < 0 || n > 150 || n != float64(int(n)) {
			return Invalid("age_at_least needs a whole number of years")
		}
	case OpExists:
		if c.Value != nil || c.Values != nil {
			return Invalid("exists takes no value")
		}
	default:
		return Invalid("op %q is not a predicate operator", c.Op)
	}
	return nil
}

// ErrClaimMissing is returned (wrapped) by Evaluate when the record lacks a
// claim the condition compares, or holds it with another type.
var ErrClaimMissing = fmt.Errorf("record lacks a claim of the predicate")

// Evaluate answers the condition for a record (its top-level claims) at the
// date of at. A record that lacks a compared claim, or holds it with a type
// the operator cannot compare, is an error wrapping ErrClaimMissing: the
// question does not apply, which is not the same as "no".
func (c Condition) Evaluate(record map[string]json.RawMessage, at time.Time) (bool, error) {
	switch {
	case c.All != nil:
		for _, k := range c.All {
			ok, err := k.Evaluate(record, at)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case c.Any != nil:
		for _, k := range c.Any {
			ok, err := k.Evaluate(record, at)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	v, found := record[c.Claim]
	if c.Op == OpExists {
		return found && string(v) != "null", nil
	}
	if !found {
		return false, fmt.Errorf("claim %s: %w", c.Claim, ErrClaimMissing)
	}
	switch c.Op {
	case OpEq:
		return sameJSON(v, c.Value), nil
	case OpNe:
		return !sameJSON(v, c.Value), nil
	case OpIn, OpNotIn:
		in := false
		for _, w := range c.Values {
			in = in || sameJSON(v, w)
		}
		return in == (c.Op == OpIn), nil
	case OpAgeAtLeast:
		born, ok := date(v)
		if !ok {
			return false, fmt.Errorf("claim %s is not a date: %w", c.Claim, ErrClaimMissing)
		}
		years, _ := number(c.Value)
		return !born.AddDate(int(years), 0, 0).After(at.UTC()), nil
	default:
		return c.compare(v)
	}
}

func (c Condition) compare(v json.RawMessage) (bool, error) {
	var cmp int
	if want, ok := number(c.Value); ok {
		got, ok := number(v)
		if !ok {
			return false, fmt.Errorf("claim %s is not a number: %w", c.Claim, ErrClaimMissing)
		}
		cmp = compareFloat(got, want)
	} else {
		want, _ := date(c.Value)
		got, ok := date(v)
		if !ok {
			return false, fmt.Errorf("claim %s is not a date: %w", c.Claim, ErrClaimMissing)
		}
		cmp = got.Compare(want)
	}
	switch c.Op {
	case OpGt:
		return cmp > 0, nil
	case OpGte:
		return cmp >= 0, nil
	case OpLt:
		return cmp < 0, nil
	default:
		return cmp <= 0, nil
	}
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func number(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] == '"' { // json.Number would accept a quoted number
		return 0, false
	}
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

func date(v json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil || len(s) != len("2006-01-02") {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// sameJSON compares two JSON values after decoding, so 1 and 1.0, or
// differently spaced objects, are equal.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func checkPredicates(ps []Predicate) error {
	if len(ps) > MaxPredicates {
		return Invalid("predicates has more than %d entries", MaxPredicates)
	}
	for i, p := range ps {
		field := fmt.Sprintf("predicates[%d]", i)
		if !ValidPredicateID(p.ID) {
			return Invalid("%s.id must match ^[a-z][a-z0-9_]{1,63}$", field)
		}
		for _, prev := range ps[:i] {
			if prev.ID == p.ID {
				return Invalid("%s.id %q is listed twice", field, p.ID)
			}
		}
		if err := checkText(field+".name", p.Name, true, MaxNameRunes); err != nil {
			return err
		}
		if err := checkText(field+".name_en", p.NameEN, false, MaxNameRunes); err != nil {
			return err
		}
		if _, err := ParseCondition(p.Expression); err != nil {
			return Prefixed(err, field+".expression")
		}
	}
	return nil
}
