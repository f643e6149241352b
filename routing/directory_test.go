package routing

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

// A value decoded once is served again only while the cache holds the same
// bytes: an entry another replica rewrote, or one dropped by an event, is
// read anew.
func TestDirectoryServesWhatTheCacheHolds(t *testing.T) {
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
	newer := e.ledger.depts["edu-bureau"]
	newer.Name = "Education Bureau (renamed)"
	raw, _ := json.Marshal(&newer)
	_ = e.cache.Set(ctx, keyDepartment("edu-bureau"), raw, 0)
	if d := dept(); d.Name != newer.Name {
		t.Fatalf("served %q after the cache entry changed", d.Name)
	}

	// A ledger change arrives as an event: the next read goes to the ledger.
	e.ledger.mu.Lock()
	d := e.ledger.depts["edu-bureau"]
	d.Name = "Education Bureau (merged)"
	e.ledger.depts["edu-bureau"] = d
	e.ledger.mu.Unlock()
	if err := e.dir.Invalidate(ctx, model.ChangeSet{Changes: []model.Change{{Kind: model.KindDepartment, ID: "edu-bureau"}}}); err != nil {
		t.Fatal(err)
	}
	if got := dept(); got.Name != d.Name {
		t.Fatalf("served %q after invalidation", got.Name)
	}
}

// DID resolution from the cache answers as the chaincode's ResolveDID: an
// active eID, a merged one naming its survivor, and refusals.
func TestDirectoryResolvesDIDs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.dir.DID(ctx, eidAlice)
	if err != nil || res.DIDDocument.ID != eidAlice || res.DIDDocumentMetadata.Deactivated || res.DIDDocumentMetadata.CanonicalID != "" {
		t.Fatalf("active eID: %+v %v", res, err)
	}
	res, err = e.dir.DID(ctx, eidOld)
	if err != nil || !res.DIDDocumentMetadata.Deactivated || res.DIDDocumentMetadata.CanonicalID != eidAlice || res.DIDDocument.ID != eidOld {
		t.Fatalf("merged eID: %+v %v", res, err)
	}
	if _, err := e.dir.DID(ctx, "did:eidgate:nobody"); !IsKind(err, KindNotFound) {
		t.Fatalf("unknown eID: %v", err)
	}
	e.ledger.mu.Lock()
	e.ledger.eids["did:eidgate:orphan"] = model.Identity{ID: "did:eidgate:orphan", Status: model.EIDMerged, MergedInto: "did:eidgate:gone"}
	e.ledger.mu.Unlock()
	if _, err := e.dir.DID(ctx, "did:eidgate:orphan"); !IsKind(err, KindConflict) {
		t.Fatalf("eID merged into a missing one: %v", err)
	}
}
