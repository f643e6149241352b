package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// A value decoded once is served again only while the cache holds the same
// bytes: an entry another replica rewrote, or one dropped by an event, is
// read anew.
func TestDirectoryServesWhatTheCacheHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	dept := func() *model.Department {
		t.Helper()
		d, err := e.dir.Department(ctx, "edu-bureau")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := dept(); d.Name != "Education Bureau" { // from the ledger
		t.Fatalf("name %q", d.Name)
	}
	if d := dept(); d.Name != "Education Bureau" { // decoded from the cache
		t.Fatalf("name %q", d.Name)
	}
	if a, b := dept(), dept(); a != b {
		t.Fatal("an unchanged cache entry was decoded again")
	}

	// Another replica wrote a newer value into the shared cache.
	newer := *dept()
	newer.Name = "Education Bureau (renamed)"
	raw, _ := json.Marshal(&newer)
	_ = e.cache.Set(ctx, "dept:edu-bureau", raw, 0)
	if d := dept(); d.Name != newer.Name {
		t.Fatalf("served %q after the cache entry changed", d.Name)
	}

	// A ledger change arrives as an event: the next read goes to the ledger.
	d := newer
	d.Name = "Education Bureau (merged)"
	e.ledger.PutDepartment(d)
	if err := e.dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{{Kind: model.KindDepartment, ID: "edu-bureau"}}}); err != nil {
		t.Fatal(err)
	}
	if got := dept(); got.Name != d.Name {
		t.Fatalf("served %q after invalidation", got.Name)
	}
}

// memoryDirectory is a directory over the env's ledger with the gateway's
// in-process cache, which hands out its own bytes (routing.SharedCache).
func memoryDirectory(t testing.TB, e *env) *routing.Directory {
	t.Helper()
	mem := must[*cache.Memory](t)(cache.NewMemory(cache.MemoryConfig{Clock: e.clock}))
	return must[*routing.Directory](t)(routing.NewDirectory(routing.DirectoryConfig{Registry: e.ledger, EIDs: e.ledger, Routes: e.ledger,
		Consents: e.ledger, Cache: mem, Clock: e.clock}))
}

// Through a cache that hands out its own bytes (the in-process one), a hit
// is served from the value decoded before without copying the cached
// bytes: what a hit allocates does not grow with the value.
func TestDirectoryHitsDoNotCopyTheCachedValue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := memoryDirectory(t, e)
	big := func(n int) {
		d, err := dir.Department(ctx, "edu-bureau")
		if err != nil {
			t.Fatal(err)
		}
		grown := *d
		grown.Endpoints = nil
		for i := range n {
			grown.Endpoints = append(grown.Endpoints, fmt.Sprintf("https://edu.example.gov.cn/api/v1/records/%06d", i))
		}
		e.ledger.PutDepartment(grown)
		if err := dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{{Kind: model.KindDepartment, ID: "edu-bureau"}}}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute) // past the invalidation's tombstone
		if d, err := dir.Department(ctx, "edu-bureau"); err != nil || len(d.Endpoints) != n {
			t.Fatalf("department with %d endpoints: %v", n, err)
		}
	}
	perHit := func() uint64 {
		const hits = 200
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range hits {
			if _, err := dir.Department(ctx, "edu-bureau"); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / hits
	}
	big(1)
	small := perHit()
	big(2000) // about 100 KB of JSON
	if large := perHit(); large > small+1024 {
		t.Fatalf("a hit allocates %d bytes with a 100 KB value, %d with a small one: the value is copied", large, small)
	}
}

