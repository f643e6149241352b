package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// The residents the load resolves lie across the whole population and
// cover every resolve pair, whatever the stride.
func TestSpreadCoversThePopulationAndEveryPair(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, m int }{
		{200, 50}, {2_000, 50}, {10_000, 2_000}, {100_000, 2_000}, {1_000_000, 5_000},
		{7 * 700, 700}, // a stride of 7, a multiple of the pairs
		{30, 100},      // more asked for than there are
	} {
		got := spread(tc.n, tc.m)
		if want := min(tc.n, tc.m); len(got) != want {
			t.Errorf("spread(%d, %d) picked %d, want %d", tc.n, tc.m, len(got), want)
			continue
		}
		pairs := map[int]int{}
		seen := map[int]bool{}
		for _, i := range got {
			if i < 0 || i >= tc.n || seen[i] {
				t.Fatalf("spread(%d, %d) picked %d: out of range or twice", tc.n, tc.m, i)
			}
			seen[i] = true
			pairs[pairOf(i)]++
		}
		if len(pairs) != len(resolvePairs) {
			t.Errorf("spread(%d, %d) covers %d of %d pairs", tc.n, tc.m, len(pairs), len(resolvePairs))
		}
		if last := got[len(got)-1]; tc.n > tc.m && last < tc.n*8/10 {
			t.Errorf("spread(%d, %d) ends at resident %d: not over the whole population", tc.n, tc.m, last)
		}
	}
}

func TestPlanForSizes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		plan                   Plan
		small, large, resolved int
	}{
		{"default", PlanFor(false, false, 1), 10_000, 100_000, 2_000},
		{"quick", PlanFor(true, false, 1), 2_000, 20_000, 500},
		{"full", PlanFor(false, true, 1), 10_000, 1_000_000, 5_000},
		{"quick scaled to its floors", PlanFor(true, false, 0.01), 200, 1_000, 50},
	} {
		p := tc.plan
		if p.SizeSmall != tc.small || p.SizeLarge != tc.large || p.SizeResolved != tc.resolved {
			t.Errorf("%s: sizes %d, %d, resolved %d; want %d, %d, %d", tc.name, p.SizeSmall, p.SizeLarge, p.SizeResolved, tc.small, tc.large, tc.resolved)
		}
	}
}

func TestSizeReportRatios(t *testing.T) {
	t.Parallel()
	p := PlanFor(true, false, 1)
	s := sizeReport(p, sizeFigures{rps: 4000, coldRPS: 800, peakRSS: 120}, sizeFigures{rps: 3000, coldRPS: 1000, peakRSS: 180, peakAnon: 90})
	if s.LargeVsSmall != 0.75 || s.ColdLargeVsSmall != 1.25 {
		t.Errorf("ratios %v and %v, want 0.75 and 1.25", s.LargeVsSmall, s.ColdLargeVsSmall)
	}
	if s.SmallPeakRSSMB != 120 || s.LargePeakRSSMB != 180 || s.LargePeakAnonMB != 90 || s.Resolved != 500 || s.LargeResidents != 20_000 {
		t.Errorf("report %+v does not carry the figures", s)
	}
	if z := sizeReport(p, sizeFigures{}, sizeFigures{rps: 10}); z.LargeVsSmall != 0 {
		t.Errorf("a ratio over nothing is %v, want 0", z.LargeVsSmall)
	}
}

// fakePopulation stands for the gateway's services: it maps resident
// numbers to eIDs and records what is published and granted.
type fakePopulation struct {
	mu       sync.Mutex
	keys     map[string]*ecdsa.PublicKey
	routes   map[string]model.RouteStatement // by eID
	batches  []int
	consents map[string]model.Consent // by id
	granted  map[string]bool
	failOn   string // fail publishing this department's routes
	timeouts int    // answer this many publishes "ledger unavailable" first
}

func eidOf(number string) string {
	sum := sha256.Sum256([]byte(number))
	return model.DIDPrefix + hex.EncodeToString(sum[:16])
}

func (f *fakePopulation) EIDs(_ context.Context, docs []mapping.Input) ([]string, error) {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = eidOf(d.Number)
	}
	return out, nil
}

