package bench

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestReportJSONHasExactlyTheSections(t *testing.T) {
	r := &Report{}
	r.Resolve.RPS, r.Resolve.ResolveVsBaseline = 1234.5, 0.25
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k, sec := range got {
		keys = append(keys, k)
		for name, v := range sec {
			if _, ok := v.(float64); !ok {
				t.Errorf("%s.%s = %v is not a number", k, name, v)
			}
		}
	}
	slices.Sort(keys)
	want := []string{"anchoring", "baseline", "did", "import", "ledger", "memory", "resolve", "size"}
	if !slices.Equal(keys, want) {
		t.Fatalf("top-level keys %v, want %v", keys, want)
	}
	for _, k := range []string{"rps", "p50_ms", "p99_ms", "errors", "resolve_vs_baseline"} {
		if _, ok := got["resolve"][k]; !ok {
			t.Errorf("resolve.%s missing", k)
		}
	}
	if _, ok := got["resolve"]["pg_rps"]; ok {
		t.Error("resolve.pg_rps present without a PostgreSQL run")
	}
	for sec, k := range map[string]string{"ledger": "submit_tps", "import": "rows_per_s", "did": "p99_ms", "memory": "peak_rss_mb",
		"size": "large_vs_small"} {
		if _, ok := got[sec][k]; !ok {
			t.Errorf("%s.%s missing", sec, k)
		}
	}
	if !slices.Equal(r.Sections(), []string{"baseline", "resolve", "ledger", "anchoring", "import", "did", "memory", "size"}) {
		t.Errorf("sections %v", r.Sections())
	}
}

func TestReportTable(t *testing.T) {
	r := &Report{}
	r.Resolve.RPS, r.Resolve.P99Ms, r.Import.RowsPerS = 12345.6, 7.25, 17000
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"resolve", "12,346", "7.25", "17,000", "memory", "peak_rss_mb"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "pg_rps") {
		t.Errorf("table shows PostgreSQL figures that were not measured:\n%s", out)
	}
}

func TestFormatNumber(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 64: "64", 1234567: "1,234,567", -2500: "-2,500", 1612.4: "1,612",
		115.34: "115.3", 8.126: "8.13", 0.0441: "0.044",
	} {
		if got := FormatNumber(in); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}
