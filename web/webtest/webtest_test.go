package webtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The watch must catch what it is for: a page that breaks its CSP and
// loads a missing image fails the check, a clean page passes.
func TestWatchCatchesProblems(t *testing.T) {
	b := Start(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="en"><title>bad</title><img src="/missing.png" alt=""><script>document.title = "ran"</script>`))
	})
	mux.HandleFunc("GET /good", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src data:")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="en"><title>good</title><link rel="icon" href="data:,"><p id="x">fine</p>`))
	})
	// Chromium asks for /favicon.ico on a page without an icon link, at a
	// moment of its own; without an answer here its 404 could land in a
	// later step and be taken for that step's problem.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tb := b.Tab(t, srv.URL)

	tb.Do("open the bad page", chromedp.Navigate(srv.URL+"/bad"))
	got := strings.Join(tb.Problems(), "\n")
	for _, want := range []string{"Content Security Policy", "HTTP 404"} {
		if !strings.Contains(got, want) {
			t.Errorf("the watch missed %q; it saw:\n%s", want, got)
		}
	}
	if title := tb.Eval(`document.title`); title != "bad" {
		t.Errorf("the inline script ran (title %q)", title)
	}

	tb.Open("/good")
	if tb.Text("#x") != "fine" || tb.Lang() != "en" {
		t.Errorf("text %q, lang %q", tb.Text("#x"), tb.Lang())
	}
	// A status the step expects is not a problem.
	tb.Expect(http.StatusNotFound)
	tb.Do("open a missing page", chromedp.Navigate(srv.URL+"/missing"))
	if p := tb.Problems(); len(p) != 0 {
		t.Errorf("an expected 404 was reported: %v", p)
	}
}