func (f *fakePopulation) PublishRoutes(_ context.Context, dept string, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	if dept == f.failOn {
		return nil, errors.New("ledger refused")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timeouts > 0 {
		f.timeouts--
		return nil, routing.Unavailable("ledger.Submit", "ledger_unavailable", "submit timeout", nil)
	}
	f.batches = append(f.batches, len(batch))
	for _, s := range batch {
		if s.Statement.Provider != dept {
			return nil, errors.New("a department publishes only its own digests")
		}
		if err := model.VerifyRouteKey(f.keys[dept], s); err != nil {
			return nil, err
		}
		if _, dup := f.routes[s.Statement.EID]; dup {
			return nil, errors.New("route published twice for " + s.Statement.EID)
		}
		f.routes[s.Statement.EID] = s.Statement
	}
	return make([]model.RouteOutcome, len(batch)), nil
}

func (f *fakePopulation) RequestConsent(_ context.Context, requester string, d routing.ConsentDraft) (*model.Consent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := model.Consent{ID: "c" + strconv.Itoa(len(f.consents)), EID: d.EID, Requester: requester, DataTypes: d.DataTypes, PurposeCode: d.PurposeCode}
	f.consents[c.ID] = c
	return &c, nil
}

func (f *fakePopulation) GrantConsent(_ context.Context, eid, id, _ string) (*model.Consent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.consents[id]
	if !ok || c.EID != eid {
		return nil, errors.New("not this resident's consent")
	}
	f.granted[id] = true
	return &c, nil
}

// demoKeys writes signing keys for the demo departments where a loaded
// demo keeps them, and returns their public halves.
func demoKeys(t *testing.T, dataDir string) map[string]*ecdsa.PublicKey {
	t.Helper()
	if err := os.MkdirAll(demo.KeyDir(dataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, d := range demo.Departments {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(demo.KeyDir(dataDir), d.ID+".pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		out[d.ID] = &k.PublicKey
	}
	return out
}

// Every resident gets one route, for its pair's data type from the data
// type's owner, signed with the owner's key, in batches of one department
// and at most routing.MaxRouteBatch.
func TestPublishRoutesGivesEveryResidentOneSignedRoute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := &fakePopulation{keys: demoKeys(t, dir), routes: map[string]model.RouteStatement{}}
	const n = 2_500
	if err := publishRoutes(context.Background(), f, dir, n); err != nil {
		t.Fatal(err)
	}
	if len(f.routes) != n {
		t.Fatalf("%d residents got a route, want %d", len(f.routes), n)
	}
	owner := map[string]string{}
	for _, dt := range demo.DataTypes {
		owner[dt.Code] = dt.Owner
	}
	for i := range n {
		st := f.routes[eidOf(ResidentNumber(i))]
		if want := resolvePairs[pairOf(i)].dataType; st.DataType != want || st.Provider != owner[want] {
			t.Fatalf("resident %d: route %s from %s, want %s from %s", i, st.DataType, st.Provider, want, owner[want])
		}
	}
	for _, b := range f.batches {
		if b < 1 || b > routing.MaxRouteBatch {
			t.Errorf("a batch of %d routes", b)
		}
	}
	if len(f.batches) > n/routing.MaxRouteBatch+len(demo.Departments) {
		t.Errorf("%d batches for %d routes: not filled", len(f.batches), n)
	}
}

// A publish that timed out while the ledger was busy is sent again.
func TestPublishRoutesRetriesAnUnavailableLedger(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := &fakePopulation{keys: demoKeys(t, dir), routes: map[string]model.RouteStatement{}, timeouts: 1}
	if err := publishRoutes(context.Background(), f, dir, 1_500); err != nil {
		t.Fatal(err)
	}
	if len(f.routes) != 1_500 {
		t.Fatalf("%d residents got a route after a timeout, want 1500", len(f.routes))
	}
}

func TestPublishRoutesStopsAtTheFirstRefusal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := &fakePopulation{keys: demoKeys(t, dir), routes: map[string]model.RouteStatement{}, failOn: "hrss"}
	if err := publishRoutes(context.Background(), f, dir, 5_000); err == nil {
		t.Fatal("publishRoutes succeeded although the ledger refused a department's routes")
	}
}

// Each picked resident gets a consent of its pair's department for its
// pair's data type and purpose, granted.
func TestGrantSizeConsents(t *testing.T) {
	t.Parallel()
	f := &fakePopulation{consents: map[string]model.Consent{}, granted: map[string]bool{}}
	picked := spread(10_000, 1_200)
	got, err := grantSizeConsents(context.Background(), f, picked)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(picked) || len(f.granted) != len(picked) {
		t.Fatalf("%d residents, %d consents granted; want %d", len(got), len(f.granted), len(picked))
	}
	byEID := map[string]model.Consent{}
	for _, c := range f.consents {
		byEID[c.EID] = c
	}
	for k, res := range got {
		p := resolvePairs[pairOf(picked[k])]
		c := byEID[res.eid]
		if res.index != picked[k] || res.eid != eidOf(ResidentNumber(picked[k])) {
			t.Fatalf("resident %d came back as %+v", picked[k], res)
		}
		if c.Requester != p.dept || c.PurposeCode != p.purpose || len(c.DataTypes) != 1 || c.DataTypes[0] != p.dataType {
			t.Fatalf("resident %d: consent %+v, want %s for %s/%s", picked[k], c, p.dept, p.dataType, p.purpose)
		}
	}
	reqs := sizeRequests("http://127.0.0.1:1", &demo.Info{Departments: []demo.DepartmentKey{{ID: "hrss", APIKey: "k"}}}, got[:1])
	if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), ResidentNumber(picked[0])) {
		t.Errorf("the resolve of the first resident is %+v", reqs)
	}
}