// DID resolution from the cache answers as the chaincode's ResolveDID: an
// active eID, a merged one naming its survivor, and refusals.
func TestDirectoryResolvesDIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.dir.DID(ctx, eidAlice)
	if err != nil {
		t.Fatalf("err = %v, want nil; active eID: %+v %v", err, res, err)
	}
	if res.DIDDocument.ID != eidAlice {
		t.Fatalf("res.DIDDocument.ID = %v, want eidAlice; active eID: %+v %v", res.DIDDocument.ID, res, err)
	}
	if res.DIDDocumentMetadata.Deactivated {
		t.Fatalf("res.DIDDocumentMetadata.Deactivated is true; active eID: %+v %v", res, err)
	}
	if res.DIDDocumentMetadata.CanonicalID != "" {
		t.Fatalf("res.DIDDocumentMetadata.CanonicalID = %q, want \"\"; active eID: %+v %v", res.DIDDocumentMetadata.CanonicalID, res, err)
	}
	res, err = e.dir.DID(ctx, eidOld)
	if err != nil {
		t.Fatalf("err = %v, want nil; merged eID: %+v %v", err, res, err)
	}
	if !res.DIDDocumentMetadata.Deactivated {
		t.Fatalf("res.DIDDocumentMetadata.Deactivated is false; merged eID: %+v %v", res, err)
	}
	if res.DIDDocumentMetadata.CanonicalID != eidAlice {
		t.Fatalf("res.DIDDocumentMetadata.CanonicalID = %v, want eidAlice; merged eID: %+v %v", res.DIDDocumentMetadata.CanonicalID, res, err)
	}
	if res.DIDDocument.ID != eidOld {
		t.Fatalf("res.DIDDocument.ID = %v, want eidOld; merged eID: %+v %v", res.DIDDocument.ID, res, err)
	}
	if _, err := e.dir.DID(ctx, "did:eidgate:nobody"); !routing.IsKind(err, routing.KindNotFound) {
		t.Fatalf("unknown eID: %v", err)
	}
	e.ledger.PutIdentity(model.Identity{ID: "did:eidgate:orphan", Status: model.EIDMerged, MergedInto: "did:eidgate:gone"})
	if _, err := e.dir.DID(ctx, "did:eidgate:orphan"); !routing.IsKind(err, routing.KindConflict) {
		t.Fatalf("eID merged into a missing one: %v", err)
	}
}

// gatedConsents counts the ledger reads of consents and holds each until
// released.
type gatedConsents struct {
	routing.ConsentLedger
	reads   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gatedConsents) ListConsentsByEID(ctx context.Context, eid string) ([]model.Consent, error) {
	g.reads.Add(1)
	g.entered <- struct{}{}
	<-g.release
	return g.ConsentLedger.ListConsentsByEID(ctx, eid)
}

// Requests that miss the same entry together share one ledger read; one
// that arrives after an invalidation does not join a read started before
// it, and sees the change.
func TestDirectorySharesConcurrentMisses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	g := &gatedConsents{ConsentLedger: e.ledger, entered: make(chan struct{}, 16), release: make(chan struct{})}
	dir := must[*routing.Directory](t)(routing.NewDirectory(routing.DirectoryConfig{Registry: e.ledger, EIDs: e.ledger, Routes: e.ledger,
		Consents: g, Cache: routingtest.NewCache(), Clock: e.clock}))

	const callers = 8
	results := make(chan []model.Consent, 2*callers)
	read := func() {
		cs, err := dir.ConsentsOf(ctx, eidAlice)
		if err != nil {
			t.Error(err)
		}
		results <- cs
	}
	go read()
	<-g.entered // the first read is at the ledger
	for range callers - 1 {
		go read()
	}
	// The consent is granted while the first read is under way, and the
	// change's event arrives.
	id := e.grant(t, eidAlice, "hrss", "edu-bureau", 0)
	if err := dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{{Kind: model.KindConsent, ID: id, EID: eidAlice}}}); err != nil {
		t.Fatal(err)
	}
	// Time moves on, so the read after the invalidation is cached and
	// callers arriving after it hit the cache.
	e.clock.Advance(time.Second)
	go read()
	select {
	case <-g.entered: // that one reads the ledger again
	case <-time.After(10 * time.Second):
		close(g.release)
		t.Fatal("a caller after the invalidation joined the ledger read started before it")
	}
	close(g.release)
	withConsent := 0
	for range callers + 1 {
		for _, c := range <-results {
			if c.ID == id {
				withConsent++
			}
		}
	}
	if n := g.reads.Load(); n != 2 {
		t.Fatalf("%d callers made %d ledger reads, want 2 (one shared before the invalidation, one after)", callers+1, n)
	}
	if withConsent == 0 {
		t.Fatal("the caller that came after the invalidation was answered with the read from before it")
	}
}

