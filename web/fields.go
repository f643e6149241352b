package web

import (
	"strconv"
	"strings"
)

// Field is one labelled form control as the "input" template draws it:
// the label, an optional hint, the error message and the control, with
// aria-describedby tying hint and error to the control.
type Field struct {
	P        *Page
	ID       string
	Name     string
	Label    string
	Type     string // text, password, number, date, datetime-local, file, textarea, select, …
	Value    string
	Hint     string
	Error    string
	Required bool
	Auto     string // autocomplete
	Mode     string // inputmode
	Rows     int
	Min, Max string
	Secret   bool // never refilled, no spellcheck or autocapitalise
	// Conditional fields are required in some cases the hint names (a
	// passport's issuing country), so they are not labelled optional.
	Conditional bool
	Options     []Option
	Multiple    bool
}

// Option is one choice of a select.
type Option struct {
	Value    string
	Label    string
	Selected bool
}

// Describe is the aria-describedby value.
func (f Field) Describe() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, "h-"+f.ID)
	}
	if f.Error != "" {
		ids = append(ids, "e-"+f.ID)
	}
	return strings.Join(ids, " ")
}

// Input builds a field. opts are flags and key=value settings:
// "required", "secret", "conditional", "multiple", "id=…" (when a page has two forms with
// the same field name), "value=…" (instead of the refill), "hint=<key>",
// "auto=…", "mode=…", "rows=N", "min=…", "max=…", "err=<field>" (take the
// error of another field name).
func (p *Page) Input(name, labelKey, typ string, opts ...string) Field {
	f := Field{P: p, ID: name, Name: name, Label: p.T(labelKey), Type: typ}
	errField := name
	explicitValue := false
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "required":
			f.Required = true
		case "secret":
			f.Secret = true
		case "conditional":
			f.Conditional = true
		case "multiple":
			f.Multiple = true
		case "id":
			f.ID, errField = v, v
		case "value":
			f.Value, explicitValue = v, true
		case "hint":
			f.Hint = p.T(v)
		case "auto":
			f.Auto = v
		case "mode":
			f.Mode = v
		case "rows":
			f.Rows, _ = strconv.Atoi(v)
		case "min":
			f.Min = v
		case "max":
			f.Max = v
		case "err":
			errField = v
		}
	}
	if !explicitValue && !f.Secret && typ != "password" && typ != "file" {
		f.Value = p.Value(name)
	}
	f.Error = p.Err(errField)
	return f
}

// Select builds a select field over options; the refilled or given value
// is selected.
func (p *Page) Select(name, labelKey string, options []Option, opts ...string) Field {
	f := p.Input(name, labelKey, "select", opts...)
	out := make([]Option, len(options))
	for i, o := range options {
		o.Selected = o.Value == f.Value
		out[i] = o
	}
	f.Options = out
	return f
}

// Opt makes an option list from value/label-key pairs.
func (p *Page) Opt(pairs ...string) []Option {
	var out []Option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Option{Value: pairs[i], Label: p.T(pairs[i+1])})
	}
	return out
}

// DocFields are the three controls of an identity document: type, number
// and (for passports) the issuing state. Prefix keeps several documents on
// one form apart ("doc1_", "doc2_").
type DocFields struct {
	P        *Page
	Prefix   string
	Legend   string
	Required bool
}

// Doc builds the document fields of a form; prefix is the field name
// prefix.
func (p *Page) Doc(prefix, legendKey string, required bool) DocFields {
	return DocFields{P: p, Prefix: prefix, Legend: p.T(legendKey), Required: required}
}

// Type is the document type select.
func (d DocFields) Type() Field {
	opts := make([]Option, 0, len(d.P.DocTypes)+1)
	if !d.Required {
		opts = append(opts, Option{Value: "", Label: d.P.T("doc.none")})
	}
	for _, t := range d.P.DocTypes {
		opts = append(opts, Option{Value: t, Label: d.P.T("doctype." + t)})
	}
	var flags []string
	if d.Required {
		flags = append(flags, "required")
	}
	return d.P.Select(d.Prefix+"type", "doc.type", opts, flags...)
}

// Number is the document number input: never autocompleted or
// spell-checked; after an error it keeps what the person typed, so they
// correct it rather than type it all again.
func (d DocFields) Number() Field {
	flags := []string{"secret", "auto=off", "hint=doc.number_hint", "value=" + d.P.Value(d.Prefix+"number")}
	if d.Required {
		flags = append(flags, "required")
	}
	return d.P.Input(d.Prefix+"number", "doc.number", "text", flags...)
}

// Country is the issuing state of a passport.
func (d DocFields) Country() Field {
	return d.P.Input(d.Prefix+"country", "doc.country", "text", "hint=doc.country_hint", "auto=off", "conditional")
}
