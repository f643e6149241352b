package bench

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

	"github.com/redis/go-redis/v9"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop the schema of --db

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/mapping"
)

// ChildEnv marks a process the bench started; a test binary standing
// in for eidgate runs the CLI when it sees it.
const ChildEnv = "EIDGATE_BENCH_CHILD"

// Plan is how long and how much each part of a run measures.
type Plan struct {
	Connections int           // resolve and baseline
	Load        time.Duration // each measured load run
	Warmup      time.Duration // before each measured load run
	DIDConns    int
	DIDLoad     time.Duration
	Submitters  int
	LedgerLoad  time.Duration
	ImportRows  int
	// The size part: resolves with SizeSmall and with SizeLarge residents
	// loaded, spread over SizeResolved of them.
	SizeSmall, SizeLarge, SizeResolved int
}

// PlanFor is the plan of a default, --quick or --full run, its durations
// and import size multiplied by scale.
func PlanFor(quick, full bool, scale float64) Plan {
	p := Plan{
		Connections: 64, Load: 10 * time.Second, Warmup: 2 * time.Second,
		DIDConns: 4, DIDLoad: 5 * time.Second,
		Submitters: 32, LedgerLoad: 10 * time.Second, ImportRows: 200_000,
		SizeSmall: 10_000, SizeLarge: 100_000, SizeResolved: 2_000,
	}
	switch {
	case quick:
		p.Load, p.Warmup, p.DIDLoad, p.LedgerLoad, p.ImportRows = 4*time.Second, time.Second, 2*time.Second, 4*time.Second, 20_000
		p.SizeSmall, p.SizeLarge, p.SizeResolved = 2_000, 20_000, 500
	case full:
		p.Load, p.Warmup, p.DIDLoad, p.LedgerLoad, p.ImportRows = 30*time.Second, 3*time.Second, 10*time.Second, 30*time.Second, 1_000_000
		p.SizeSmall, p.SizeLarge, p.SizeResolved = 10_000, 1_000_000, 5_000
	}
	if scale > 0 && scale != 1 {
		sc := func(d time.Duration) time.Duration { return max(time.Duration(float64(d)*scale), 200*time.Millisecond) }
		p.Load, p.Warmup, p.DIDLoad, p.LedgerLoad = sc(p.Load), sc(p.Warmup), sc(p.DIDLoad), sc(p.LedgerLoad)
		p.ImportRows = max(int(float64(p.ImportRows)*scale), 1000)
		p.SizeSmall = max(int(float64(p.SizeSmall)*scale), 200)
		p.SizeLarge = max(int(float64(p.SizeLarge)*scale), 1000)
		p.SizeResolved = min(max(int(float64(p.SizeResolved)*scale), 50), p.SizeSmall)
	}
	return p
}

// Parts are what --only selects: the gateway child (baseline,
// resolve, anchoring, DID, memory), the ledger, the import and the size
// part (resolves with a small and a large population).
var Parts = []string{"gateway", "ledger", "import", "size"}

// Options are the choices of a run beyond its plan.
type Options struct {
	DB          string // also measure resolves on this PostgreSQL database (a fresh schema, dropped after)
	Redis       string // Redis URL of that second variant's cache
	ProfileDir  string // CPU profiles of the gateway child and the in-process parts
	PprofListen string // the gateway child serves net/http/pprof here (loopback)
	Only        []string
	Keep        bool // keep the temporary data dirs and logs
	Fabric      FabricOptions
}

// InProcess is the gateway the ledger and import parts measure in this
// process: its real ledger client on its embedded peer, and its importer.
type InProcess struct {
	Ledger   AnchorLedger
	Importer interface {
		Import(ctx context.Context, opts mapping.ImportOptions) (*mapping.ImportJob, error)
	}
	// Population is what the size part loads residents' routes and
	// consents through (nil: no size part).
	Population Population
	Close      func() error
}

// Config is one run of the bench.
type Config struct {
	Options
	Plan Plan
	Log  io.Writer // progress lines (default: discarded)
	// Exe is the eidgate executable the gateway and baseline children run
	// (default: this process's executable).
	Exe string
	// OpenInProcess opens a gateway on dataDir in this process, without the
	// demo (required).
	OpenInProcess func(ctx context.Context, dataDir string) (*InProcess, error)
	// OpenInProcessDB opens the same gateway on the PostgreSQL database at
	// db; with --db the import part runs on it too (import.pg_*).
	OpenInProcessDB func(ctx context.Context, dataDir, db string) (*InProcess, error)
}

