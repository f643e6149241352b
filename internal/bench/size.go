package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
)

// Population is what the size part loads a gateway's population through,
// besides its importer: the gateway's own services, in this process, on
// the data dir its child serves afterwards.
type Population interface {
	// EIDs returns the eID each document maps to ("" for none).
	EIDs(ctx context.Context, docs []mapping.Input) ([]string, error)
	// PublishRoutes relays a department's signed routes to the ledger.
	PublishRoutes(ctx context.Context, department string, batch []model.SignedRoute) ([]model.RouteOutcome, error)
	// RequestConsent opens a consent request by department requester;
	// GrantConsent grants it on the resident's behalf.
	RequestConsent(ctx context.Context, requester string, d routing.ConsentDraft) (*model.Consent, error)
	GrantConsent(ctx context.Context, eid, id, method string) (*model.Consent, error)
}

// sizeResident is one resident the size part's load resolves: the index
// of its document number (ResidentNumber) and the resolve pair whose data
// type it has a route for.
type sizeResident struct {
	index int
	eid   string
}

// pair is the resolve pair of resident i: its one route is for the pair's
// data type, so the residents' routes and resolves spread over the pairs.
func (s sizeResident) pair() int { return pairOf(s.index) }

func pairOf(i int) int { return i % len(resolvePairs) }

// spread picks m of the residents 0…n-1, evenly over the whole range. The
// stride is never a multiple of the number of pairs, so the picked
// residents cover every pair.
func spread(n, m int) []int {
	m = min(m, n)
	if m <= 0 {
		return nil
	}
	stride := max(n/m, 1)
	if stride > 1 && stride%len(resolvePairs) == 0 {
		stride--
	}
	out := make([]int, m)
	for k := range out {
		out[k] = k * stride
	}
	return out
}

// residentDoc is resident i's identity document.
func residentDoc(i int) mapping.Input {
	return mapping.Input{Type: mapping.CNResident, Number: ResidentNumber(i)}
}

// sizeFigures are what one population size measured.
type sizeFigures struct {
	rps, p50, p99, errors, cpuPerReq float64
	coldRPS, coldP99                 float64
	peakRSS, readyRSS, readyMs       float64
	peakAnon                         float64
	loadSeconds                      float64
}

// size measures resolves with a small and with a large population.
func (r *Runner) size(ctx context.Context, rep *Report) error {
	small, err := r.sizeRun(ctx, "small", r.plan.SizeSmall)
	if err != nil {
		return fmt.Errorf("%d residents: %w", r.plan.SizeSmall, err)
	}
	large, err := r.sizeRun(ctx, "large", r.plan.SizeLarge)
	if err != nil {
		return fmt.Errorf("%d residents: %w", r.plan.SizeLarge, err)
	}
	rep.Size = sizeReport(r.plan, small, large)
	return nil
}

// sizeReport puts the two sizes' figures side by side.
func sizeReport(p Plan, small, large sizeFigures) Size {
	s := Size{
		SmallResidents: float64(p.SizeSmall), LargeResidents: float64(p.SizeLarge),
		Resolved: float64(min(p.SizeResolved, p.SizeSmall)), Connections: float64(p.Connections),
		SmallRPS: Round3(small.rps), LargeRPS: Round3(large.rps),
		SmallP50Ms: Round3(small.p50), LargeP50Ms: Round3(large.p50),
		SmallP99Ms: Round3(small.p99), LargeP99Ms: Round3(large.p99),
		SmallErrors: small.errors, LargeErrors: large.errors,
		SmallCPUUsPerReq: small.cpuPerReq, LargeCPUUsPerReq: large.cpuPerReq,
		SmallColdRPS: Round3(small.coldRPS), LargeColdRPS: Round3(large.coldRPS),
		SmallColdP99Ms: Round3(small.coldP99), LargeColdP99Ms: Round3(large.coldP99),
		SmallPeakRSSMB: Round3(small.peakRSS), LargePeakRSSMB: Round3(large.peakRSS),
		SmallReadyRSSMB: Round3(small.readyRSS), LargeReadyRSSMB: Round3(large.readyRSS),
		SmallPeakAnonMB: Round3(small.peakAnon), LargePeakAnonMB: Round3(large.peakAnon),
		SmallReadyMs: Round3(small.readyMs), LargeReadyMs: Round3(large.readyMs),
		SmallLoadSeconds: Round3(small.loadSeconds), LargeLoadSeconds: Round3(large.loadSeconds),
	}
	if small.rps > 0 {
		s.LargeVsSmall = Round3(large.rps / small.rps)
	}
	if small.coldRPS > 0 {
		s.ColdLargeVsSmall = Round3(large.coldRPS / small.coldRPS)
	}
	return s
}

