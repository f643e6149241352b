package chaincode_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"google.golang.org/protobuf/proto"

	"github.com/eidgate/eidgate/chaincode/model"
)

// BenchmarkPublishRoutes1000 endorses one PublishRoutes call of 1,000
// signed digests from a department (simulation only, so every iteration
// publishes the full batch against the same state).
func BenchmarkPublishRoutes1000(b *testing.B) {
	e := newEnv(b)
	edu := e.addDept("edu")
	e.addDataType("edu.degree", "edu")
	eids := bulkEIDs(e, model.MaxBatch)
	batch := make([]model.SignedRoute, len(eids))
	for i, eid := range eids {
		batch[i] = e.sign(edu, stmt(eid, "edu.degree", "edu", 1, eid))
	}
	call := tx(edu.User, model.FnPublishRoutes, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := e.l.Simulate(e.cc, call)
		if r.Response.GetStatus() >= shim.ERRORTHRESHOLD || len(r.RWSet.GetWrites()) != model.MaxBatch {
			b.Fatalf("PublishRoutes: %s", r.Response.GetMessage())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/model.MaxBatch/1e3, "µs/route")
}

// BenchmarkCreateEIDs1000 endorses one bulk import of 1,000 new residents.
func BenchmarkCreateEIDs1000(b *testing.B) {
	e := newEnv(b)
	items := make([]model.EIDRequest, model.MaxBatch)
	for i := range items {
		items[i] = model.EIDRequest{Ref: fmt.Sprint(i), Indexes: []model.BlindedIndex{index(2 * i), index(2*i + 1)}}
	}
	call := tx(e.agent, model.FnCreateEIDs, items)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := e.l.Simulate(e.cc, call); r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
			b.Fatalf("CreateEIDs: %s", r.Response.GetMessage())
		}
	}
}

// BenchmarkGetRoutes evaluates GetRoutes for one resident on ledgers holding
// the routes of 10 k and 1 M residents (two providers each). The state is
// seeded directly; the cost must not grow with the number of residents.
func BenchmarkGetRoutes(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		if testing.Short() && n > 10_000 {
			continue
		}
		e := newEnv(b)
		e.addDept("edu")
		e.addDept("hr")
		seedRoutes(e, n)
		// Queries walk residents spread over the whole key space.
		calls := make([]string, 997)
		for i := range calls {
			calls[i] = model.DeriveEID("seed", (i*7919)%n)
		}
		if got := decode[[]model.RouteEntry](b, e.ok(e.agent, model.FnGetRoutes, calls[1], "")); len(got) != 2 {
			b.Fatalf("seeded resident has %d routes", len(got))
		}
		b.Run(fmt.Sprintf("residents=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := e.l.Evaluate(e.cc, tx(e.agent, model.FnGetRoutes, calls[i%len(calls)], ""))
				if r.Response.GetStatus() >= shim.ERRORTHRESHOLD || len(r.Response.GetPayload()) < 100 {
					b.Fatalf("GetRoutes: %s", r.Response.GetMessage())
				}
			}
		})
	}
}

// seedRoutes writes n residents with a valid route from edu and from hr
// straight into committed state, keyed exactly as the contract keys them.
func seedRoutes(e *env, n int) {
	entry := model.RouteEntry{DataType: "edu.degree", Provider: "edu", Version: 1, Schema: "edu.degree/1",
		KID: "edu-k1", Signature: "MEUCIQDx0s8b2t0mF5V1Kq9f3l4sYbWJ6o3O8YbJ4k1Kqv9rQIgY6m2d4u6b9Xc0Gm8uA3k2rJc8w5m1n7q2v4b6d8f0h2o=",
		Status: model.RouteValid, PublishedAt: "2026-03-01T09:00:00Z", UpdatedAt: "2026-03-01T09:00:00Z", TxID: "seed"}
	e.l.Seed(func(put func(string, []byte)) {
		for i := 0; i < n; i++ {
			eid := model.DeriveEID("seed", i)
			for _, p := range []struct{ dt, prov string }{{"edu.degree", "edu"}, {"hr.employment", "hr"}} {
				entry.EID, entry.DataType, entry.Provider, entry.Digest = eid, p.dt, p.prov, digest(eid+p.prov)
				v, _ := json.Marshal(entry)
				put(compositeKey("route", eid, p.dt, p.prov), v)
			}
		}
	})
}

func compositeKey(objectType string, attrs ...string) string {
	k, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		panic(err)
	}
	return k
}

// BenchmarkAnchorConsentUses1000 endorses one anchoring of a batch whose
// records relied on 1,000 residents' consents (each granted with a passkey
// signature, as the portal records them), and reports the write set per
// consent: what every copy of the transaction, its block and the history
// carry for each consent the batch counts.
func BenchmarkAnchorConsentUses1000(b *testing.B) {
	e := newEnv(b)
	const n = 1000
	uses := make([]model.ConsentUse, n)
	e.l.Seed(func(put func(string, []byte)) {
		for i := range uses {
			eid := model.DeriveEID("seed", i)
			cs := model.Consent{ID: fmt.Sprintf("cs-%024x", i), EID: eid, Requester: "hr", Provider: "edu", DataTypes: []string{"edu.degree"},
				PurposeCode: "hiring.verify", PurposeText: "Verify the degree of an applicant", ValidFrom: "2026-03-01T09:00:00Z",
				ValidUntil: "2027-03-01T09:00:00Z", Status: model.ConsentActive, RequestedAt: "2026-03-01T09:00:00Z",
				DecidedAt: "2026-03-01T09:05:00Z", DecidedBy: eid, DecisionMethod: "portal", UpdatedAt: "2026-03-01T09:05:00Z",
				TxID: digest(eid), GrantAssurance: model.AssurancePasskey,
				GrantSignature: &model.PasskeySignature{Statement: "consent.grant", Signer: eid, Key: eid + "#pk-1", Nonce: digest("n" + eid)[:32],
					Digest: "sha256:" + digest("d"+eid), AuthenticatorData: strings.Repeat("A", 50), ClientDataJSON: strings.Repeat("e", 250),
					Signature: strings.Repeat("M", 96), SignedAt: "2026-03-01T09:05:00Z"}}
			v, _ := json.Marshal(cs)
			put(compositeKey("consent", cs.ID), v)
			uses[i] = model.ConsentUse{ConsentID: cs.ID, Uses: 1}
		}
	})
	call := tx(e.agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "gw1-000001", MerkleRoot: root("batch"),
		Count: n, FirstSeq: 1, LastSeq: n, ConsentUses: uses})
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int
	for i := 0; i < b.N; i++ {
		r := e.l.Simulate(e.cc, call)
		if r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
			b.Fatalf("AnchorAccessBatch: %s", r.Response.GetMessage())
		}
		bytes = proto.Size(r.RWSet) + len(r.Event.GetPayload())
	}
	b.ReportMetric(float64(bytes)/n, "rwset+event-B/consent")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n/1e3, "µs/consent")
}
