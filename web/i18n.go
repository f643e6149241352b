package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Languages of the portal and console.
const (
	LangZH      = "zh-CN"
	LangEN      = "en"
	DefaultLang = LangZH
)

// Langs lists the languages in the order the language switch shows them.
func Langs() []string { return []string{LangZH, LangEN} }

// ValidLang reports whether lang is one of Langs.
func ValidLang(lang string) bool { return lang == LangZH || lang == LangEN }

// NegotiateLang picks the language from an Accept-Language header: the
// acceptable tag with the highest weight that is Chinese or English, else
// DefaultLang. Malformed parts are skipped; the header is outside input.
func NegotiateLang(header string) string {
	type choice struct {
		lang string
		q    float64
		pos  int
	}
	var best *choice
	parts := strings.Split(header, ",")
	if len(parts) > 32 {
		parts = parts[:32]
	}
	for i, part := range parts {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		var lang string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = LangZH
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = LangEN
		default:
			continue
		}
		if q > 0 && (best == nil || q > best.q) {
			best = &choice{lang: lang, q: q, pos: i}
		}
	}
	if best == nil {
		return DefaultLang
	}
	return best.lang
}

// loadCatalogues reads i18n/<lang>.json for every language and insists they
// hold the same keys, so no page shows a raw key in one language only.
func loadCatalogues(fsys fs.FS) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, lang := range Langs() {
		b, err := fs.ReadFile(fsys, path.Join("i18n", lang+".json"))
		if err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", lang, err)
		}
		out[lang] = m
	}
	ref := out[DefaultLang]
	for _, lang := range Langs() {
		if missing := missingKeys(ref, out[lang]); len(missing) > 0 {
			return nil, fmt.Errorf("web: catalogue %s lacks %s", lang, strings.Join(missing, ", "))
		}
		if missing := missingKeys(out[lang], ref); len(missing) > 0 {
			return nil, fmt.Errorf("web: catalogue %s lacks %s", DefaultLang, strings.Join(missing, ", "))
		}
	}
	return out, nil
}

func missingKeys(want, have map[string]string) []string {
	var out []string
	for k := range want {
		if _, ok := have[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Message returns the message key in lang, formatted with args. An unknown
// key renders as "⟦key⟧" so a missing translation is visible, and tests
// look for that mark.
func (s *Site) Message(lang, key string, args ...any) string {
	m, ok := s.cat[lang][key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) == 0 {
		return m
	}
	// "used 1 time": a count of one as the first argument takes the
	// message's singular form, key + "_one", where the catalogue has one.
	// A singular form may spell the one out ("in a minute") and take no
	// argument.
	if one, ok := s.cat[lang][key+"_one"]; ok && isOne(args[0]) {
		if !strings.Contains(one, "%") {
			return one
		}
		m = one
	}
	return fmt.Sprintf(m, args...)
}

// HasMessage reports whether key is in the catalogues.
func (s *Site) HasMessage(key string) bool {
	_, ok := s.cat[DefaultLang][key]
	return ok
}

// MissingMark starts the rendering of an unknown message key.
const MissingMark = "⟦"

// isOne reports whether v is an integer equal to 1.
func isOne(v any) bool {
	switch n := v.(type) {
	case int:
		return n == 1
	case int64:
		return n == 1
	case uint64:
		return n == 1
	case uint:
		return n == 1
	case int32:
		return n == 1
	}
	return false
}