// sizeRun loads a gateway with n residents and measures its resolves: a
// first start loads the demo consortium, a gateway in this process loads
// the population onto the same data dir, and a gateway child then serves
// it under the resolve part's load.
func (r *Runner) sizeRun(ctx context.Context, label string, n int) (sizeFigures, error) {
	var f sizeFigures
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return f, err
	}
	dataDir := filepath.Join(r.dir, "size-"+label)
	args := r.gatewayArgs(addr, dataDir)
	ready := "http://" + addr + "/readyz"
	r.say("size %s: first start with the demo load", label)
	first, err := r.startChild("size-"+label+"-first", args)
	if err != nil {
		return f, err
	}
	_, err = first.WaitReady(ctx, ready, 3*time.Minute)
	if stopErr := first.Stop(30 * time.Second); err == nil {
		err = stopErr
	}
	if err != nil {
		return f, err
	}

	start := time.Now()
	resolved, err := r.populate(ctx, label, dataDir, n)
	if err != nil {
		return f, err
	}
	f.loadSeconds = time.Since(start).Seconds()
	r.say("size %s: %d residents loaded in %s", label, n, time.Since(start).Round(time.Second))

	if r.opts.ProfileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(r.opts.ProfileDir, "size-"+label+".pprof"))
	}
	if r.opts.PprofListen != "" {
		args = append(args, "--pprof-listen", r.opts.PprofListen)
	}
	child, err := r.startChild("size-"+label, args)
	if err != nil {
		return f, err
	}
	defer func() { _ = child.Stop(30 * time.Second) }()
	readyIn, err := child.WaitReady(ctx, ready, 5*time.Minute)
	if err != nil {
		return f, err
	}
	f.readyMs = Millis(readyIn)
	readyRSS, err := child.PeakRSS()
	if err != nil {
		return f, err
	}
	f.readyRSS = float64(readyRSS) / (1 << 20)
	if err := child.ResetPeakRSS(); err != nil {
		r.say("cannot reset the peak RSS (%v); size peaks include the start-up", err)
	}
	info, err := demo.ReadInfo(dataDir)
	if err != nil {
		return f, err
	}
	reqs := sizeRequests("http://"+addr, info, resolved)
	anon := &anonSampler{child: child}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { defer close(sampled); anon.run(sampleCtx) }()
	defer func() { stopSampling(); <-sampled }()

	// Each resident once, from every connection: none is in the cache yet.
	r.say("size %s: %d residents resolved once each (cold), then %d connections, %s", label, len(reqs), r.plan.Connections, r.plan.Load)
	cold, err := Run(ctx, LoadOptions{Connections: r.plan.Connections, Duration: 10 * time.Minute, MaxRequests: int64(len(reqs)), Requests: reqs})
	if err != nil {
		return f, err
	}
	if cold.ErrorCount() > 0 {
		return f, fmt.Errorf("the first resolve of the loaded residents failed: errors by status %v (the child's log: %s)", cold.Errors, child.logPath)
	}
	f.coldRPS, f.coldP99 = cold.RPS(), Millis(cold.Latency.Quantile(0.99))
	if _, err := r.loadRun(ctx, r.plan.Connections, r.plan.Warmup, reqs); err != nil {
		return f, err
	}
	cpu0, _ := child.CPUTime()
	res, err := r.loadRun(ctx, r.plan.Connections, r.plan.Load, reqs)
	if err != nil {
		return f, err
	}
	cpu1, _ := child.CPUTime()
	peak, err := child.PeakRSS()
	if err != nil {
		return f, err
	}
	if len(res.Errors) > 0 {
		r.say("size %s resolves: errors by status %v", label, res.Errors)
	}
	f.rps, f.errors = res.RPS(), float64(res.ErrorCount())
	f.p50, f.p99 = Millis(res.Latency.Quantile(0.5)), Millis(res.Latency.Quantile(0.99))
	f.cpuPerReq = cpuPerRequest(cpu1-cpu0, res.Requests)
	f.peakRSS = float64(peak) / (1 << 20)
	stopSampling()
	<-sampled
	f.peakAnon = float64(anon.max) / (1 << 20)
	return f, nil
}

