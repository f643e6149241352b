package demo

import (
	"encoding/json"

	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
)

// StoredRecord is a record the sample provider holds, with the salt its
// on-chain digest was computed with.
type StoredRecord struct {
	EID      string          `json:"eid"`
	DataType string          `json:"data_type"`
	Provider string          `json:"provider"`
	Version  uint64          `json:"version"`
	Salt     string          `json:"salt"`
	Digest   string          `json:"digest"`
	Record   json.RawMessage `json:"record"`
}

// RecordsFile is where the demo keeps its records in the data dir.
const RecordsFile = "demo-records.json"

// SaveRecords writes the records (0600: they are resident data).
func SaveRecords(dataDir string, recs []StoredRecord) error {
	return WriteJSON(filepath.Join(dataDir, RecordsFile), recs)
}

// WriteJSON replaces path with v as indented JSON, readable by the owner
// only (demo files hold credentials and resident data), all or nothing.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteSecret(path, b)
}

// LoadRecords reads the records written by SaveRecords.
func LoadRecords(dataDir string) ([]StoredRecord, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, RecordsFile))
	if err != nil {
		return nil, err
	}
	var recs []StoredRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", RecordsFile, err)
	}
	return recs, nil
}

// ProviderPath is where the sample provider is mounted on the gateway; a
// department's endpoint is ProviderPath + its id.
const ProviderPath = "/demo-provider/"

// Provider is the built-in sample provider: for each demo department it
// serves GET {endpoint}/v1/records?eid=…&data_type=… to a bearer of a valid,
// unused access ticket addressed to that department, for exactly the eID
// and data type the ticket names. It is what a real provider department
// runs, reduced to a handler.
type Provider struct {
	mu        sync.RWMutex
	records   map[string]StoredRecord // dept|eid|dataType
	verifiers map[string]*provider.Verifier
}

// ProviderConfig is what a Provider is built from.
type ProviderConfig struct {
	Keys   provider.KeySource   // required: the gateway's ticket keys
	Issuer string               // required: the gateway's issuer name
	Replay provider.ReplayCache // used ticket ids (nil: in memory)
}

// NewProvider checks cfg and builds a provider that verifies tickets with
// the gateway's keys and issuer name.
func NewProvider(cfg ProviderConfig) (*Provider, error) {
	const op = "demo.NewProvider"
	if cfg.Keys == nil {
		return nil, routing.MissingDependency(op, "the ticket keys")
	}
	if cfg.Issuer == "" {
		return nil, routing.MissingDependency(op, "the issuer name")
	}
	p := &Provider{records: map[string]StoredRecord{}, verifiers: map[string]*provider.Verifier{}}
	for _, d := range Departments {
		v, err := provider.NewVerifier(provider.Config{Department: d.ID, Issuer: cfg.Issuer, Keys: cfg.Keys, Replay: cfg.Replay})
		if err != nil {
			return nil, err
		}
		p.verifiers[d.ID] = v
	}
	return p, nil
}

// SetRecords replaces the records served.
func (p *Provider) SetRecords(recs []StoredRecord) {
	m := make(map[string]StoredRecord, len(recs))
	for _, r := range recs {
		m[r.Provider+"|"+r.EID+"|"+r.DataType] = r
	}
	p.mu.Lock()
	p.records = m
	p.mu.Unlock()
}

type providerError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeProviderError(w http.ResponseWriter, status int, code, msg string) {
	var e providerError
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// ServeHTTP answers {ProviderPath}{dept}/v1/records.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, ProviderPath)
	dept, tail, _ := strings.Cut(rest, "/")
	v, ok := p.verifiers[dept]
	if !ok || tail != "v1/records" {
		writeProviderError(w, http.StatusNotFound, "not_found", "no such provider endpoint")
		return
	}
	if r.Method != http.MethodGet {
		writeProviderError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		writeProviderError(w, http.StatusUnauthorized, "ticket_missing", "present the access ticket as a bearer token")
		return
	}
	claims, err := v.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		status := http.StatusUnauthorized
		if provider.CodeOf(err) == provider.CodeUnavailable {
			status = http.StatusServiceUnavailable
		}
		writeProviderError(w, status, string(provider.CodeOf(err)), "the access ticket was refused")
		return
	}
	eid, dataType := r.URL.Query().Get("eid"), r.URL.Query().Get("data_type")
	if claims.Subject != eid || claims.DataType != dataType {
		writeProviderError(w, http.StatusForbidden, "ticket_scope", "the ticket is for another resident or data type")
		return
	}
	p.mu.RLock()
	rec, ok := p.records[dept+"|"+eid+"|"+dataType]
	p.mu.RUnlock()
	if !ok {
		writeProviderError(w, http.StatusNotFound, "no_record", "no such record")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(routing.RecordEnvelope{
		EID: rec.EID, DataType: rec.DataType, Provider: rec.Provider, Version: rec.Version, Salt: rec.Salt, Record: rec.Record,
	})
}