// Runner is one run of the bench.
type Runner struct {
	opts Options
	plan Plan
	log  io.Writer
	exe  string
	dir  string
	open func(ctx context.Context, dataDir string) (*InProcess, error)
	// openDB opens the in-process gateway on a PostgreSQL database.
	openDB func(ctx context.Context, dataDir, db string) (*InProcess, error)
}

// NewRunner checks cfg and fills its defaults.
func NewRunner(cfg Config) (*Runner, error) {
	if cfg.OpenInProcess == nil {
		return nil, errors.New("bench.NewRunner: OpenInProcess is required")
	}
	if cfg.Plan.Connections <= 0 {
		return nil, errors.New("bench.NewRunner: Plan.Connections must be positive")
	}
	r := &Runner{opts: cfg.Options, plan: cfg.Plan, log: cfg.Log, exe: cfg.Exe, open: cfg.OpenInProcess, openDB: cfg.OpenInProcessDB}
	if r.log == nil {
		r.log = io.Discard
	}
	if r.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		r.exe = exe
	}
	return r, nil
}

func (r *Runner) say(format string, args ...any) {
	fmt.Fprintf(r.log, "bench: "+format+"\n", args...)
}

// Run measures every part the options select and returns the report.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	dir, err := os.MkdirTemp("", "eidgate-bench-")
	if err != nil {
		return nil, err
	}
	r.dir = dir
	if r.opts.Keep {
		r.say("data dirs and logs kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if r.opts.ProfileDir != "" {
		if err := os.MkdirAll(r.opts.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	rep := &Report{}
	if r.runs("gateway") {
		if err := r.gatewayParts(ctx, rep); err != nil {
			return nil, err
		}
	}
	if err := r.inProcess(ctx, rep); err != nil {
		return nil, err
	}
	if r.runs("size") {
		if err := r.size(ctx, rep); err != nil {
			return nil, fmt.Errorf("size: %w", err)
		}
	}
	return rep, nil
}

// gatewayParts measures the baseline and the gateway child: resolves,
// anchoring, DID resolution and memory, on every configuration asked for.
func (r *Runner) gatewayParts(ctx context.Context, rep *Report) error {
	baseline, err := r.baseline(ctx, rep)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if err := r.gateway(ctx, rep, "sqlite", nil, baseline); err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	if r.opts.DB != "" || r.opts.Redis != "" {
		var extra []string
		if r.opts.DB != "" {
			dsn, drop, err := postgresSchema(ctx, r.opts.DB)
			if err != nil {
				return err
			}
			defer drop()
			extra = append(extra, "--db", dsn)
		}
		if r.opts.Redis != "" {
			extra = append(extra, "--redis", r.opts.Redis)
		}
		if err := r.gateway(ctx, rep, "pg", extra, baseline); err != nil {
			return fmt.Errorf("resolve on PostgreSQL/Redis: %w", err)
		}
	}
	if r.opts.Fabric.On() {
		if err := r.gateway(ctx, rep, "fabric", r.opts.Fabric.GatewayArgs(), baseline); err != nil {
			return fmt.Errorf("resolve on Fabric: %w", err)
		}
	}
	return nil
}

// postgresSchema creates an empty schema for one run on the database
// at dsn and returns the URL that selects it, and how to drop it after.
func postgresSchema(ctx context.Context, dsn string) (string, func(), error) {
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
func (r *Runner) runs(part string) bool {
	return len(r.opts.Only) == 0 || slices.Contains(r.opts.Only, part)
}

func (r *Runner) startChild(name string, args []string) (*Child, error) {
	return StartChild(r.exe, args, []string{ChildEnv + "=1"}, filepath.Join(r.dir, name+".log"))
}

// resolveBody is the body of a resolve by document.
func resolveBody(res demo.ResidentLogin, dataType, purpose string) []byte {
	b, _ := json.Marshal(map[string]any{
		"subject":   map[string]any{"document": map[string]any{"type": res.DocType, "number": res.DocNumber, "country": res.Country}},
		"data_type": dataType, "purpose": purpose,
	})
	return b
}

func (r *Runner) loadRun(ctx context.Context, conns int, d time.Duration, reqs []Request) (*LoadResult, error) {
	return Run(ctx, LoadOptions{
		Connections: conns, Duration: d, MaxRequests: 50_000_000, Requests: reqs,
	})
}

// baseline measures the bare gin child under the resolve load's
// connection count, with the same request size.
func (r *Runner) baseline(ctx context.Context, rep *Report) (float64, error) {
	addr, err := FreeLoopbackAddr()
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
	body := resolveBody(demo.ResidentLogin{DocType: "cn-resident", DocNumber: "110105199003071239"}, "edu.degree", "employment")
	req := []Request{{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{
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
	rep.Baseline = Baseline{
		RPS: Round3(res.RPS()), P50Ms: Round3(Millis(res.Latency.Quantile(0.5))),
		P99Ms: Round3(Millis(res.Latency.Quantile(0.99))), Errors: float64(res.ErrorCount()),
		Connections: float64(r.plan.Connections), CPUUsPerReq: cpuPerRequest(cpu1-cpu0, res.Requests),
	}
	rep.Memory.BaselinePeakRSSMB = Round3(float64(rss) / (1 << 20))
	return res.RPS(), nil
}

// gatewayArgs start a gateway child as `eidgate serve --demo` on addr
// and dataDir.
func (r *Runner) gatewayArgs(addr, dataDir string) []string {
	return []string{"bench", "gateway", "--demo", "--listen", addr, "--data-dir", dataDir,
		"--log-level", "warn", "--rate-limit", "0",
		// The load generator is one client standing for many departments'
		// systems: lift the per-client bounds above its connections.
		"--conns-per-client", strconv.Itoa(4 * r.plan.Connections), "--in-flight-per-client", strconv.Itoa(4 * r.plan.Connections)}
}

// gateway measures a gateway child: first start with the demo load, a
// restart to ready, resolves, anchoring, DID resolution and memory.
// variant "sqlite" fills the main figures; "pg" the resolve.pg_* ones.
func (r *Runner) gateway(ctx context.Context, rep *Report, variant string, extra []string, baselineRPS float64) error {
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(r.dir, "gateway-"+variant)
	args := append(r.gatewayArgs(addr, dataDir), extra...)
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
	if r.opts.ProfileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(r.opts.ProfileDir, "gateway-"+variant+".pprof"))
	}
	if r.opts.PprofListen != "" {
		args = append(args, "--pprof-listen", r.opts.PprofListen)
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
	info, err := demo.ReadInfo(dataDir)
	if err != nil {
		return err
	}
	client := NewClient(4, 30*time.Second)
	defer client.CloseIdleConnections()
	reqs, err := grantConsents(ctx, client, base, info)
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
	anchorsBefore, err := ScrapeMetrics(ctx, client, base+"/metrics")
	if err != nil {
		return err
	}
	lag := &lagSampler{}
	anon := &anonSampler{child: child}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); lag.run(sampleCtx, client, base+"/metrics") }()
	go func() { defer wg.Done(); anon.run(sampleCtx) }()
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
	anchorsAfter := anchoredMetrics(ctx, client, base+"/metrics", 10*time.Second)

	vs := 0.0
	if baselineRPS > 0 {
		vs = res.RPS() / baselineRPS
	}
	p50, p99 := Millis(res.Latency.Quantile(0.5)), Millis(res.Latency.Quantile(0.99))
	if len(res.Errors) > 0 {
		r.say("%s resolves: errors by status %v", variant, res.Errors)
	}
	perCommit := 0.0
	if commits := anchorsAfter["eidgate_access_log_commits_total"] - anchorsBefore["eidgate_access_log_commits_total"]; commits > 0 {
		perCommit = Round3((anchorsAfter["eidgate_access_log_records_total"] - anchorsBefore["eidgate_access_log_records_total"]) / commits)
	}
	batches := anchorsAfter["eidgate_anchor_batches"] - anchorsBefore["eidgate_anchor_batches"]
	records := anchorsAfter["eidgate_anchored_records"] - anchorsBefore["eidgate_anchored_records"]
	switch variant {
	case "pg":
		rep.Resolve.PGRPS, rep.Resolve.PGP50Ms, rep.Resolve.PGP99Ms = Round3(res.RPS()), Round3(p50), Round3(p99)
		rep.Resolve.PGErrors, rep.Resolve.PGResolveVsBaseline = float64(res.ErrorCount()), Round3(vs)
		rep.Resolve.PGCPUUsPerReq = cpuPerRequest(cpu1-cpu0, res.Requests)
		rep.Resolve.PGPeakRSSMB = Round3(float64(rss) / (1 << 20))
		rep.Resolve.PGRecordsPerCommit = perCommit
		if rep.Resolve.RPS > 0 {
			rep.Resolve.PGVsEmbedded = Round3(res.RPS() / rep.Resolve.RPS)
		}
		if redis0 >= 0 && redis1 >= redis0 && res.Requests > 0 {
			rep.Resolve.PGRedisCmdsPerReq = Round3(float64(redis1-redis0) / float64(res.Requests))
		}
		return nil
	case "fabric":
		rep.Resolve.FabricRPS, rep.Resolve.FabricP50Ms, rep.Resolve.FabricP99Ms = Round3(res.RPS()), Round3(p50), Round3(p99)
		rep.Resolve.FabricErrors, rep.Anchoring.FabricLagMaxMs = float64(res.ErrorCount()), Round3(lag.max*1000)
		if batches > 0 {
			rep.Anchoring.FabricRecordsPerTx = Round3(records / batches)
		}
		return nil
	}
	rep.Resolve = Resolve{
		RPS: Round3(res.RPS()), P50Ms: Round3(p50), P99Ms: Round3(p99),
		Errors: float64(res.ErrorCount()), Connections: float64(r.plan.Connections), Pairs: float64(len(reqs)),
		ResolveVsBaseline: Round3(vs), CPUUsPerReq: cpuPerRequest(cpu1-cpu0, res.Requests),
		RecordsPerCommit: perCommit,
	}
	rep.Anchoring = Anchoring{Batches: batches, Records: records, LagMeanMs: Round3(lag.mean() * 1000), LagMaxMs: Round3(lag.max * 1000)}
	if batches > 0 {
		rep.Anchoring.RecordsPerTx = Round3(records / batches)
	}
	rep.Memory.PeakRSSMB = Round3(float64(rss) / (1 << 20))
	rep.Memory.PeakAnonRSSMB = Round3(float64(anon.max) / (1 << 20))
	rep.Memory.SetupPeakRSSMB = Round3(float64(setupRSS) / (1 << 20))
	rep.Memory.ReadyMs = Round3(Millis(readyIn))
	rep.Memory.FirstStartMs = Round3(Millis(firstStart))

	// DID resolution, at low concurrency: its latency is the figure.
	var dids []Request
	for _, res := range info.Residents {
		dids = append(dids, Request{Method: http.MethodGet, URL: base + "/1.0/identifiers/" + res.EID})
	}
	r.say("DID resolution: %d connections, %s", r.plan.DIDConns, r.plan.DIDLoad)
	if _, err := r.loadRun(ctx, r.plan.DIDConns, r.plan.Warmup/2, dids); err != nil {
		return err
	}
	dres, err := r.loadRun(ctx, r.plan.DIDConns, r.plan.DIDLoad, dids)
	if err != nil {
		return err
	}
	rep.DID = DID{
		RPS: Round3(dres.RPS()), P50Ms: Round3(Millis(dres.Latency.Quantile(0.5))),
		P99Ms: Round3(Millis(dres.Latency.Quantile(0.99))), Errors: float64(dres.ErrorCount()),
	}
	return nil
}

// cpuPerRequest is CPU microseconds per request, rounded.
// redisCommands is how many commands the Redis server of the PostgreSQL/
// Redis variant has run (INFO commandstats, every client's), or -1 for
// another variant or when it cannot be read.
func (r *Runner) redisCommands(ctx context.Context, variant string) int64 {
	if variant != "pg" || r.opts.Redis == "" {
		return -1
	}
	opt, err := redis.ParseURL(r.opts.Redis)
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
		if v, err := strconv.ParseInt(calls, 10, 64); err == nil {
			n += v
		}
	}
	return n
}

func cpuPerRequest(cpu time.Duration, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return Round3(float64(cpu.Microseconds()) / float64(requests))
}

// lagSampler reads the anchoring lag gauge during the load.
type lagSampler struct {
	n        int
	sum, max float64
}

func (l *lagSampler) run(ctx context.Context, c *http.Client, url string) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if m, err := ScrapeMetrics(ctx, c, url); err == nil {
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

func (l *lagSampler) mean() float64 {
	if l.n == 0 {
		return 0
	}
	return l.sum / float64(l.n)
}

// anchoredMetrics waits until nothing is left to anchor (or timeout) and
// returns the last metrics read.
func anchoredMetrics(ctx context.Context, c *http.Client, url string, timeout time.Duration) map[string]float64 {
	deadline := time.Now().Add(timeout)
	var last map[string]float64
	for time.Now().Before(deadline) {
		m, err := ScrapeMetrics(ctx, c, url)
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

// resolvePairs are (department, data type, purpose) the demo policy
// allows; every demo resident holding the data type gets a consent.
var resolvePairs = []struct{ dept, dataType, purpose string }{
	{"hrss", "edu.degree", "employment"},
	{"civil-affairs", "hrss.employment", "social_assistance"},
	{"civil-affairs", "hrss.social_insurance", "social_assistance"},
	{"edu-bureau", "hrss.social_insurance", "admission"},
	{"edu-bureau", "civil.household", "admission"},
	{"hrss", "civil.marriage", "social_assistance"},
	{"hrss", "civil.household", "social_assistance"},
}

// grantConsents opens and grants a consent for every pair that has a
// route, as a department and its resident would, and returns the resolve
// requests that succeed.
func grantConsents(ctx context.Context, c *http.Client, base string, info *demo.Info) ([]Request, error) {
	keys := map[string]string{}
	for _, d := range info.Departments {
		keys[d.ID] = d.APIKey
	}
	sessions := map[int]*residentSession{}
	var out []Request
	for _, p := range resolvePairs {
		for ri, res := range info.Residents {
			req := resolveRequest(base, keys[p.dept], p.dept, res, p.dataType, p.purpose)
			status, body, err := call(ctx, c, req, nil)
			if err != nil {
				return nil, err
			}
			if status == http.StatusOK {
				out = append(out, req)
				continue
			}
			consentID := errorDetail(body, "consent_id")
			if status != http.StatusForbidden || consentID == "" {
				continue // no route for this resident, or refused by policy
			}
			if sessions[ri] == nil {
				ck, err := signInResident(ctx, c, base, res)
				if err != nil {
					return nil, err
				}
				sessions[ri] = ck
			}
			grant := Request{Method: http.MethodPost, URL: base + "/v1/me/consents/" + consentID + "/grant",
				Header: http.Header{"X-Csrf-Token": {sessions[ri].csrf}}}
			if status, body, err := call(ctx, c, grant, sessions[ri]); err != nil || status != http.StatusOK {
				return nil, fmt.Errorf("grant consent: %d %s %v", status, body, err)
			}
			for range 50 { // the grant reaches the resolver through the ledger
				status, _, err := call(ctx, c, req, nil)
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

// residentSession is a resident's portal session.
type residentSession struct{ cookie, csrf string }

// signInResident signs a demo resident in.
func signInResident(ctx context.Context, c *http.Client, base string, res demo.ResidentLogin) (*residentSession, error) {
	body, _ := json.Marshal(map[string]any{
		"document": map[string]any{"type": res.DocType, "number": res.DocNumber, "country": res.Country}, "password": res.Password,
	})
	req := Request{Method: http.MethodPost, URL: base + "/v1/me/login", Body: body, Header: http.Header{"Content-Type": {"application/json"}}}
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
			return &residentSession{cookie: ck.Value, csrf: out.CSRF}, nil
		}
	}
	return nil, errors.New("resident login set no session cookie")
}

// call sends one request, as a resident when session is set.
func call(ctx context.Context, c *http.Client, r Request, session *residentSession) (int, []byte, error) {
	if err := CheckLoopback(r.URL); err != nil {
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

func errorDetail(body []byte, key string) string {
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
func (r *Runner) inProcess(ctx context.Context, rep *Report) error {
	if !r.runs("ledger") && !r.runs("import") {
		return nil
	}
	m, err := r.open(ctx, filepath.Join(r.dir, "inprocess"))
	if err != nil {
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
		if r.opts.Fabric.On() {
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
		if r.opts.DB != "" {
			if err := r.importPostgres(ctx, rep); err != nil {
				return fmt.Errorf("import on PostgreSQL: %w", err)
			}
		}
	}
	return nil
}

// profile starts a CPU profile of this process when --profile-dir is set.
func (r *Runner) profile(name string) func() {
	if r.opts.ProfileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(r.opts.ProfileDir, name+".pprof"))
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
		if bf, err := os.Create(filepath.Join(r.opts.ProfileDir, name+".block.pprof")); err == nil {
			_ = pprof.Lookup("block").WriteTo(bf, 0)
			bf.Close()
		}
	}
}

// ledger submits anchoring transactions (the gateway's own steady write)
// from concurrent submitters through the real ledger client to the
// embedded peer, then evaluates one of them concurrently.
func (r *Runner) ledger(ctx context.Context, m *InProcess, rep *Report) error {
	r.say("ledger: %d submitters, %s", r.plan.Submitters, r.plan.LedgerLoad)
	l, err := r.measureLedger(ctx, m.Ledger)
	if err != nil {
		return err
	}
	rep.Ledger = l
	return ctx.Err()
}

// AnchorLedger is what the ledger part measures: the gateway's
// anchoring write and its read.
type AnchorLedger interface {
	AnchorAccessBatch(ctx context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error)
	GetAnchor(ctx context.Context, batchID string) (*model.AccessAnchor, error)
}

// measureLedger submits AnchorAccessBatch from r.plan.Submitters
// goroutines for r.plan.LedgerLoad (each call returns after its commit
// status), then evaluates GetAnchor for half as long. Batch ids are new to
// the ledger (a random prefix), so runs against a long-lived network never
// meet an earlier run's batches. The CPU per transaction is this process's
// during the submissions only.
func (r *Runner) measureLedger(ctx context.Context, lg AnchorLedger) (Ledger, error) {
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
		return Ledger{}, err
	}
	n := r.plan.Submitters
	cpu0 := SelfCPUTime()
	submit, errs, elapsed := concurrently(ctx, n, r.plan.LedgerLoad, func(ctx context.Context) error {
		_, _, err := lg.AnchorAccessBatch(ctx, anchor())
		return err
	})
	l := Ledger{
		SubmitTPS:   Round3(float64(submit.Count()) / elapsed.Seconds()),
		CommitP50Ms: Round3(Millis(submit.Quantile(0.5))), CommitP99Ms: Round3(Millis(submit.Quantile(0.99))),
		Submitters: float64(n), SubmitErrors: float64(errs),
		CPUUsPerTx: cpuPerRequest(SelfCPUTime()-cpu0, int64(submit.Count())),
	}
	eval, _, elapsed := concurrently(ctx, n, r.plan.LedgerLoad/2, func(ctx context.Context) error {
		_, err := lg.GetAnchor(ctx, prefix+"1")
		return err
	})
	l.EvaluatePerS = Round3(float64(eval.Count()) / elapsed.Seconds())
	l.EvaluateP99 = Round3(Millis(eval.Quantile(0.99)))
	return l, ctx.Err()
}

// concurrently runs op from n goroutines until d has passed and returns
// the latency of the successful calls, the failures and the elapsed time.
func concurrently(ctx context.Context, n int, d time.Duration, op func(context.Context) error) (*Histogram, int64, time.Duration) {
	hists := make([]*Histogram, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range n {
		h := NewHistogram()
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
	all := NewHistogram()
	for _, h := range hists {
		all.Merge(h)
	}
	return all, failed.Load(), elapsed
}

// importRows imports a generated file of valid, distinct resident numbers
// through the gateway's importer into its embedded peer.
func (r *Runner) importRows(ctx context.Context, m *InProcess, rep *Report) error {
	res, err := r.importFile(ctx, m, "residents.csv")
	if err != nil {
		return err
	}
	rep.Import = res // before the pg_* figures, which importPostgres adds
	return nil
}

// importMarks are the rows an import had committed at moments of its run.
type importMarks struct {
	at   []time.Duration
	rows []int64
}

func (m *importMarks) add(at time.Duration, rows int64) {
	m.at = append(m.at, at)
	m.rows = append(m.rows, rows)
}

// tenths are the rows per second of the first and of the last tenth of n
// rows, between the commits that straddle them: from the first batch's
// commit (so the start-up is not in it) to the first commit at or past a
// tenth, and from the last commit at or before nine tenths to the last
// commit. Both are 0 when the import took fewer than three batches.
func (m *importMarks) tenths(n int64) (first, last float64) {
	end := len(m.at) - 1
	if end < 2 {
		return 0, 0
	}
	rate := func(i, j int) float64 {
		if d := (m.at[j] - m.at[i]).Seconds(); d > 0 {
			return float64(m.rows[j]-m.rows[i]) / d
		}
		return 0
	}
	for j := 1; j <= end; j++ {
		if m.rows[j]*10 >= n {
			first = rate(0, j)
			break
		}
	}
	for i := end - 1; i >= 0; i-- {
		if m.rows[i]*10 <= 9*n {
			last = rate(i, end)
			break
		}
	}
	return first, last
}
