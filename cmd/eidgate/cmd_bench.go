package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/bench"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// benchOptions are the bench command's flags.
type benchOptions struct {
	quick, full, json bool
	connections       int
	scale             float64
	run               bench.Options
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the gateway on this machine: resolves, ledger, anchoring, import, DID resolution, memory, size",
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
  size       the resolve load with a small and with a large population
             loaded (residents, document mappings, routes: 2,000 and 20,000
             with --quick, 10,000 and 100,000, 10,000 and 1,000,000 with
             --full), and the gateway's peak resident memory at each size

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
			if o.run.DB != "" && !isPostgresURL(o.run.DB) {
				return &exitError{code: 2, err: fmt.Errorf("--db %q: want a postgres:// URL", redactURL(o.run.DB))}
			}
			if o.connections <= 0 {
				return &exitError{code: 2, err: errors.New("--connections must be positive")}
			}
			for _, part := range o.run.Only {
				if !slices.Contains(bench.Parts, part) {
					return &exitError{code: 2, err: fmt.Errorf("--only %q: want some of %s", part, strings.Join(bench.Parts, ", "))}
				}
			}
			if err := o.run.Fabric.Check(); err != nil {
				return &exitError{code: 2, err: err}
			}
			if o.run.PprofListen != "" {
				if err := bench.CheckLoopback("http://" + o.run.PprofListen); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--pprof-listen: %w", err)}
				}
			}
			plan := bench.PlanFor(o.quick, o.full, o.scale)
			plan.Connections = o.connections
			r, err := bench.NewRunner(bench.Config{Options: o.run, Plan: plan, Log: cmd.ErrOrStderr(), OpenInProcess: openBenchGateway, OpenInProcessDB: openBenchGatewayOn})
			if err != nil {
				return err
			}
			rep, err := r.Run(cmd.Context())
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
	f.BoolVar(&o.quick, "quick", false, "short run: 4 s loads, 20,000 import rows, populations of 2,000 and 20,000")
	f.BoolVar(&o.full, "full", false, "long run: 30 s loads, 1,000,000 import rows, populations of 10,000 and 1,000,000")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.StringVar(&o.run.DB, "db", "", "also measure resolves and the import on this PostgreSQL database (in fresh schemas, dropped afterwards): resolve.pg_*, import.pg_*")
	f.StringVar(&o.run.Redis, "redis", "", "Redis URL for the cache of that second variant (with or without --db)")
	f.IntVar(&o.connections, "connections", 64, "connections of the resolve and baseline load")
	f.Float64Var(&o.scale, "scale", 1, "multiply every duration and the import size (tests)")
	f.StringVar(&o.run.ProfileDir, "profile-dir", "", "write CPU profiles of the gateway and the in-process parts here")
	f.BoolVar(&o.run.Keep, "keep", false, "keep the temporary data dirs and logs")
	f.StringVar(&o.run.PprofListen, "pprof-listen", "", "serve the gateway child's net/http/pprof on this loopback address")
	_ = f.MarkHidden("scale")
	f.StringSliceVar(&o.run.Only, "only", nil, "run only these parts: gateway (baseline, resolve, anchoring, did, memory), ledger, import, size")
	_ = f.MarkHidden("pprof-listen")
	f.StringVar(&o.run.Fabric.Ledger, "ledger", "devnet", "devnet (the embedded peer only) or fabric (also measure the real network of --fabric-profile: fabric_* figures)")
	f.StringVar(&o.run.Fabric.Profile, "fabric-profile", "", "connection profile of the gateway's agent identity on the real network (--ledger fabric)")
	f.StringVar(&o.run.Fabric.AdminProfile, "fabric-admin-profile", "", "connection profile of an eidgate.role=admin identity, to load the demo consortium onto the real network (--ledger fabric)")
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

// openBenchGateway opens the gateway the bench's ledger and import parts
// measure in this process: the default configuration on dataDir, without
// the demo.
func openBenchGateway(ctx context.Context, dataDir string) (*bench.InProcess, error) {
	return openBenchGatewayOn(ctx, dataDir, "")
}

// openBenchGatewayOn is openBenchGateway on the PostgreSQL database at db
// ("": the SQLite file in dataDir).
func openBenchGatewayOn(ctx context.Context, dataDir, db string) (*bench.InProcess, error) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel, cfg.DB = "127.0.0.1:0", dataDir, "error", db
	m := NewMain(cfg)
	if err := m.Open(ctx); err != nil {
		return nil, err
	}
	return &bench.InProcess{Ledger: m.agent, Importer: m.importer, Population: benchPopulation{m}, Close: m.Close}, nil
}

// benchPopulation is what the bench's size part loads a population
// through: the gateway's own mapping, routes and consent services.
type benchPopulation struct{ m *Main }

// EIDs reads the eIDs of docs from the stored documents, a thousand to a
// query.
func (p benchPopulation) EIDs(ctx context.Context, docs []mapping.Input) ([]string, error) {
	keys := p.m.mapping.Keyring()
	now := time.Now()
	idx := make([]mapping.Index, len(docs))
	for i, in := range docs {
		doc, err := mapping.Parse(in, now)
		if err != nil {
			return nil, err
		}
		if idx[i], err = keys.Blind(doc); err != nil {
			return nil, err
		}
	}
	stored, err := p.m.db.DocumentsByIndex(ctx, idx)
	if err != nil {
		return nil, err
	}
	eid := make(map[mapping.Index]string, len(stored))
	for _, sd := range stored {
		eid[sd.Index()] = sd.EID
	}
	out := make([]string, len(docs))
	for i, x := range idx {
		out[i] = eid[x]
	}
	return out, nil
}

func (p benchPopulation) PublishRoutes(ctx context.Context, department string, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	return p.m.routes.Publish(ctx, department, batch)
}

func (p benchPopulation) RequestConsent(ctx context.Context, requester string, d routing.ConsentDraft) (*model.Consent, error) {
	return p.m.consents.Request(ctx, requester, d)
}

func (p benchPopulation) GrantConsent(ctx context.Context, eid, id, method string) (*model.Consent, error) {
	return p.m.consents.Grant(ctx, eid, id, method)
}
