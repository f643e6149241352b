package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	httppprof "net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/bench"
	"github.com/eidgate/eidgate/mapping"
)

// benchChildEnv marks a process the bench started; a test binary standing
// in for eidgate runs the CLI when it sees it.
const benchChildEnv = "EIDGATE_BENCH_CHILD"

// benchPlan is how long and how much each part of a run measures.
type benchPlan struct {
	Connections int           // resolve and baseline
	Load        time.Duration // each measured load run
	Warmup      time.Duration // before each measured load run
	DIDConns    int
	DIDLoad     time.Duration
	Submitters  int
	LedgerLoad  time.Duration
	ImportRows  int
}

func benchPlanFor(quick, full bool, scale float64) benchPlan {
	p := benchPlan{
		Connections: 64, Load: 10 * time.Second, Warmup: 2 * time.Second,
		DIDConns: 4, DIDLoad: 5 * time.Second,
		Submitters: 32, LedgerLoad: 10 * time.Second, ImportRows: 200_000,
	}
	switch {
	case quick:
		p.Load, p.Warmup, p.DIDLoad, p.LedgerLoad, p.ImportRows = 4*time.Second, time.Second, 2*time.Second, 4*time.Second, 20_000
	case full:
		p.Load, p.Warmup, p.DIDLoad, p.LedgerLoad, p.ImportRows = 30*time.Second, 3*time.Second, 10*time.Second, 30*time.Second, 1_000_000
	}
	if scale > 0 && scale != 1 {
		sc := func(d time.Duration) time.Duration { return max(time.Duration(float64(d)*scale), 200*time.Millisecond) }
		p.Load, p.Warmup, p.DIDLoad, p.LedgerLoad = sc(p.Load), sc(p.Warmup), sc(p.DIDLoad), sc(p.LedgerLoad)
		p.ImportRows = max(int(float64(p.ImportRows)*scale), 1000)
	}
	return p
}

// benchParts are what --only selects: the gateway child (baseline,
// resolve, anchoring, DID, memory), the ledger and the import.
var benchParts = []string{"gateway", "ledger", "import"}