// countingConsents counts the directory's reads of consents from the ledger.
type countingConsents struct {
	routing.ConsentLedger
	reads atomic.Int32
}

func (c *countingConsents) ListConsentsByEID(ctx context.Context, eid string) ([]model.Consent, error) {
	c.reads.Add(1)
	return c.ConsentLedger.ListConsentsByEID(ctx, eid)
}

// Anchoring counts consent uses on the ledger. A use that leaves uses
// changes no decision a cached copy makes (the database counts the uses
// that bound a resolve), so it keeps the copy; the last use, and every
// other consent change, drops it.
func TestDirectoryKeepsConsentsThroughUsesThatLeaveSome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	counted := &countingConsents{ConsentLedger: e.ledger}
	dir := must[*routing.Directory](t)(routing.NewDirectory(routing.DirectoryConfig{Registry: e.ledger, EIDs: e.ledger, Routes: e.ledger,
		Consents: counted, Cache: routingtest.NewCache(), Clock: e.clock}))
	id := e.grant(t, eidAlice, "hrss", "edu-bureau", 3)
	read := func(after string) {
		t.Helper()
		if _, err := dir.ConsentsOf(ctx, eidAlice); err != nil {
			t.Fatalf("%s: %v", after, err)
		}
	}
	change := func(op string) {
		t.Helper()
		e.clock.Advance(3 * time.Second) // past the window in which a fill may race an invalidation
		if err := dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{{Kind: model.KindConsent, Op: op, ID: id, EID: eidAlice, DataType: "edu.degree"}}}); err != nil {
			t.Fatal(err)
		}
	}
	read("first")
	read("cached")
	change(model.OpUsed)
	read("a use that leaves some")
	if n := counted.reads.Load(); n != 1 {
		t.Fatalf("%d ledger reads after a use that leaves uses, want 1", n)
	}
	for i, op := range []string{model.OpUsedUp, model.OpRevoked, model.OpGranted} {
		change(op)
		read(op)
		if n := counted.reads.Load(); n != int32(i+2) {
			t.Fatalf("%d ledger reads after a %q change, want %d (the copy dropped)", n, op, i+2)
		}
	}
}

// BenchmarkDirectoryConsentsHit reads a resident's consents (eight of
// them, as a resident with a few departments' consents has) from the
// in-process cache: the resolve path's most frequent directory read.
func BenchmarkDirectoryConsentsHit(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	dir := memoryDirectory(b, e)
	for i := range 8 {
		e.ledger.PutConsent(model.Consent{ID: fmt.Sprintf("cs-%024x", i), EID: eidAlice, Requester: "hr-bureau", Provider: "edu-bureau",
			DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", PurposeText: "Verify the degree of an applicant",
			ValidFrom: "2026-01-01T00:00:00Z", ValidUntil: "2027-01-01T00:00:00Z", Status: model.ConsentActive,
			RequestedAt: "2026-01-01T00:00:00Z", DecidedAt: "2026-01-01T00:05:00Z", UpdatedAt: "2026-01-01T00:05:00Z", TxID: fmt.Sprintf("%064x", i)})
	}
	if _, err := dir.ConsentsOf(ctx, eidAlice); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dir.ConsentsOf(ctx, eidAlice); err != nil {
			b.Fatal(err)
		}
	}
}
