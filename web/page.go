package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai on hosts without a zone database
)

// Page is what every template receives. The handler fills what it knows;
// Site.Render adds the site. Templates reach helpers as methods ($.T,
// $.DateTime, …) so they work inside range blocks through $.
type Page struct {
	Lang  string // "zh-CN" or "en"
	Title string // message key of the page title
	// Heading replaces the translated title as the page's h1 when set
	// (e.g. a department's name on its page).
	Heading string
	Area    string // "portal" or "admin"
	Nav     string // the navigation entry to mark as current
	User    string // the signed-in eID or administrator; "" when anonymous
	Role    string // administrator role
	CSRF    string // the token every form on the page carries
	// Can lists what the signed-in administrator's role allows, so a page
	// offers only the actions the server would accept.
	Can map[string]bool
	// Inbox is how many consent requests wait for the signed-in
	// resident, the badge on the inbox's navigation entry.
	Inbox  int
	Path   string // the current path, where the language switch returns
	Notice string // message key of a success notice after a redirect
	Errors *Errors
	// Form refills a form after an error. Passwords and codes are never
	// put here; a document number only goes back to a resident's own
	// sign-in or activation form (never into a log or a message).
	Form  map[string]string
	Names Names
	Loc   *time.Location // time zone for dates (UTC when nil)
	// DocTypes are the identity document types forms offer.
	DocTypes []string
	Data     any

	site *Site
}

// Names translates department ids and data type codes for display.
type Names struct {
	Departments map[string]LocalName
	DataTypes   map[string]LocalName
	// Predicates are the yes/no questions by "<data type>#<predicate id>".
	Predicates map[string]LocalName
	// Claims label the claims of each data type by "<data type>/<claim>".
	Claims map[string]LocalName
}

// LocalName is a registry name in both languages.
type LocalName struct{ ZH, EN string }

// Errors are the problems of a submitted form: a summary at the top of the
// page and a message next to each field, tied by aria-describedby.
type Errors struct {
	List  []FieldError
	field map[string]string
}

// FieldError is one problem; Field is the form field's name, or "" for the
// form as a whole.
type FieldError struct {
	Field   string
	Message string
}

// Add records a problem.
func (e *Errors) Add(field, message string) {
	e.List = append(e.List, FieldError{Field: field, Message: message})
	if field != "" {
		if e.field == nil {
			e.field = map[string]string{}
		}
		if _, ok := e.field[field]; !ok {
			e.field[field] = message
		}
	}
}

// Field is the message for field, "" when it is fine (or e is nil).
func (e *Errors) Field(field string) string {
	if e == nil {
		return ""
	}
	return e.field[field]
}

// Any reports whether there is a problem.
func (e *Errors) Any() bool { return e != nil && len(e.List) > 0 }

// T translates key.
func (p *Page) T(key string, args ...any) string { return p.site.Message(p.Lang, key, args...) }

// HasErrors reports whether the submitted form had problems.
func (p *Page) HasErrors() bool { return p.Errors.Any() }

// Err is the message for a field, "" when it is fine.
func (p *Page) Err(field string) string {
	if p.Errors == nil {
		return ""
	}
	return p.Errors.field[field]
}

// Value refills field.
func (p *Page) Value(field string) string { return p.Form[field] }

// Asset is the URL of a static file, with the content hash so caches drop
// it when it changes.
func (p *Page) Asset(name string) string { return "/static/" + name + "?v=" + p.site.version }

// L picks the name in the page's language, falling back to Chinese.
func (p *Page) L(zh, en string) string {
	if p.Lang == LangEN && en != "" {
		return en
	}
	return zh
}

// Dept is a department's display name (its id when unknown).
func (p *Page) Dept(id string) string {
	if n, ok := p.Names.Departments[id]; ok {
		return p.L(n.ZH, n.EN)
	}
	return id
}

// DataType is a data type's display name (its code when unknown).
//
// A consent's question scope, "<data type>#<predicate>", reads as the data
// type and the question, saying that only yes or no is given.
func (p *Page) DataType(code string) string {
	if dt, q, ok := strings.Cut(code, "#"); ok {
		return p.T("consent.question_only", p.DataType(dt), p.Predicate(dt, q))
	}
	if n, ok := p.Names.DataTypes[code]; ok {
		return p.L(n.ZH, n.EN)
	}
	return code
}

// DataTypes joins the display names of codes.
func (p *Page) DataTypes(codes []string) string {
	out := ""
	sep := "、"
	if p.Lang == LangEN {
		sep = ", "
	}
	for i, c := range codes {
		if i > 0 {
			out += sep
		}
		out += p.DataType(c)
	}
	return out
}

// OtherLang is the language the switch offers.
func (p *Page) OtherLang() string {
	if p.Lang == LangEN {
		return LangZH
	}
	return LangEN
}

// LangName is a language's name in that language.
func (p *Page) LangName(lang string) string {
	if lang == LangEN {
		return "English"
	}
	return "中文"
}