type benchOptions struct {
	quick, full, json bool
	db, redis         string
	connections       int
	scale             float64
	profileDir        string
	pprofListen       string
	only              []string
	keep              bool
	fabric            benchFabric
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the gateway on this machine: resolves, ledger, anchoring, import, DID resolution, memory",
		Long: `Measure eidgate on this machine in one run, on loopback only; every part is
bounded in time and requests and stops by itself:

  baseline   a bare gin handler under the same load as the resolves
  resolve    audited resolves (mapping, policy, consent, route, durable access
             record, ticket) with 64 connections on the embedded default, and
             on PostgreSQL and Redis with --db/--redis (pg_*)
  ledger     committed transactions/s and commit latency with 32 submitters
             on the embedded peer; evaluations/s
  anchoring  access records per ledger transaction and the anchoring lag
             during the resolve load
  import     rows/s of a generated file of valid identity documents
  did        DID resolution latency
  memory     the gateway's peak resident memory during the resolve load and
             its start-up time to ready

With --ledger fabric --fabric-profile P --fabric-admin-profile A the resolve
and ledger parts also run on that real Fabric network (fabric_* figures),
beside the embedded peer's.

The gateway and the baseline run as child processes of this command, so
their memory and start-up are their own; the load generator runs here and
shares the machine's cores with them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.quick && o.full {
				return &exitError{code: 2, err: errors.New("--quick and --full go alone")}
			}
			if o.db != "" && !isPostgresURL(o.db) {
				return &exitError{code: 2, err: fmt.Errorf("--db %q: want a postgres:// URL", redactURL(o.db))}
			}
			if o.connections <= 0 {
				return &exitError{code: 2, err: errors.New("--connections must be positive")}
			}
			for _, part := range o.only {
				if !slices.Contains(benchParts, part) {
					return &exitError{code: 2, err: fmt.Errorf("--only %q: want some of %s", part, strings.Join(benchParts, ", "))}
				}
			}
			if err := o.fabric.check(); err != nil {
				return &exitError{code: 2, err: err}
			}
			if o.pprofListen != "" {
				if err := bench.CheckLoopback("http://" + o.pprofListen); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--pprof-listen: %w", err)}
				}
			}
			plan := benchPlanFor(o.quick, o.full, o.scale)
			plan.Connections = o.connections
			r := &benchRun{opts: o, plan: plan, log: cmd.ErrOrStderr()}
			rep, err := r.run(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "short run (under a minute): 4 s loads, 20,000 import rows")
	f.BoolVar(&o.full, "full", false, "long run: 30 s loads, 1,000,000 import rows")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.StringVar(&o.db, "db", "", "also measure resolves on this PostgreSQL database (in a fresh schema, dropped afterwards): resolve.pg_*")
	f.StringVar(&o.redis, "redis", "", "Redis URL for the cache of that second variant (with or without --db)")
	f.IntVar(&o.connections, "connections", 64, "connections of the resolve and baseline load")
	f.Float64Var(&o.scale, "scale", 1, "multiply every duration and the import size (tests)")
	f.StringVar(&o.profileDir, "profile-dir", "", "write CPU profiles of the gateway and the in-process parts here")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary data dirs and logs")
	f.StringVar(&o.pprofListen, "pprof-listen", "", "serve the gateway child's net/http/pprof on this loopback address")
	_ = f.MarkHidden("scale")
	f.StringSliceVar(&o.only, "only", nil, "run only these parts: gateway (baseline, resolve, anchoring, did, memory), ledger, import")
	_ = f.MarkHidden("pprof-listen")
	o.fabric.flags(f)
	cmd.AddCommand(newBenchBaselineCmd(), newBenchGatewayCmd())
	return cmd
}

// newBenchBaselineCmd is the baseline child: a bare gin engine answering
// a small JSON body.
func newBenchBaselineCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:    "baseline",
		Short:  "Serve the bench baseline: a bare gin handler returning a small JSON body",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			h := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
			r.GET("/baseline", h)
			r.POST("/baseline", h)
			srv := &http.Server{Addr: listen, Handler: r, ReadHeaderTimeout: 10 * time.Second}
			if err := bench.CheckLoopback("http://" + listen); err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() { done <- srv.ListenAndServe() }()
			select {
			case err := <-done:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address")
	return cmd
}

// newBenchGatewayCmd is `eidgate serve` with an optional CPU profile of the
// whole run, for the bench's gateway child.
func newBenchGatewayCmd() *cobra.Command {
	serve := newServeCmd()
	serve.Use, serve.Hidden = "gateway", true
	serve.Short = "Run the gateway as `eidgate serve` does, optionally profiled (bench child)"
	var cpuprofile, pprofListen string
	serve.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file")
	serve.Flags().StringVar(&pprofListen, "pprof-listen", "", "serve net/http/pprof on this loopback address")
	runE := serve.RunE
	serve.RunE = func(cmd *cobra.Command, args []string) error {
		if pprofListen != "" {
			if err := bench.CheckLoopback("http://" + pprofListen); err != nil {
				return err
			}
			// Where requests wait matters as much as where they run.
			runtime.SetBlockProfileRate(int(10 * time.Microsecond))
			runtime.SetMutexProfileFraction(10)
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", httppprof.Index)
			mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
			srv := &http.Server{Addr: pprofListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.ListenAndServe() }()
			defer srv.Close()
		}
		if cpuprofile != "" {
			f, err := os.Create(cpuprofile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		return runE(cmd, args)
	}
	return serve
}

// benchRun is one run of the bench.
type benchRun struct {
	opts benchOptions
	plan benchPlan
	log  io.Writer
	exe  string
	dir  string
}

func (r *benchRun) say(format string, args ...any) {
	fmt.Fprintf(r.log, "bench: "+format+"\n", args...)
}

func (r *benchRun) run(ctx context.Context) (*bench.Report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r.exe = exe
	dir, err := os.MkdirTemp("", "eidgate-bench-")
	if err != nil {
		return nil, err
	}
	r.dir = dir
	if r.opts.keep {
		r.say("data dirs and logs kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if r.opts.profileDir != "" {
		if err := os.MkdirAll(r.opts.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	rep := &bench.Report{}
	if !r.runs("gateway") {
		return rep, r.inProcess(ctx, rep)
	}
	baseline, err := r.baseline(ctx, rep)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if err := r.gateway(ctx, rep, "sqlite", nil, baseline); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	if r.opts.db != "" || r.opts.redis != "" {
		var extra []string
		if r.opts.db != "" {
			dsn, drop, err := benchPostgresSchema(ctx, r.opts.db)
			if err != nil {
				return nil, err
			}
			defer drop()
			extra = append(extra, "--db", dsn)
		}
		if r.opts.redis != "" {
			extra = append(extra, "--redis", r.opts.redis)
		}
		if err := r.gateway(ctx, rep, "pg", extra, baseline); err != nil {
			return nil, fmt.Errorf("resolve on PostgreSQL/Redis: %w", err)
		}
	}
	if r.opts.fabric.on() {
		if err := r.gateway(ctx, rep, "fabric", r.opts.fabric.gatewayArgs(), baseline); err != nil {
			return nil, fmt.Errorf("resolve on Fabric: %w", err)
		}
	}
	if err := r.inProcess(ctx, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// benchPostgresSchema creates an empty schema for one run on the database
// at dsn and returns the URL that selects it, and how to drop it after.
func benchPostgresSchema(ctx context.Context, dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "eidgate_bench_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("--db: create schema %s: %w", schema, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		_ = admin.Close()
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// runs reports whether part is to be measured (--only).
func (r *benchRun) runs(part string) bool {
	return len(r.opts.only) == 0 || slices.Contains(r.opts.only, part)
}

func (r *benchRun) startChild(name string, args []string) (*bench.Child, error) {
	return bench.StartChild(r.exe, args, []string{benchChildEnv + "=1"}, filepath.Join(r.dir, name+".log"))
}

// benchResolveBody is the body of a resolve by document.
func benchResolveBody(res DemoResident, dataType, purpose string) []byte {
	b, _ := json.Marshal(map[string]any{
		"subject":   map[string]any{"document": map[string]any{"type": res.DocType, "number": res.DocNumber, "country": res.Country}},
		"data_type": dataType, "purpose": purpose,
	})
	return b
}

func (r *benchRun) loadRun(ctx context.Context, conns int, d time.Duration, reqs []bench.Request) (*bench.LoadResult, error) {
	return bench.Run(ctx, bench.LoadOptions{
		Connections: conns, Duration: d, MaxRequests: 50_000_000, Requests: reqs,
	})
}

// baseline measures the bare gin child under the resolve load's
// connection count, with the same request size.
func (r *benchRun) baseline(ctx context.Context, rep *bench.Report) (float64, error) {
	addr, err := bench.FreeLoopbackAddr()
	if err != nil {
		return 0, err
	}
	child, err := r.startChild("baseline", []string{"bench", "baseline", "--listen", addr})
	if err != nil {
		return 0, err
	}
	defer func() { _ = child.Stop(5 * time.Second) }()
	url := "http://" + addr + "/baseline"
	if _, err := child.WaitReady(ctx, url, 30*time.Second); err != nil {
		return 0, err
	}
	body := benchResolveBody(DemoResident{DocType: "cn-resident", DocNumber: "110105199003071239"}, "edu.degree", "employment")
	req := []bench.Request{{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{
		"Content-Type": {"application/json"}, "Authorization": {"Bearer egk_baseline"}, "X-Eidgate-Official": {"bench"},
	}}}
	r.say("baseline: %d connections, %s", r.plan.Connections, r.plan.Load)
	if _, err := r.loadRun(ctx, r.plan.Connections, r.plan.Warmup, req); err != nil {
		return 0, err
	}
	cpu0, _ := child.CPUTime()
	res, err := r.loadRun(ctx, r.plan.Connections, r.plan.Load, req)
	if err != nil {
		return 0, err
	}
	cpu1, _ := child.CPUTime()
	rss, _ := child.PeakRSS()
	rep.Baseline = bench.Baseline{
		RPS: bench.Round3(res.RPS()), P50Ms: bench.Round3(bench.Millis(res.Latency.Quantile(0.5))),
		P99Ms: bench.Round3(bench.Millis(res.Latency.Quantile(0.99))), Errors: float64(res.ErrorCount()),
		Connections: float64(r.plan.Connections), CPUUsPerReq: benchCPUPerRequest(cpu1-cpu0, res.Requests),
	}
	rep.Memory.BaselinePeakRSSMB = bench.Round3(float64(rss) / (1 << 20))
	return res.RPS(), nil
}

// gateway measures a gateway child: first start with the demo load, a
// restart to ready, resolves, anchoring, DID resolution and memory.
// variant "sqlite" fills the main figures; "pg" the resolve.pg_* ones.
func (r *benchRun) gateway(ctx context.Context, rep *bench.Report, variant string, extra []string, baselineRPS float64) error {
	addr, err := bench.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(r.dir, "gateway-"+variant)
	args := append([]string{"bench", "gateway", "--demo", "--listen", addr, "--data-dir", dataDir,
		"--log-level", "warn", "--rate-limit", "0"}, extra...)
	base := "http://" + addr
	ready := base + "/readyz"

	r.say("%s gateway: first start with the demo load", variant)
	first, err := r.startChild("gateway-"+variant+"-first", args)
	if err != nil {
		return err
	}
	firstStart, err := first.WaitReady(ctx, ready, 3*time.Minute)
	if stopErr := first.Stop(30 * time.Second); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	if r.opts.profileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(r.opts.profileDir, "gateway-"+variant+".pprof"))
	}
	if r.opts.pprofListen != "" {
		args = append(args, "--pprof-listen", r.opts.pprofListen)
	}
	child, err := r.startChild("gateway-"+variant, args)
	if err != nil {
		return err
	}
	defer func() { _ = child.Stop(30 * time.Second) }()
	readyIn, err := child.WaitReady(ctx, ready, time.Minute)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, demoFile))
	if err != nil {
		return err
	}
	var info DemoInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return err
	}
	client := bench.NewClient(4, 30*time.Second)
	defer client.CloseIdleConnections()
	reqs, err := grantBenchConsents(ctx, client, base, &info)
	if err != nil {
		return err
	}
	r.say("%s gateway: ready in %s; resolves over %d consented pairs, %d connections, %s", variant, readyIn.Round(time.Millisecond), len(reqs), r.plan.Connections, r.plan.Load)
	if _, err := r.loadRun(ctx, r.plan.Connections, r.plan.Warmup, reqs); err != nil {
		return err
	}
	setupRSS, err := child.PeakRSS()
	if err != nil {
		return err
	}
	if err := child.ResetPeakRSS(); err != nil {
		r.say("cannot reset the peak RSS (%v); memory.peak_rss_mb includes the set-up", err)
	}
	anchorsBefore, err := bench.ScrapeMetrics(ctx, client, base+"/metrics")
	if err != nil {
		return err
	}
	lag := &benchLagSampler{}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); lag.run(sampleCtx, client, base+"/metrics") }()
	redis0 := r.redisCommands(ctx, variant)
	cpu0, _ := child.CPUTime()
	res, err := r.loadRun(ctx, r.plan.Connections, r.plan.Load, reqs)
	cpu1, _ := child.CPUTime()
	redis1 := r.redisCommands(ctx, variant)
	stopSampling()
	wg.Wait()
	if err != nil {
		return err
	}
	rss, err := child.PeakRSS()
	if err != nil {
		return err
	}
	// Let the anchorer carry the tail of the load before counting.
	anchorsAfter := benchAnchoredMetrics(ctx, client, base+"/metrics", 10*time.Second)

	vs := 0.0
	if baselineRPS > 0 {
		vs = res.RPS() / baselineRPS
	}
	p50, p99 := bench.Millis(res.Latency.Quantile(0.5)), bench.Millis(res.Latency.Quantile(0.99))
	if len(res.Errors) > 0 {
		r.say("%s resolves: errors by status %v", variant, res.Errors)
	}
	batches := anchorsAfter["eidgate_anchor_batches"] - anchorsBefore["eidgate_anchor_batches"]
	records := anchorsAfter["eidgate_anchored_records"] - anchorsBefore["eidgate_anchored_records"]
	switch variant {
	case "pg":
		rep.Resolve.PGRPS, rep.Resolve.PGP50Ms, rep.Resolve.PGP99Ms = bench.Round3(res.RPS()), bench.Round3(p50), bench.Round3(p99)
		rep.Resolve.PGErrors, rep.Resolve.PGResolveVsBaseline = float64(res.ErrorCount()), bench.Round3(vs)
		rep.Resolve.PGCPUUsPerReq = benchCPUPerRequest(cpu1-cpu0, res.Requests)
		rep.Resolve.PGPeakRSSMB = bench.Round3(float64(rss) / (1 << 20))
		if redis0 >= 0 && redis1 >= redis0 && res.Requests > 0 {
			rep.Resolve.PGRedisCmdsPerReq = bench.Round3(float64(redis1-redis0) / float64(res.Requests))
		}
		if rep.Resolve.RPS > 0 {
			rep.Resolve.PGVsEmbedded = bench.Round3(res.RPS() / rep.Resolve.RPS)
		}
		return nil
	case "fabric":
		rep.Resolve.FabricRPS, rep.Resolve.FabricP50Ms, rep.Resolve.FabricP99Ms = bench.Round3(res.RPS()), bench.Round3(p50), bench.Round3(p99)
		rep.Resolve.FabricErrors, rep.Anchoring.FabricLagMaxMs = float64(res.ErrorCount()), bench.Round3(lag.max*1000)
		if batches > 0 {
			rep.Anchoring.FabricRecordsPerTx = bench.Round3(records / batches)
		}
		return nil
	}
	rep.Resolve = bench.Resolve{
		RPS: bench.Round3(res.RPS()), P50Ms: bench.Round3(p50), P99Ms: bench.Round3(p99),
		Errors: float64(res.ErrorCount()), Connections: float64(r.plan.Connections), Pairs: float64(len(reqs)),
		ResolveVsBaseline: bench.Round3(vs), CPUUsPerReq: benchCPUPerRequest(cpu1-cpu0, res.Requests),
	}
	rep.Anchoring = bench.Anchoring{Batches: batches, Records: records, LagMeanMs: bench.Round3(lag.mean() * 1000), LagMaxMs: bench.Round3(lag.max * 1000)}
	if batches > 0 {
		rep.Anchoring.RecordsPerTx = bench.Round3(records / batches)
	}
	rep.Memory.PeakRSSMB = bench.Round3(float64(rss) / (1 << 20))
	rep.Memory.SetupPeakRSSMB = bench.Round3(float64(setupRSS) / (1 << 20))
	rep.Memory.ReadyMs = bench.Round3(bench.Millis(readyIn))
	rep.Memory.FirstStartMs = bench.Round3(bench.Millis(firstStart))

	// DID resolution, at low concurrency: its latency is the figure.
	var dids []bench.Request
	for _, res := range info.Residents {
		dids = append(dids, bench.Request{Method: http.MethodGet, URL: base + "/1.0/identifiers/" + res.EID})
	}
	r.say("DID resolution: %d connections, %s", r.plan.DIDConns, r.plan.DIDLoad)
	if _, err := r.loadRun(ctx, r.plan.DIDConns, r.plan.Warmup/2, dids); err != nil {
		return err
	}
	dres, err := r.loadRun(ctx, r.plan.DIDConns, r.plan.DIDLoad, dids)
	if err != nil {
		return err
	}
	rep.DID = bench.DID{
		RPS: bench.Round3(dres.RPS()), P50Ms: bench.Round3(bench.Millis(dres.Latency.Quantile(0.5))),
		P99Ms: bench.Round3(bench.Millis(dres.Latency.Quantile(0.99))), Errors: float64(dres.ErrorCount()),
	}
	return nil
}

// benchCPUPerRequest is CPU microseconds per request, rounded.
// redisCommands is how many commands the --redis server has run (INFO
// commandstats, every client's), or -1 for another variant or when it
// cannot be read.
func (r *benchRun) redisCommands(ctx context.Context, variant string) int64 {
	if variant != "pg" || r.opts.redis == "" {
		return -1
	}
	opt, err := redis.ParseURL(r.opts.redis)
	if err != nil {
		return -1
	}
	c := redis.NewClient(opt)
	defer c.Close()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_get:calls=12,usec=…
		_, rest, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		v, err := strconv.ParseInt(calls, 10, 64)
		if err == nil {
			n += v
		}
	}
	return n
}

func benchCPUPerRequest(cpu time.Duration, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return bench.Round3(float64(cpu.Microseconds()) / float64(requests))
}

// benchLagSampler reads the anchoring lag gauge during the load.
type benchLagSampler struct {
	n        int
	sum, max float64
}

func (l *benchLagSampler) run(ctx context.Context, c *http.Client, url string) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if m, err := bench.ScrapeMetrics(ctx, c, url); err == nil {
			v := m["eidgate_anchoring_lag_seconds"]
			l.n++
			l.sum += v
			l.max = max(l.max, v)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (l *benchLagSampler) mean() float64 {
	if l.n == 0 {
		return 0
	}
	return l.sum / float64(l.n)
}

// benchAnchoredMetrics waits until nothing is left to anchor (or timeout) and
// returns the last metrics read.
func benchAnchoredMetrics(ctx context.Context, c *http.Client, url string, timeout time.Duration) map[string]float64 {
	deadline := time.Now().Add(timeout)
	var last map[string]float64
	for time.Now().Before(deadline) {
		m, err := bench.ScrapeMetrics(ctx, c, url)
		if err == nil {
			last = m
			if m["eidgate_anchoring_lag_seconds"] == 0 {
				return m
			}
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(100 * time.Millisecond):
		}
	}
	return last
}

// benchResolves are (department, data type, purpose) the demo policy
// allows; every demo resident holding the data type gets a consent.
var benchResolves = []struct{ dept, dataType, purpose string }{
	{"hrss", "edu.degree", "employment"},
	{"civil-affairs", "hrss.employment", "social_assistance"},
	{"civil-affairs", "hrss.social_insurance", "social_assistance"},
	{"edu-bureau", "hrss.social_insurance", "admission"},
	{"edu-bureau", "civil.household", "admission"},
	{"hrss", "civil.marriage", "social_assistance"},
	{"hrss", "civil.household", "social_assistance"},
}

// grantBenchConsents opens and grants a consent for every pair that has a
// route, as a department and its resident would, and returns the resolve
// requests that succeed.
func grantBenchConsents(ctx context.Context, c *http.Client, base string, info *DemoInfo) ([]bench.Request, error) {
	keys := map[string]string{}
	for _, d := range info.Departments {
		keys[d.ID] = d.APIKey
	}
	sessions := map[int]*benchResidentSess{}
	var out []bench.Request
	for _, p := range benchResolves {
		for ri, res := range info.Residents {
			req := bench.Request{Method: http.MethodPost, URL: base + "/v1/routes/resolve", Body: benchResolveBody(res, p.dataType, p.purpose),
				Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + keys[p.dept]}, "X-Eidgate-Official": {"bench-" + p.dept}}}
			status, body, err := benchCall(ctx, c, req, nil)
			if err != nil {
				return nil, err
			}
			if status == http.StatusOK {
				out = append(out, req)
				continue
			}
			consentID := benchErrorDetail(body, "consent_id")
			if status != http.StatusForbidden || consentID == "" {
				continue // no route for this resident, or refused by policy
			}
			if sessions[ri] == nil {
				ck, err := benchResidentSession(ctx, c, base, res)
				if err != nil {
					return nil, err
				}
				sessions[ri] = ck
			}
			grant := bench.Request{Method: http.MethodPost, URL: base + "/v1/me/consents/" + consentID + "/grant",
				Header: http.Header{"X-Csrf-Token": {sessions[ri].csrf}}}
			if status, body, err := benchCall(ctx, c, grant, sessions[ri]); err != nil || status != http.StatusOK {
				return nil, fmt.Errorf("grant consent: %d %s %v", status, body, err)
			}
			for range 50 { // the grant reaches the resolver through the ledger
				status, _, err := benchCall(ctx, c, req, nil)
				if err != nil {
					return nil, err
				}
				if status == http.StatusOK {
					out = append(out, req)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no resolve succeeded after granting consents")
	}
	return out, nil
}

// benchResidentSess is a resident's portal session.
type benchResidentSess struct{ cookie, csrf string }

// benchResidentSession signs a demo resident in.
func benchResidentSession(ctx context.Context, c *http.Client, base string, res DemoResident) (*benchResidentSess, error) {
	body, _ := json.Marshal(map[string]any{
		"document": map[string]any{"type": res.DocType, "number": res.DocNumber, "country": res.Country}, "password": res.Password,
	})
	req := bench.Request{Method: http.MethodPost, URL: base + "/v1/me/login", Body: body, Header: http.Header{"Content-Type": {"application/json"}}}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	hreq.Header = req.Header
	resp, err := c.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("resident login: %d %s", resp.StatusCode, raw)
	}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal(raw, &out)
	for _, ck := range resp.Cookies() {
		if ck.Name == gateway.SessionCookie {
			return &benchResidentSess{cookie: ck.Value, csrf: out.CSRF}, nil
		}
	}
	return nil, errors.New("resident login set no session cookie")
}

// benchCall sends one request, as a resident when session is set.
func benchCall(ctx context.Context, c *http.Client, r bench.Request, session *benchResidentSess) (int, []byte, error) {
	if err := bench.CheckLoopback(r.URL); err != nil {
		return 0, nil, err
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if session != nil {
		req.AddCookie(&http.Cookie{Name: gateway.SessionCookie, Value: session.cookie})
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, raw, err
}

func benchErrorDetail(body []byte, key string) string {
	var e struct {
		Error struct {
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	s, _ := e.Error.Details[key].(string)
	return s
}

// inProcess runs the ledger and import parts on a gateway built in this
// process on its own data dir (no demo): its embedded peer, its real
// ledger client and its importer.
func (r *benchRun) inProcess(ctx context.Context, rep *bench.Report) error {
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", filepath.Join(r.dir, "inprocess"), "error"
	m := NewMain(cfg)
	if err := m.Open(ctx); err != nil {
		return fmt.Errorf("in-process gateway: %w", err)
	}
	defer m.Close()
	if r.runs("ledger") {
		stop := r.profile("ledger")
		err := r.ledger(ctx, m, rep)
		stop()
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if r.opts.fabric.on() {
			if err := r.fabricLedger(ctx, rep); err != nil {
				return fmt.Errorf("ledger on Fabric: %w", err)
			}
		}
	}
	if r.runs("import") {
		stop := r.profile("import")
		err := r.importRows(ctx, m, rep)
		stop()
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	return nil
}

// profile starts a CPU profile of this process when --profile-dir is set.
func (r *benchRun) profile(name string) func() {
	if r.opts.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(r.opts.profileDir, name+".pprof"))
	if err != nil {
		r.say("profile %s: %v", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		r.say("profile %s: %v", name, err)
		return func() {}
	}
	// Where the part waits matters as much as where it runs.
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		runtime.SetBlockProfileRate(0)
		if bf, err := os.Create(filepath.Join(r.opts.profileDir, name+".block.pprof")); err == nil {
			_ = pprof.Lookup("block").WriteTo(bf, 0)
			bf.Close()
		}
	}
}

// ledger submits anchoring transactions (the gateway's own steady write)
// from concurrent submitters through the real ledger client to the
// embedded peer, then evaluates one of them concurrently.
func (r *benchRun) ledger(ctx context.Context, m *Main, rep *bench.Report) error {
	r.say("ledger: %d submitters, %s", r.plan.Submitters, r.plan.LedgerLoad)
	cpu0 := bench.SelfCPUTime()
	l, committed, err := r.measureLedger(ctx, m.agent)
	if err != nil {
		return err
	}
	l.CPUUsPerTx = benchCPUPerRequest(bench.SelfCPUTime()-cpu0, committed)
	rep.Ledger = l
	return ctx.Err()
}

// benchAnchorLedger is what the ledger part measures: the gateway's
// anchoring write and its read.
type benchAnchorLedger interface {
	AnchorAccessBatch(ctx context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error)
	GetAnchor(ctx context.Context, batchID string) (*model.AccessAnchor, error)
}

// measureLedger submits AnchorAccessBatch from r.plan.Submitters
// goroutines for r.plan.LedgerLoad (each call returns after its commit
// status), then evaluates GetAnchor for half as long. Batch ids are new to
// the ledger (a random prefix), so runs against a long-lived network never
// meet an earlier run's batches. It also returns the number of committed
// transactions.
func (r *benchRun) measureLedger(ctx context.Context, lg benchAnchorLedger) (bench.Ledger, int64, error) {
	var run [6]byte
	_, _ = rand.Read(run[:])
	prefix := "bench-" + hex.EncodeToString(run[:]) + "-"
	var seq atomic.Uint64
	anchor := func() model.AccessAnchor {
		i := seq.Add(1)
		return model.AccessAnchor{
			BatchID: prefix + strconv.FormatUint(i, 10), MerkleRoot: fmt.Sprintf("%064x", i),
			Count: 1, FirstSeq: i, LastSeq: i,
		}
	}
	// One transaction first, so that evaluations have something to read.
	if _, _, err := lg.AnchorAccessBatch(ctx, anchor()); err != nil {
		return bench.Ledger{}, 0, err
	}
	n := r.plan.Submitters
	submit, errs, elapsed := benchConcurrently(ctx, n, r.plan.LedgerLoad, func(ctx context.Context) error {
		_, _, err := lg.AnchorAccessBatch(ctx, anchor())
		return err
	})
	l := bench.Ledger{
		SubmitTPS:   bench.Round3(float64(submit.Count()) / elapsed.Seconds()),
		CommitP50Ms: bench.Round3(bench.Millis(submit.Quantile(0.5))), CommitP99Ms: bench.Round3(bench.Millis(submit.Quantile(0.99))),
		Submitters: float64(n), SubmitErrors: float64(errs),
	}
	eval, _, elapsed := benchConcurrently(ctx, n, r.plan.LedgerLoad/2, func(ctx context.Context) error {
		_, err := lg.GetAnchor(ctx, prefix+"1")
		return err
	})
	l.EvaluatePerS = bench.Round3(float64(eval.Count()) / elapsed.Seconds())
	l.EvaluateP99 = bench.Round3(bench.Millis(eval.Quantile(0.99)))
	return l, int64(submit.Count()), ctx.Err()
}

// benchConcurrently runs op from n goroutines until d has passed and returns
// the latency of the successful calls, the failures and the elapsed time.
func benchConcurrently(ctx context.Context, n int, d time.Duration, op func(context.Context) error) (*bench.Histogram, int64, time.Duration) {
	hists := make([]*bench.Histogram, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range n {
		h := bench.NewHistogram()
		hists[w] = h
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				err := op(cctx)
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				h.Record(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := bench.NewHistogram()
	for _, h := range hists {
		all.Merge(h)
	}
	return all, failed.Load(), elapsed
}

// importRows imports a generated file of valid, distinct resident numbers
// through the gateway's importer into its embedded peer.
func (r *benchRun) importRows(ctx context.Context, m *Main, rep *bench.Report) error {
	n := r.plan.ImportRows
	path := filepath.Join(r.dir, "residents.csv")
	if err := bench.WriteResidentCSV(path, n); err != nil {
		return err
	}
	r.say("import: %d rows", n)
	written, cpu := bench.WrittenBytes(), bench.SelfCPUTime()
	start := time.Now()
	job, err := m.importer.Import(ctx, mapping.ImportOptions{Path: path, Officer: "bench"})
	elapsed := time.Since(start)
	written, cpu = bench.WrittenBytes()-written, bench.SelfCPUTime()-cpu
	if err != nil {
		return err
	}
	if job.Created != int64(n) {
		return fmt.Errorf("import created %d of %d rows (rejected %d, existing %d)", job.Created, n, job.Rejected, job.Existing)
	}
	rep.Import = bench.Import{
		Rows: float64(n), Seconds: bench.Round3(elapsed.Seconds()), RowsPerS: bench.Round3(float64(n) / elapsed.Seconds()),
		WrittenKBPerKRow: bench.Round3(float64(written) / 1024 / (float64(n) / 1000)),
		CPUUsPerRow:      benchCPUPerRequest(cpu, int64(n)),
	}
	return nil
}
