package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/routing/merkle"
	"github.com/eidgate/eidgate/store"
)

// redisTests serialises the tests that share the Redis test database:
// their replicas use the default key prefix and policy channel, so two of
// them at once would read each other's cache entries.
var redisTests sync.Mutex

// exclusiveRedis holds the Redis test database for the rest of the test
// (released after the test's other cleanups, which stop its gateways).
func exclusiveRedis(t *testing.T) {
	t.Helper()
	redisTests.Lock()
	t.Cleanup(redisTests.Unlock)
}

// startHost starts replica A: the embedded ledger served over TLS on
// loopback, with the demo loaded.
func startHost(t *testing.T, edit func(*Config)) *Main {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), true, "warn"
	cfg.DevnetListen, cfg.Replica = "127.0.0.1:0", "replica-a"
	if edit != nil {
		edit(&cfg)
	}
	return newTestMain(t, cfg)
}

// hostProfile is the path of a connection profile the host wrote for its
// embedded peer (devnet.AgentName or devnet.AdminName).
func hostProfile(host *Main, name string) string {
	return filepath.Join(host.Config.DataDir, "ledger", "profiles", devnet.PlatformOrg+"-"+name+".yaml")
}

// profileVia writes a copy of the host's profile that reaches the peer at
// endpoint (a proxy) with short timeouts, so a cut ledger fails requests
// in seconds, and returns its path.
func profileVia(t *testing.T, host *Main, name, endpoint string) string {
	t.Helper()
	raw, err := os.ReadFile(hostProfile(host, name))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	peer, _ := p["peer"].(map[string]any)
	if peer == nil {
		t.Fatalf("profile without a peer section: %s", raw)
	}
	peer["endpoint"] = endpoint
	p["timeouts"] = map[string]any{"dial": "5s", "evaluate": "2s", "endorse": "3s", "submit": "3s", "commitStatus": "5s"}
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	// Beside the original, so its relative paths hold.
	path := filepath.Join(filepath.Dir(hostProfile(host, name)), "via-"+filepath.Base(t.TempDir())+"-"+name+".yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startReplica starts a gateway on the host's ledger through the Fabric
// client (the agent profile, and the admin profile for registry changes),
// with the host's keys: replicas share every key, as operations.md asks.
func startReplica(t *testing.T, host *Main, agentProfile, adminProfile string, edit func(*Config)) *Main {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), "warn"
	cfg.Ledger, cfg.FabricProfile, cfg.FabricAdminProfile = "fabric", agentProfile, adminProfile
	cfg.Replica = "replica-b"
	copyDir(t, filepath.Join(host.Config.DataDir, "keys"), filepath.Join(cfg.DataDir, "keys"))
	if edit != nil {
		edit(&cfg)
	}
	return newTestMain(t, cfg)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// queryInt runs a counting query on the store.
func queryInt(t *testing.T, db *store.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm().WithContext(context.Background()).Raw(q, args...).Row().Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitAllAnchored waits until no access record waits for anchoring.
func waitAllAnchored(t *testing.T, db *store.DB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, waiting, err := db.OldestUnanchored(context.Background())
		if err == nil && !waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access records still unanchored after %s (err %v)", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// anchorReader reads anchors and consents from the ledger.
type anchorReader interface {
	GetAnchor(ctx context.Context, batchID string) (*model.AccessAnchor, error)
	GetConsent(ctx context.Context, id string) (*model.Consent, error)
}

// checkAnchoredExactlyOnce checks, once everything is anchored, that every
// access record is in exactly one anchored batch, that each batch's
// Merkle root recomputed from its records and its count match the anchor
// on the ledger, and that the ledger counted each consent's uses once per
// issued record. It returns the number of records.
func checkAnchoredExactlyOnce(t *testing.T, db *store.DB, lg anchorReader) int64 {
	t.Helper()
	ctx := context.Background()
	g := db.Gorm().WithContext(ctx)
	total := queryInt(t, db, `SELECT COUNT(*) FROM access_records`)
	if n := queryInt(t, db, `SELECT COUNT(*) FROM access_records WHERE batch_id IS NULL`); n != 0 {
		t.Errorf("%d access records are in no batch", n)
	}
	if n := queryInt(t, db, `SELECT COUNT(*) FROM anchor_batches WHERE status <> 'anchored'`); n != 0 {
		t.Errorf("%d batches are not anchored", n)
	}
	type batch struct {
		ID          string
		FirstSeq    int64
		LastSeq     int64
		RecordCount int64
		MerkleRoot  string
	}
	var batches []batch
	if err := g.Raw(`SELECT id, first_seq, last_seq, record_count, merkle_root FROM anchor_batches ORDER BY first_seq`).Scan(&batches).Error; err != nil {
		t.Fatal(err)
	}
	var inBatches int64
	for _, b := range batches {
		var leaves []string
		if err := g.Raw(`SELECT leaf_hash FROM access_records WHERE batch_id = ? ORDER BY seq`, b.ID).Scan(&leaves).Error; err != nil {
			t.Fatal(err)
		}
		if int64(len(leaves)) != b.RecordCount {
			t.Errorf("batch %s holds %d records, says %d", b.ID, len(leaves), b.RecordCount)
		}
		// Batches take records "in no batch", not a sequence range: a record
		// whose transaction commits after a later sequence number was batched
		// goes into the next batch, so ranges of neighbouring batches may
		// interleave. What must hold is that each batch's records lie in the
		// range its anchor states.
		if n := queryInt(t, db, `SELECT COUNT(*) FROM access_records WHERE batch_id = ? AND (seq < ? OR seq > ?)`,
			b.ID, b.FirstSeq, b.LastSeq); n != 0 {
			t.Errorf("batch %s: %d records outside its range %d-%d", b.ID, n, b.FirstSeq, b.LastSeq)
		}
		inBatches += int64(len(leaves))
		hashes := make([]merkle.Hash, len(leaves))
		for i, l := range leaves {
			h, err := merkle.ParseHash(l)
			if err != nil {
				t.Fatalf("batch %s leaf %d: %v", b.ID, i, err)
			}
			hashes[i] = h
		}
		root := merkle.RootFromHashes(hashes).String()
		if root != b.MerkleRoot {
			t.Errorf("batch %s: root of its records %s, stored %s", b.ID, root, b.MerkleRoot)
		}
		a, err := lg.GetAnchor(ctx, b.ID)
		if err != nil {
			t.Errorf("batch %s on the ledger: %v", b.ID, err)
			continue
		}
		if a.MerkleRoot != root {
			t.Errorf("a.MerkleRoot = %v, want root; batch %s: ledger anchor %+v, records root %s count %d seq %d-%d", a.MerkleRoot, b.ID, a, root, len(leaves), b.FirstSeq, b.LastSeq)
		} else if a.Count != uint64(len(leaves)) {
			t.Errorf("a.Count = %v, want uint64(len(leaves)); batch %s: ledger anchor %+v, records root %s count %d seq %d-%d", a.Count, b.ID, a, root, len(leaves), b.FirstSeq, b.LastSeq)
		} else if a.FirstSeq != uint64(b.FirstSeq) {
			t.Errorf("a.FirstSeq = %v, want uint64(b.FirstSeq); batch %s: ledger anchor %+v, records root %s count %d seq %d-%d", a.FirstSeq, b.ID, a, root, len(leaves), b.FirstSeq, b.LastSeq)
		} else if a.LastSeq != uint64(b.LastSeq) {
			t.Errorf("a.LastSeq = %v, want uint64(b.LastSeq); batch %s: ledger anchor %+v, records root %s count %d seq %d-%d", a.LastSeq, b.ID, a, root, len(leaves), b.FirstSeq, b.LastSeq)
		}
	}
	if inBatches != total {
		t.Errorf("%d records in batches, %d records", inBatches, total)
	}
	// Consent uses: the database counted one per issued record, and the
	// anchors carried exactly those to the ledger.
	type use struct {
		ConsentID string
		Issued    int64
	}
	var uses []use
	if err := g.Raw(`SELECT consent_id, COUNT(*) AS issued FROM access_records WHERE used_consent GROUP BY consent_id`).Scan(&uses).Error; err != nil {
		t.Fatal(err)
	}
	for _, u := range uses {
		counted := queryInt(t, db, `SELECT uses FROM consent_usage WHERE consent_id = ?`, u.ConsentID)
		if counted != u.Issued {
			t.Errorf("consent %s: %d records used it, the database counted %d uses", u.ConsentID, u.Issued, counted)
		}
		c, err := lg.GetConsent(ctx, u.ConsentID)
		if err != nil {
			t.Errorf("consent %s on the ledger: %v", u.ConsentID, err)
			continue
		}
		if int64(c.Uses) != u.Issued {
			t.Errorf("consent %s: %d issued records, %d uses on the ledger", u.ConsentID, u.Issued, c.Uses)
		}
	}
	return total
}

// fetchRecord presents a ticket to the provider endpoint a resolve named.
func fetchRecord(t *testing.T, client *http.Client, endpoint, eid, dataType, ticket string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, endpoint+"/v1/records?eid="+eid+"&data_type="+dataType, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ticket)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postJSON sends a department's request outside the stack's checked
// client; it reports failures instead of failing the test, so load
// goroutines and requests to a gateway about to die can use it.
func postJSON(client *http.Client, url string, c caller, body any) (reply, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	out := reply{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	_ = json.Unmarshal(raw, &out.body)
	return out, nil
}
