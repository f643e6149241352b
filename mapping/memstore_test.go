package mapping

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/ledger"
)

// The in-memory stores below implement the store interfaces the way a SQL
// implementation must behave (uniqueness, ordering, one transaction per
// call), so the service and importer tests hold for the real store too.

type memDocs struct {
	mu      sync.Mutex
	byRef   map[string]StoredDocument
	byIndex map[Index]string
	puts    int // PutDocuments calls (transactions)
	failPut error
}

func newMemDocs() *memDocs {
	return &memDocs{byRef: map[string]StoredDocument{}, byIndex: map[Index]string{}}
}

func (m *memDocs) PutDocuments(_ context.Context, docs []StoredDocument) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		return m.failPut
	}
	m.puts++
	for _, d := range docs {
		if _, dup := m.byIndex[d.Index()]; dup {
			continue
		}
		if _, dup := m.byRef[d.Ref]; dup {
			return fmt.Errorf("duplicate ref %s", d.Ref)
		}
		d.Sealed = bytes.Clone(d.Sealed)
		m.byRef[d.Ref] = d
		m.byIndex[d.Index()] = d.Ref
	}
	return nil
}

func (m *memDocs) Document(_ context.Context, ref string) (*StoredDocument, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.byRef[ref]
	if !ok {
		return nil, nil
	}
	return &d, nil
}

func (m *memDocs) DocumentsOf(_ context.Context, eid string) ([]StoredDocument, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StoredDocument
	for _, d := range m.byRef {
		if d.EID == eid {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].AddedAt.Equal(out[j].AddedAt) {
			return out[i].AddedAt.Before(out[j].AddedAt)
		}
		return out[i].Ref < out[j].Ref
	})
	return out, nil
}

func (m *memDocs) DeleteDocument(_ context.Context, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.byRef[ref]; ok {
		delete(m.byIndex, d.Index())
		delete(m.byRef, ref)
	}
	return nil
}

func (m *memDocs) MoveDocuments(_ context.Context, from, into string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ref, d := range m.byRef {
		if d.EID == from {
			d.EID = into
			m.byRef[ref] = d
		}
	}
	return nil
}

func (m *memDocs) DocumentsByIndex(_ context.Context, indexes []Index) ([]StoredDocument, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StoredDocument
	for _, idx := range indexes {
		if ref, ok := m.byIndex[idx]; ok {
			out = append(out, m.byRef[ref])
		}
	}
	return out, nil
}

func (m *memDocs) DocumentsNotAt(_ context.Context, keyVersion, afterRef string, limit int) ([]StoredDocument, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StoredDocument
	for ref, d := range m.byRef {
		if d.KeyVersion != keyVersion && ref > afterRef {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memDocs) SetIndexes(_ context.Context, updates []IndexUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range updates {
		if _, ok := m.byRef[u.Ref]; !ok {
			return fmt.Errorf("no document %s", u.Ref)
		}
	}
	for _, u := range updates {
		d := m.byRef[u.Ref]
		delete(m.byIndex, d.Index())
		d.KeyVersion, d.BlindValue = u.KeyVersion, u.BlindValue
		m.byRef[u.Ref] = d
		m.byIndex[d.Index()] = u.Ref
	}
	return nil
}

func (m *memDocs) all() []StoredDocument {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StoredDocument
	for _, d := range m.byRef {
		out = append(out, d)
	}
	return out
}

type memJobs struct {
	mu      sync.Mutex
	jobs    map[string]gateway.ImportJob
	officer map[string]string
	rejects map[string]map[int64]ImportReject
	saves   int
}

func newMemJobs() *memJobs {
	return &memJobs{jobs: map[string]gateway.ImportJob{}, officer: map[string]string{}, rejects: map[string]map[int64]ImportReject{}}
}

func (m *memJobs) CreateImport(_ context.Context, job gateway.ImportJob, officer string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[job.ID]; ok {
		return errors.New("import exists")
	}
	m.jobs[job.ID], m.officer[job.ID] = job, officer
	return nil
}

func (m *memJobs) Import(_ context.Context, id string) (*gateway.ImportJob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return nil, nil
	}
	return &j, nil
}

func (m *memJobs) Imports(_ context.Context, limit int) ([]gateway.ImportJob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []gateway.ImportJob
	for _, j := range m.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memJobs) SaveImport(_ context.Context, job gateway.ImportJob, rejects []ImportReject) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[job.ID]; !ok {
		return errors.New("no such import")
	}
	m.saves++
	m.jobs[job.ID] = job
	if m.rejects[job.ID] == nil {
		m.rejects[job.ID] = map[int64]ImportReject{}
	}
	for _, r := range rejects {
		if _, dup := m.rejects[job.ID][r.Row]; !dup {
			m.rejects[job.ID][r.Row] = r
		}
	}
	return nil
}

func (m *memJobs) ImportRejects(_ context.Context, id string, each func(ImportReject) error) error {
	m.mu.Lock()
	var rows []ImportReject
	for _, r := range m.rejects[id] {
		rows = append(rows, r)
	}
	m.mu.Unlock()
	slices.SortFunc(rows, func(a, b ImportReject) int { return int(a.Row - b.Row) })
	for _, r := range rows {
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// memCache is an in-process routing.Cache.
type memCache struct {
	mu   sync.Mutex
	data map[string][]byte
}

func newMemCache() *memCache { return &memCache{data: map[string][]byte{}} }

func (c *memCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.data[key]
	return v, ok, nil
}

func (c *memCache) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[key] = bytes.Clone(value)
	return nil
}

func (c *memCache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.data, k)
	}
	return nil
}

// fakeIssuer issues numbered activation codes.
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

var _ Ledger = (*ledger.Client)(nil)
