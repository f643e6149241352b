// Package web is eidgate's resident portal and admin console: html/template
// pages, our own CSS and JavaScript, and the zh-CN and English message
// catalogues, all embedded and checked by New (a page is parsed for keeps
// on its first render). It knows nothing of the services behind the pages:
// gateway's page handlers call them and hand a Page to Site.Render.
//
// Pages work without JavaScript. Scripts only enhance three things:
// confirmation dialogs, live import progress and the in-page check of an
// access record's Merkle inclusion proof. Nothing is inline, so the
// Content-Security-Policy (CSP) allows scripts and styles from 'self' only.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
)

//go:embed templates static i18n
var files embed.FS

// CSP is the Content-Security-Policy of every page: no inline script, style
// or event handler, nothing from another origin, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Site holds the parsed pages, the message catalogues and the static
// assets. It is read-only after New and safe for concurrent use.
type Site struct {
	// pages maps each page to its parsed templates, filled on a page's
	// first render: New parses every page once to check it and keeps none,
	// so a gateway that serves only the department API does not hold the
	// 43 pages' parse trees (each page parses the shared partials again,
	// 14 MB together, all scanned by every garbage collection).
	pages   map[string]*lazyPage
	shared  []string
	cat     map[string]map[string]string
	static  fs.FS
	version string // content hash of the static files, for cache busting
}

// New parses every page and catalogue. It fails only when the embedded
// files are broken, which the package tests catch.
func New() (*Site, error) {
	s := &Site{pages: map[string]*lazyPage{}}
	var err error
	if s.cat, err = loadCatalogues(files); err != nil {
		return nil, err
	}
	if s.static, err = fs.Sub(files, "static"); err != nil {
		return nil, err
	}
	if s.version, err = hashTree(s.static); err != nil {
		return nil, err
	}
	shared, err := fs.Glob(files, "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s.shared = shared
	for _, name := range names {
		page := strings.TrimSuffix(path.Base(name), ".html")
		if _, err := s.parse(page, name); err != nil {
			return nil, err
		}
		s.pages[page] = &lazyPage{file: name}
	}
	return s, nil
}

// lazyPage is a page's file and, once rendered, its parsed templates.
type lazyPage struct {
	file string
	once sync.Once
	t    *template.Template
	err  error
}

// parse parses one page with the shared partials.
func (s *Site) parse(page, file string) (*template.Template, error) {
	t, err := template.New(page).Funcs(funcs).ParseFS(files, append(append([]string{}, s.shared...), file)...)
	if err != nil {
		return nil, fmt.Errorf("web: template %s: %w", page, err)
	}
	if t.Lookup("main") == nil {
		return nil, fmt.Errorf("web: template %s defines no main block", page)
	}
	return t, nil
}

// template returns a page's templates, parsing them on first use.
func (s *Site) template(page string) (*template.Template, error) {
	lp, ok := s.pages[page]
	if !ok {
		return nil, fmt.Errorf("web: no page %q", page)
	}
	lp.once.Do(func() { lp.t, lp.err = s.parse(page, lp.file) })
	return lp.t, lp.err
}

// MustNew is New for program start: the embedded files are part of the
// build, so failing to parse them is a defect, not a runtime condition.
func MustNew() *Site {
	s, err := New()
	if err != nil {
		panic(err)
	}
	return s
}

// funcs are the few template helpers that are not Page methods.
var funcs = template.FuncMap{
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
}

// Pages lists the page names, sorted.
func (s *Site) Pages() []string {
	out := make([]string, 0, len(s.pages))
	for name := range s.pages {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Render writes page with p. It renders into a buffer first so a template
// error never leaves half a page on the wire.
func (s *Site) Render(w io.Writer, page string, p *Page) error {
	t, err := s.template(page)
	if err != nil {
		return err
	}
	p.site = s
	if !ValidLang(p.Lang) {
		p.Lang = DefaultLang
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// Static serves the embedded CSS and JavaScript. Asset URLs carry the
// content hash (see Page.Asset), so responses may be cached for long.
func (s *Site) Static() http.Handler {
	fsrv := http.FileServerFS(s.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r) // no directory listings
			return
		}
		if r.URL.Query().Get("v") == s.version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fsrv.ServeHTTP(w, r)
	})
}

// Version is the content hash of the static assets.
func (s *Site) Version() string { return s.version }

func hashTree(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
