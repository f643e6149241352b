package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/fabrictest"
)

// TestBenchOnRealFabric runs `eidgate bench --ledger fabric`, scaled down,
// against a real Fabric network (EIDGATE_TEST_FABRIC) and checks that the
// real network's figures are reported beside the embedded peer's. It
// asserts no timing.
func TestBenchOnRealFabric(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a Fabric network and gateway processes")
	}
	n := fabrictest.Start(t, fabrictest.Options{Deploy: true})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args := []string{"bench", "--quick", "--json", "--scale", "0.25", "--connections", "8", "--only", "gateway,ledger",
		"--ledger", "fabric", "--fabric-profile", n.AgentProfile(), "--fabric-admin-profile", n.AdminProfile()}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep map[string]map[string]float64
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out.String())
	}
	for _, f := range [][2]string{
		{"resolve", "rps"}, {"resolve", "fabric_rps"}, {"ledger", "submit_tps"}, {"ledger", "fabric_submit_tps"},
		{"ledger", "fabric_commit_p50_ms"}, {"ledger", "fabric_commit_p99_ms"}, {"ledger", "fabric_evaluate_per_s"},
	} {
		if rep[f[0]][f[1]] <= 0 {
			t.Errorf("%s.%s = %v, want a measurement", f[0], f[1], rep[f[0]][f[1]])
		}
	}
	if e := rep["resolve"]["fabric_errors"] + rep["ledger"]["fabric_submit_errors"]; e != 0 {
		t.Errorf("%v resolves or transactions failed on the real network (stderr: %s)", e, errb.String())
	}
}