// anonSampler reads a child's anonymous resident memory every 100 ms and
// keeps the largest: the kernel keeps no peak of it.
type anonSampler struct {
	child *Child
	max   uint64
}

func (a *anonSampler) run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if v, err := a.child.AnonRSS(); err == nil {
			a.max = max(a.max, v)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sizeRequests are the resolves of the loaded residents, each by its
// pair's department for its pair's data type and purpose.
func sizeRequests(base string, info *demo.Info, residents []sizeResident) []Request {
	keys := map[string]string{}
	for _, d := range info.Departments {
		keys[d.ID] = d.APIKey
	}
	out := make([]Request, len(residents))
	for i, res := range residents {
		p := resolvePairs[res.pair()]
		login := demo.ResidentLogin{DocType: string(mapping.CNResident), DocNumber: ResidentNumber(res.index)}
		out[i] = resolveRequest(base, keys[p.dept], p.dept, login, p.dataType, p.purpose)
	}
	return out
}

// populate loads n residents onto the data dir through a gateway in this
// process: their eIDs and document mappings through the importer, one
// route each signed by its provider's key, and consents for the residents
// the load resolves. It returns those residents.
func (r *Runner) populate(ctx context.Context, label, dataDir string, n int) ([]sizeResident, error) {
	m, err := r.open(ctx, dataDir)
	if err != nil {
		return nil, fmt.Errorf("in-process gateway: %w", err)
	}
	defer m.Close()
	if m.Population == nil {
		return nil, errors.New("the in-process gateway offers no population services")
	}
	path := filepath.Join(r.dir, "size-"+label+".csv")
	if err := WriteResidentCSV(path, n); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	r.say("size %s: importing %d residents", label, n)
	job, err := m.Importer.Import(ctx, mapping.ImportOptions{Path: path, Officer: "bench"})
	if err != nil {
		return nil, err
	}
	if job.Created != int64(n) {
		return nil, fmt.Errorf("import created %d of %d residents (rejected %d, existing %d)", job.Created, n, job.Rejected, job.Existing)
	}
	r.say("size %s: publishing %d routes", label, n)
	if err := publishRoutes(ctx, m.Population, dataDir, n); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	picked := spread(n, r.plan.SizeResolved)
	r.say("size %s: granting consents to %d residents", label, len(picked))
	return grantSizeConsents(ctx, m.Population, picked)
}

// publishRoutes gives residents 0…n-1 one route each, for their pair's
// data type from its owner, signed with the owner's key and published in
// batches of routing.MaxRouteBatch, four batches at a time.
func publishRoutes(ctx context.Context, pop Population, dataDir string, n int) error {
	owner := map[string]string{}
	for _, dt := range demo.DataTypes {
		owner[dt.Code] = dt.Owner
	}
	type signer struct {
		key *ecdsa.PrivateKey
		kid string
	}
	signers := map[string]signer{}
	for _, p := range resolvePairs {
		dept := owner[p.dataType]
		if _, ok := signers[dept]; ok {
			continue
		}
		key, kid, err := demo.SigningKey(dataDir, dept)
		if err != nil {
			return err
		}
		signers[dept] = signer{key, kid}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	publish := func(provider string, stmts []model.RouteStatement) {
		g.Go(func() error {
			s := signers[provider]
			batch := make([]model.SignedRoute, len(stmts))
			for i, st := range stmts {
				signed, err := model.SignRoute(s.key, s.kid, st)
				if err != nil {
					return err
				}
				batch[i] = signed
			}
			// Publishing the same signed routes again changes nothing.
			return retryUnavailable(ctx, func() error {
				_, err := pop.PublishRoutes(ctx, provider, batch)
				return err
			})
		})
	}
	pending := map[string][]model.RouteStatement{}
	var readErr error
read:
	for from := 0; from < n && ctx.Err() == nil; from += routing.MaxRouteBatch {
		docs := make([]mapping.Input, 0, routing.MaxRouteBatch)
		for i := from; i < min(from+routing.MaxRouteBatch, n); i++ {
			docs = append(docs, residentDoc(i))
		}
		eids, err := pop.EIDs(ctx, docs)
		if err != nil {
			readErr = err
			break
		}
		for k, eid := range eids {
			if eid == "" {
				readErr = fmt.Errorf("resident %d has no eID after the import", from+k)
				break read
			}
			dt := resolvePairs[pairOf(from+k)].dataType
			provider := owner[dt]
			sum := sha256.Sum256([]byte(docs[k].Number + "|" + dt))
			pending[provider] = append(pending[provider], model.RouteStatement{
				EID: eid, DataType: dt, Provider: provider, Version: 1, Digest: digest.Format(sum), Schema: dt + "/1",
			})
			if len(pending[provider]) == routing.MaxRouteBatch {
				publish(provider, pending[provider])
				pending[provider] = nil
			}
		}
	}
	for provider, stmts := range pending {
		if len(stmts) > 0 && readErr == nil {
			publish(provider, stmts)
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return readErr
}

// grantSizeConsents has each picked resident's pair's department request
// a consent and the resident grant it at the counter, sixteen at a time.
func grantSizeConsents(ctx context.Context, pop Population, picked []int) ([]sizeResident, error) {
	out := make([]sizeResident, len(picked))
	for k := 0; k < len(picked); k += routing.MaxRouteBatch {
		docs := make([]mapping.Input, 0, routing.MaxRouteBatch)
		for _, i := range picked[k:min(k+routing.MaxRouteBatch, len(picked))] {
			docs = append(docs, residentDoc(i))
		}
		eids, err := pop.EIDs(ctx, docs)
		if err != nil {
			return nil, err
		}
		for j, eid := range eids {
			out[k+j] = sizeResident{index: picked[k+j], eid: eid}
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, res := range out {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return grantSizeConsent(ctx, pop, res) })
	}
	return out, g.Wait()
}

func grantSizeConsent(ctx context.Context, pop Population, res sizeResident) error {
	p := resolvePairs[res.pair()]
	var c *model.Consent
	// A request repeated after a timeout may leave a second request
	// waiting; the one answered is granted.
	err := retryUnavailable(ctx, func() (err error) {
		c, err = pop.RequestConsent(ctx, p.dept, routing.ConsentDraft{
			EID: res.eid, DataTypes: []string{p.dataType}, PurposeCode: p.purpose,
			PurposeText: "bench: resident " + strconv.Itoa(res.index), ValidUntil: time.Now().Add(30 * 24 * time.Hour),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("request consent of resident %d: %w", res.index, err)
	}
	err = retryUnavailable(ctx, func() error {
		_, err := pop.GrantConsent(ctx, res.eid, c.ID, "counter")
		if routing.IsKind(err, routing.KindConflict) {
			// Granted by an attempt whose answer timed out.
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("grant consent of resident %d: %w", res.index, err)
	}
	return nil
}

// retryUnavailable calls op again, a few times with backoff, while it
// fails because the ledger is unavailable (a submit that timed out while
// the embedded peer was busy committing the loader's large batches).
func retryUnavailable(ctx context.Context, op func() error) error {
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt == 5 || !routing.IsKind(err, routing.KindUnavailable) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}

// resolveRequest is a resolve by document as department dept (with its
// API key) sends it.
func resolveRequest(base, key, dept string, res demo.ResidentLogin, dataType, purpose string) Request {
	return Request{Method: http.MethodPost, URL: base + "/v1/routes/resolve", Body: resolveBody(res, dataType, purpose),
		Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + key}, "X-Eidgate-Official": {"bench-" + dept}}}
}
