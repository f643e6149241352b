package policies

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Effects of a rule.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// Any is the wildcard: as a subject it names every department, as a data
// type every code, as a purpose every purpose.
const Any = "*"

// Limits on what a rule may hold. Stored values live in varchar(100)
// columns of the adapter's table.
const (
	maxPatternLen  = 100
	maxChangedBy   = 128
	maxNoteRunes   = 500
	maxPolicyItems = 10000
)

var (
	// Subjects share the department id syntax: a role name is written like
	// a department id, so the two live in one namespace.
	subjectRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)
	// dataTypePrefixRe is what may stand before ".*": one or more segments
	// of a data type code ("edu", "edu.degree").
	dataTypePrefixRe = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)*$`)
)

// Rule is one policy rule: Subject may (allow) or may not (deny) obtain
// data of the types matched by DataType for Purpose.
type Rule struct {
	Subject  string `json:"subject"`   // department id, role name or *
	DataType string `json:"data_type"` // edu.degree, edu.* or *
	Purpose  string `json:"purpose"`   // purpose code or *
	Effect   string `json:"effect"`    // allow | deny
}

// String renders the rule the way Casbin writes it:
// "p, edu-bureau, edu.*, admission, allow".
func (r Rule) String() string {
	return "p, " + r.Subject + ", " + r.DataType + ", " + r.Purpose + ", " + r.Effect
}

func ruleFromValues(v []string) (Rule, bool) {
	if len(v) != 4 {
		return Rule{}, false
	}
	return Rule{Subject: v[0], DataType: v[1], Purpose: v[2], Effect: v[3]}, true
}

// RoleMapping puts Member (a department, or another role) in Role: every
// rule naming Role applies to Member.
type RoleMapping struct {
	Member string `json:"member"`
	Role   string `json:"role"`
}

// String renders the mapping the way Casbin writes it: "g, edu-bureau, education".
func (m RoleMapping) String() string { return "g, " + m.Member + ", " + m.Role }

// PolicySet is a whole policy: rules and role mappings, in order.
type PolicySet struct {
	Rules []Rule        `json:"rules"`
	Roles []RoleMapping `json:"roles"`
}

// String renders the set in the CSV form ParsePolicy reads.
func (s PolicySet) String() string {
	var b strings.Builder
	for _, m := range s.Roles {
		b.WriteString(m.String())
		b.WriteByte('\n')
	}
	for _, r := range s.Rules {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// DataTypeMatch reports whether the data type code dataType is covered by
// pattern: "*" covers every code, "edu.*" every code below "edu" (at any
// depth: edu.degree, edu.degree.bachelor) but neither "edu" itself nor
// "education.x", and any other pattern only the identical code. A pattern
// holding "*" anywhere else covers nothing.
//
// Casbin's keyMatch would let "edu*" cover "education.x" and read
// "edu.*.x" as "edu.*"; globMatch brings ?, [...] and {a,b} into the rule
// syntax. This function keeps the syntax to what ValidateRule accepts.
func DataTypeMatch(dataType, pattern string) bool {
	if pattern == Any {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		if prefix == "" || strings.Contains(prefix, "*") {
			return false
		}
		return len(dataType) > len(prefix)+1 && dataType[len(prefix)] == '.' && strings.HasPrefix(dataType, prefix)
	}
	if strings.Contains(pattern, "*") {
		return false
	}
	return dataType == pattern
}

// dataTypeMatchFunc adapts DataTypeMatch to Casbin's function signature.
func dataTypeMatchFunc(args ...any) (any, error) {
	if len(args) != 2 {
		return false, fmt.Errorf("dataTypeMatch: want 2 arguments, got %d", len(args))
	}
	dataType, ok1 := args[0].(string)
	pattern, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return false, fmt.Errorf("dataTypeMatch: arguments must be strings")
	}
	return DataTypeMatch(dataType, pattern), nil
}

// ValidateRule checks every field of r. Errors are *routing.Error of kind
// invalid naming the field ("subject", "data_type", "purpose", "effect").
func ValidateRule(r Rule) error { return validateRule("policies.ValidateRule", "", r) }

// ValidateRoleMapping checks a role mapping; errors name "member" or "role".
func ValidateRoleMapping(m RoleMapping) error {
	return validateRoleMapping("policies.ValidateRoleMapping", "", m)
}

func validateRule(op, prefix string, r Rule) error {
	switch {
	case r.Subject != Any && !subjectRe.MatchString(r.Subject):
		return routing.Invalid(op, prefix+"subject",
			"subject must be a department id or role name (2-64 lowercase letters, digits or '-', not starting with '-') or *")
	case !validDataTypePattern(r.DataType):
		return routing.Invalid(op, prefix+"data_type",
			"data_type must be a data type code (edu.degree), a prefix pattern (edu.*) or *, at most %d characters", maxPatternLen)
	case r.Purpose != Any && !model.ValidPurposeCode(r.Purpose):
		return routing.Invalid(op, prefix+"purpose",
			"purpose must be a purpose code (2-64 characters: lowercase letters, digits, '_', '.', '-', starting with a letter) or *")
	case r.Effect != EffectAllow && r.Effect != EffectDeny:
		return routing.Invalid(op, prefix+"effect", "effect must be allow or deny")
	}
	return nil
}

func validDataTypePattern(p string) bool {
	if p == Any {
		return true
	}
	if len(p) > maxPatternLen {
		return false
	}
	if prefix, ok := strings.CutSuffix(p, ".*"); ok {
		return dataTypePrefixRe.MatchString(prefix)
	}
	return model.ValidDataTypeCode(p)
}

func validateRoleMapping(op, prefix string, m RoleMapping) error {
	switch {
	case !subjectRe.MatchString(m.Member):
		return routing.Invalid(op, prefix+"member",
			"member must be a department id or role name (2-64 lowercase letters, digits or '-', not starting with '-')")
	case !subjectRe.MatchString(m.Role):
		return routing.Invalid(op, prefix+"role",
			"role must be a role name (2-64 lowercase letters, digits or '-', not starting with '-')")
	case m.Member == m.Role:
		return routing.Invalid(op, prefix+"role", "a role cannot contain itself")
	}
	return nil
}

// validatePolicySet checks every item and refuses duplicates, naming the
// item ("rules[3].purpose", "roles[0]").
func validatePolicySet(op string, s PolicySet) error {
	if len(s.Rules)+len(s.Roles) > maxPolicyItems {
		return routing.Invalid(op, "rules", "a policy holds at most %d rules and role mappings", maxPolicyItems)
	}
	seenRules := make(map[Rule]int, len(s.Rules))
	for i, r := range s.Rules {
		prefix := "rules[" + strconv.Itoa(i) + "]."
		if err := validateRule(op, prefix, r); err != nil {
			return err
		}
		if j, dup := seenRules[r]; dup {
			return routing.Invalid(op, "rules["+strconv.Itoa(i)+"]", "rule %q repeats rules[%d]", r.String(), j)
		}
		seenRules[r] = i
	}
	seenRoles := make(map[RoleMapping]int, len(s.Roles))
	for i, m := range s.Roles {
		prefix := "roles[" + strconv.Itoa(i) + "]."
		if err := validateRoleMapping(op, prefix, m); err != nil {
			return err
		}
		if j, dup := seenRoles[m]; dup {
			return routing.Invalid(op, "roles["+strconv.Itoa(i)+"]", "role mapping %q repeats roles[%d]", m.String(), j)
		}
		seenRoles[m] = i
	}
	return nil
}

// validateRequest checks the three parts of a policy question.
func validateRequest(op, department, dataType, purpose string) error {
	switch {
	case !model.ValidDepartmentID(department):
		return routing.Invalid(op, "department", "department must be a department id such as edu-bureau")
	case !model.ValidDataTypeCode(dataType):
		return routing.Invalid(op, "data_type", "data_type must be a data type code such as edu.degree")
	case !model.ValidPurposeCode(purpose):
		return routing.Invalid(op, "purpose", "purpose must be a purpose code such as admission")
	}
	return nil
}

// validateChangedBy checks who is making a change: it goes into the
// version history.
func validateChangedBy(op, by string) error {
	if by == "" {
		return routing.Invalid(op, "changed_by", "changed_by must name who makes the change")
	}
	return validateText(op, "changed_by", by, maxChangedBy)
}

func validateText(op, field, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return routing.Invalid(op, field, "%s is not valid UTF-8", field)
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return routing.Invalid(op, field, "%s is longer than %d characters", field, maxRunes)
	}
	if strings.TrimSpace(s) != s {
		return routing.Invalid(op, field, "%s has leading or trailing spaces", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return routing.Invalid(op, field, "%s contains a control character", field)
		}
	}
	return nil
}

// ParseLine parses one line of Casbin CSV policy: a rule
// "p, sub, data type, purpose, effect" or a role mapping "g, member, role".
// Exactly one of the results is non-nil on success; the item is validated.
func ParseLine(line string) (*Rule, *RoleMapping, error) {
	return parseLine("policies.ParseLine", "line", line)
}

func parseLine(op, field, line string) (*Rule, *RoleMapping, error) {
	if len(line) > 1024 {
		return nil, nil, routing.Invalid(op, field, "line is longer than 1024 bytes")
	}
	parts := strings.Split(line, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	switch parts[0] {
	case "p":
		if len(parts) != 5 {
			return nil, nil, routing.Invalid(op, field, "a rule is \"p, subject, data type, purpose, allow|deny\" (5 fields, got %d)", len(parts))
		}
		r := Rule{Subject: parts[1], DataType: parts[2], Purpose: parts[3], Effect: parts[4]}
		if err := validateRule(op, "", r); err != nil {
			return nil, nil, routing.Invalid(op, field, "%s", routing.MessageOf(err))
		}
		return &r, nil, nil
	case "g":
		if len(parts) != 3 {
			return nil, nil, routing.Invalid(op, field, "a role mapping is \"g, member, role\" (3 fields, got %d)", len(parts))
		}
		m := RoleMapping{Member: parts[1], Role: parts[2]}
		if err := validateRoleMapping(op, "", m); err != nil {
			return nil, nil, routing.Invalid(op, field, "%s", routing.MessageOf(err))
		}
		return nil, &m, nil
	}
	return nil, nil, routing.Invalid(op, field, "a line starts with p (rule) or g (role mapping)")
}

// ParsePolicy reads a policy in Casbin CSV form: one rule or role mapping
// per line; blank lines and lines starting with # are skipped. Errors name
// the line ("line 7"); a line repeating an earlier one is refused.
func ParsePolicy(r io.Reader) (PolicySet, error) {
	const op = "policies.ParsePolicy"
	var set PolicySet
	ruleLine := map[Rule]int{}
	roleLine := map[RoleMapping]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	n := 0
	for sc.Scan() {
		n++
		field := "line " + strconv.Itoa(n)
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rule, role, err := parseLine(op, field, text)
		if err != nil {
			return PolicySet{}, routing.Invalid(op, field, "%s: %s", field, routing.MessageOf(err))
		}
		if rule != nil {
			if first, dup := ruleLine[*rule]; dup {
				return PolicySet{}, routing.Invalid(op, field, "%s: rule %q repeats line %d", field, rule.String(), first)
			}
			ruleLine[*rule] = n
			set.Rules = append(set.Rules, *rule)
		} else {
			if first, dup := roleLine[*role]; dup {
				return PolicySet{}, routing.Invalid(op, field, "%s: role mapping %q repeats line %d", field, role.String(), first)
			}
			roleLine[*role] = n
			set.Roles = append(set.Roles, *role)
		}
		if len(set.Rules)+len(set.Roles) > maxPolicyItems {
			return PolicySet{}, routing.Invalid(op, field, "%s: a policy holds at most %d rules and role mappings", field, maxPolicyItems)
		}
	}
	if err := sc.Err(); err != nil {
		field := "line " + strconv.Itoa(n+1)
		return PolicySet{}, routing.Invalid(op, field, "%s: unreadable policy text: %v", field, err)
	}
	return set, nil
}
