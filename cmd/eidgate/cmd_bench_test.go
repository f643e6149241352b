package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/bench"
	"github.com/eidgate/eidgate/internal/testenv"
)

// init lets the test binary stand in for eidgate when the bench starts its
// gateway and baseline children from os.Executable: such a child runs the
// CLI and exits before any test (init runs ahead of TestMain).
func init() {
	if os.Getenv(bench.ChildEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// TestBenchQuickJSON runs `eidgate bench --quick --json`, scaled down, and
// checks that every part is reported with numbers. It asserts no timing.
func TestBenchQuickJSON(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	// More connections than the gateway's default per-client bound on
	// requests in progress: the bench's one load generator stands for
	// many clients, and must not be refused as one.
	conns := strconv.Itoa(gateway.DefaultInFlightPerClient + 8)
	if code := run(ctx, []string{"bench", "--quick", "--json", "--scale", "0.1", "--connections", conns}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep map[string]map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out.String())
	}
	var keys []string
	for k := range rep {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"anchoring", "baseline", "did", "import", "ledger", "memory", "resolve", "size"}; !slices.Equal(keys, want) {
		t.Fatalf("top-level keys %v, want %v", keys, want)
	}
	for sec, fields := range rep {
		if len(fields) == 0 {
			t.Errorf("%s is empty", sec)
		}
		for k, v := range fields {
			if _, ok := v.(float64); !ok {
				t.Errorf("%s.%s = %v is not a number", sec, k, v)
			}
		}
	}
	// Figures that are zero only when the part did not run at all.
	for _, f := range [][2]string{
		{"baseline", "rps"}, {"resolve", "rps"}, {"resolve", "resolve_vs_baseline"}, {"resolve", "records_per_commit"}, {"ledger", "submit_tps"},
		{"ledger", "evaluate_per_s"}, {"import", "rows_per_s"}, {"did", "p99_ms"}, {"memory", "peak_rss_mb"}, {"memory", "ready_ms"},
		{"size", "small_resolves_per_s"}, {"size", "large_resolves_per_s"}, {"size", "large_vs_small"}, {"size", "small_p99_ms"},
		{"size", "large_p99_ms"}, {"size", "small_peak_rss_mb"}, {"size", "large_peak_rss_mb"}, {"size", "large_cold_resolves_per_s"},
		{"size", "large_peak_anon_rss_mb"},
	} {
		if v, _ := rep[f[0]][f[1]].(float64); v <= 0 {
			t.Errorf("%s.%s = %v, want a measurement", f[0], f[1], rep[f[0]][f[1]])
		}
	}
	for _, f := range [][2]string{{"resolve", "errors"}, {"size", "small_errors"}, {"size", "large_errors"}} {
		if e, _ := rep[f[0]][f[1]].(float64); e != 0 {
			t.Errorf("%s.%s = %v: resolves failed during the bench (stderr: %s)", f[0], f[1], e, errb.String())
		}
	}
	// The size part loaded the populations the scaled plan names.
	if small, large := rep["size"]["small_residents"], rep["size"]["large_residents"]; small != 200.0 || large != 2_000.0 {
		t.Errorf("size populations %v and %v, want 200 and 2,000", small, large)
	}
}

func TestBenchRefusesConflictingFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--quick", "--full"},
		{"bench", "--db", "mysql://x"},
		{"bench", "--connections", "0"},
		{"bench", "--only", "everything"},
		{"bench", "--pprof-listen", "0.0.0.0:6060"},
		{"bench", "--ledger", "besu"},
		{"bench", "--ledger", "fabric"},
		{"bench", "--ledger", "fabric", "--fabric-profile", "no-such-profile.yaml", "--fabric-admin-profile", "no-such-admin.yaml"},
		{"bench", "--fabric-profile", "profile.yaml"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errb.String())
		}
	}
}

// With --db and --redis one run measures both configurations and reports
// the PostgreSQL/Redis gateway beside the embedded one.
func TestBenchQuickOnPostgresAndRedis(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	pg, rd := testenv.Postgres(t), testenv.Redis(t)
	exclusiveRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args := []string{"bench", "--quick", "--json", "--scale", "0.1", "--connections", "8", "--only", "gateway", "--db", pg, "--redis", rd}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep map[string]map[string]float64
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out.String())
	}
	for _, f := range []string{"rps", "pg_rps", "pg_vs_embedded", "pg_cpu_us_per_req", "pg_peak_rss_mb", "pg_redis_cmds_per_req", "pg_records_per_commit"} {
		if rep["resolve"][f] <= 0 {
			t.Errorf("resolve.%s = %v, want a measurement", f, rep["resolve"][f])
		}
	}
	if rep["resolve"]["pg_errors"] != 0 {
		t.Errorf("resolves on PostgreSQL/Redis failed: %v (stderr: %s)", rep["resolve"]["pg_errors"], errb.String())
	}
}

// With --db the import part also imports into PostgreSQL and reports its
// figures beside the embedded default's.
func TestBenchImportOnPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("imports thousands of rows")
	}
	pg := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args := []string{"bench", "--quick", "--json", "--scale", "0.1", "--only", "import", "--db", pg}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep map[string]map[string]float64
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out.String())
	}
	imp := rep["import"]
	if imp["rows"] != 2000 || imp["pg_rows"] != imp["rows"] {
		t.Errorf("import rows = %v, pg_rows = %v, want 2000 each", imp["rows"], imp["pg_rows"])
	}
	for _, f := range []string{"rows_per_s", "cpu_us_per_row", "pg_seconds", "pg_rows_per_s", "pg_cpu_us_per_row"} {
		if imp[f] <= 0 {
			t.Errorf("import.%s = %v, want a measurement", f, imp[f])
		}
	}
}
