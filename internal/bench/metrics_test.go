package bench

import (
	"os"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ParseMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"eidgate_anchoring_lag_seconds": 0.25,
		"eidgate_anchor_batches":        12,
		"eidgate_resolves_total":        904, // labelled samples summed
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["eidgate_http_request_seconds"]; ok {
		t.Error("a histogram was read as a number")
	}
}

func TestParseMetricsRefusesGarbage(t *testing.T) {
	if _, err := ParseMetrics(strings.NewReader("eidgate_x{ 1\n")); err == nil {
		t.Fatal("garbage parsed")
	}
}

func FuzzParseMetrics(f *testing.F) {
	raw, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add("x 1\n")
	f.Add("# TYPE x counter\nx{a=\"b\"} NaN\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMetrics(strings.NewReader(s))
		if err == nil && m == nil {
			t.Fatal("nil map without error")
		}
	})
}
