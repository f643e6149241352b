package mapping_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/mapping/mappingtest"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

var (
	_ mapping.Ledger         = (*ledger.Client)(nil)
	_ mapping.DocumentStore  = (*store.DB)(nil)
	_ mapping.ImportJobStore = (*store.DB)(nil)
)

var (
	ctxb    = context.Background()
	testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

// fixture is a mapping service and importer over the real contract on
// fabsim and the real store (SQLite or PostgreSQL), with captured logs.
// Every full number a test uses is registered, and at the end the logs
// must contain none of them.
type fixture struct {
	t        testing.TB
	chain    *testChain
	db       *store.DB
	docs     *flakyDocs
	cache    *routingtest.Cache
	issuer   *fakeIssuer
	logs     *logBuffer
	clock    routing.Clock
	sealing  *mapping.SealingKey
	svc      *mapping.Service
	im       *mapping.Importer
	spoolDir string
	secrets  []string
}

func newFixture(t testing.TB, d storetest.DB) *fixture {
	t.Helper()
	return newFixtureOver(t, d, nil)
}

// newFixtureOver is newFixture with the service over ledger instead of the
// contract (nil: the contract).
func newFixtureOver(t testing.TB, d storetest.DB, l mapping.Ledger) *fixture {
	t.Helper()
	keys, sealing := mappingtest.Keys(t)
	db := d.Open(t)
	f := &fixture{t: t, chain: newTestChain(t), db: db, docs: &flakyDocs{DocumentStore: db}, cache: routingtest.NewCache(),
		issuer: &fakeIssuer{}, logs: &logBuffer{}, sealing: sealing, spoolDir: t.TempDir(),
		clock: routing.ClockFunc(func() time.Time { return testNow })}
	if l == nil {
		l = f.chain
	}
	f.svc = mappingtest.NewService(t, mapping.Config{
		Ledger: l, Documents: f.docs, Activations: f.issuer, Cache: f.cache,
		Keys: keys, Sealing: sealing, Clock: f.clock, Logger: f.logs.logger(),
	})
	var err error
	f.im, err = mapping.NewImporter(mapping.ImporterConfig{Service: f.svc, Jobs: db, SpoolDir: f.spoolDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.im.Close()
		mustNotContain(t, "the log", f.logs.String(), f.secrets)
	})
	return f
}

// secret registers full numbers that must never be logged or returned.
func (f *fixture) secret(numbers ...string) {
	for _, n := range numbers {
		f.secrets = append(f.secrets, mapping.Fold(n))
	}
}

// stored returns every mapped document in the store, in ref order.
func (f *fixture) stored() []mapping.StoredDocument {
	f.t.Helper()
	var out []mapping.StoredDocument
	after := ""
	for {
		// No document is at key version "": this pages through them all.
		page, err := f.db.DocumentsNotAt(ctxb, "", after, 1000)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		after = page[len(page)-1].Ref
	}
}

// jobs returns the import jobs in the store.
func (f *fixture) jobs() []mapping.ImportJob {
	f.t.Helper()
	jobs, err := f.db.Imports(ctxb, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return jobs
}

// flakyDocs is the store, whose document writes a test can make fail or
// precede with another writer's.
type flakyDocs struct {
	mapping.DocumentStore
	mu      sync.Mutex
	failPut error
	before  func(ref string) // runs before RemoveDocument
}

func (d *flakyDocs) beforeRemove(fn func(ref string)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.before = fn
}

func (d *flakyDocs) RemoveDocument(ctx context.Context, ref string) error {
	d.mu.Lock()
	before := d.before
	d.mu.Unlock()
	if before != nil {
		before(ref)
	}
	return d.DocumentStore.RemoveDocument(ctx, ref)
}

func (d *flakyDocs) failPuts(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failPut = err
}

func (d *flakyDocs) PutDocuments(ctx context.Context, docs []mapping.StoredDocument) error {
	d.mu.Lock()
	err := d.failPut
	d.mu.Unlock()
	if err != nil {
		return routing.Unavailable("test", "database_unavailable", "the database is down", err)
	}
	return d.DocumentStore.PutDocuments(ctx, docs)
}

func residentNumber(i int) string { return mappingtest.ResidentNumber(i) }

func resident(i int) mapping.Input { return mappingtest.Resident(i) }

// checkErr asserts err's kind and code and that its message and text hold
// none of the forbidden strings.
func checkErr(t *testing.T, err error, kind routing.Kind, code string, forbidden ...string) *routing.Error {
	t.Helper()
	var re *routing.Error
	if !errors.As(err, &re) {
		t.Fatalf("want a *routing.Error %s/%s, got %T %v", kind, code, err, err)
	}
	if re.Kind != kind || routing.CodeOf(err) != code {
		t.Fatalf("want %s/%s, got %s/%s: %v", kind, code, re.Kind, routing.CodeOf(err), err)
	}
	for _, s := range forbidden {
		if s != "" && (strings.Contains(err.Error(), s) || strings.Contains(routing.MessageOf(err), s)) {
			t.Fatalf("error reveals %q: %v", s, err)
		}
	}
	return re
}

// fakeIssuer issues numbered activation codes and counts them per eID.
type fakeIssuer struct {
	mu     sync.Mutex
	issued map[string]int
}

func (f *fakeIssuer) CreateActivation(_ context.Context, eid string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.issued == nil {
		f.issued = map[string]int{}
	}
	f.issued[eid]++
	return fmt.Sprintf("ACT-%d", len(f.issued)), nil
}

func (f *fakeIssuer) count(eid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued[eid]
}

// logBuffer collects slog output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// mustNotContain fails when any of secrets appears in text.
func mustNotContain(t interface {
	Helper()
	Fatalf(string, ...any)
}, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s contains a full document number (%s…)", what, s[:4])
		}
	}
}