// LangZone is the time zone people reading lang expect by default:
// Asia/Shanghai for zh-CN, nil (no opinion) for others.
func LangZone(lang string) *time.Location {
	if lang == LangZH {
		return shanghai
	}
	return nil
}

// shanghai comes from the embedded time zone database (time/tzdata), so it
// is there on a host without one.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

func (p *Page) loc() *time.Location {
	if p.Loc != nil {
		return p.Loc
	}
	return time.UTC
}

// asTime accepts a time.Time or an RFC 3339 string (the ledger's form).
func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, !t.IsZero()
	case string:
		if t == "" {
			return time.Time{}, false
		}
		parsed, err := time.Parse(time.RFC3339Nano, t)
		return parsed, err == nil
	}
	return time.Time{}, false
}

// TimeZone is the IANA name of the page's zone, for scripts that show
// times.
func (p *Page) TimeZone() string { return p.loc().String() }

// ZoneName is an IANA zone name with its present offset from UTC, for a
// choice of zones.
func (p *Page) ZoneName(name string) string {
	z, err := time.LoadLocation(name)
	if err != nil {
		return name
	}
	_, off := time.Now().In(z).Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("%s (UTC%s%02d:%02d)", strings.ReplaceAll(name, "_", " "), sign, off/3600, off%3600/60)
}

// Date is a calendar date in the page's language.
func (p *Page) Date(v any) string {
	t, ok := asTime(v)
	if !ok {
		return "—"
	}
	t = t.In(p.loc())
	if p.Lang == LangEN {
		return t.Format("2 Jan 2006")
	}
	return strconv.Itoa(t.Year()) + "年" + strconv.Itoa(int(t.Month())) + "月" + strconv.Itoa(t.Day()) + "日"
}

// DateTime is a date and time in the page's language, with the zone.
func (p *Page) DateTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return "—"
	}
	t = t.In(p.loc())
	zone, _ := t.Zone()
	return p.Date(t) + " " + t.Format("15:04:05") + " " + zone
}

// ISO is the machine-readable form for <time datetime>.
func (p *Page) ISO(v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Days is the whole number of days between two times, at least 1.
func (p *Page) Days(from, until any) int {
	a, ok1 := asTime(from)
	b, ok2 := asTime(until)
	if !ok1 || !ok2 {
		return 0
	}
	d := int(b.Sub(a).Round(time.Hour).Hours()+23) / 24
	if d < 1 {
		d = 1
	}
	return d
}

// Short shortens a long identifier for a table cell; the full value goes
// in a title attribute or the detail view.
func (p *Page) Short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// Sub carries the page and one value into a partial template, which
// receives a single argument.
type Sub struct {
	P *Page
	V any
}

// With pairs v with the page for a partial template.
func (p *Page) With(v any) Sub { return Sub{P: p, V: v} }

// Enum translates a value of a closed set (a status, an outcome, a
// document type) as prefix.value, showing the value itself when the
// catalogue does not know it, e.g. a status added by a newer service.
func (p *Page) Enum(prefix, value string) string {
	key := prefix + "." + value
	if p.site.HasMessage(key) {
		return p.T(key)
	}
	return value
}

// Message is a translated message with the code it stands for.
type Message struct{ Code, Text string }

// passkeyCodes are the error codes a passkey ceremony may answer with,
// which the pages' script shows in the page's language.
var passkeyCodes = []string{
	"passkey_malformed", "passkey_challenge_unknown", "passkey_challenge_used", "passkey_challenge_expired",
	"passkey_ceremony_mismatch", "passkey_origin_mismatch", "passkey_rp_id_mismatch", "passkey_user_not_verified",
	"passkey_unknown_credential", "passkey_wrong_user", "passkey_assertion_invalid", "passkey_counter_regressed",
	"passkey_registration_invalid", "passkey_unsupported", "passkey_exists", "passkey_limit", "passkey_none",
	"passkey_required", "consent_terms_mismatch", "consent_signature_refused", "consent_state", "rule_state", "policy_denied",
	"activation_code_invalid", "activation_code_expired", "activation_used", "activation_attempts_exceeded",
	"invalid_credentials", "account_disabled", "too_many_attempts", "sign_in_busy",
	"representation_expired",
}

// PasskeyErrors are the translated messages of passkeyCodes.
func (p *Page) PasskeyErrors() []Message {
	out := make([]Message, 0, len(passkeyCodes))
	for _, c := range passkeyCodes {
		if p.site.HasMessage("err." + c) {
			out = append(out, Message{Code: c, Text: p.T("err." + c)})
		}
	}
	return out
}

// AssuranceAudience picks the wording of consent assurances: addressed to
// the resident on the portal, about the resident on the console.
func (p *Page) AssuranceAudience() string {
	if p.Area == "admin" {
		return "_admin"
	}
	return ""
}
