package mapping_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/eidgate/eidgate/mapping"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

// withKeys returns a service over the same ledger and stores using keys, as
// another replica (or the same one after a restart) would.
func (f *fixture) withKeys(t *testing.T, keys *mapping.Keyring) *mapping.Service {
	t.Helper()
	s, err := mapping.NewService(mapping.Config{Ledger: f.chain, Documents: f.docs, Activations: f.issuer, Keys: keys, Sealing: f.sealing,
		Clock: f.clock, Logger: f.logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotateBlindsEveryDocumentAgain(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		v1 := f.svc.Keyring()
		var all []mapping.Input
		for i := range 60 {
			all = append(all, resident(20000+i))
			f.secret(all[i].Number)
		}
		// KYC creations, one with two documents, and an import.
		a, err := f.svc.Create(ctxb, []mapping.Input{all[0], all[1]}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		dead, err := f.svc.Create(ctxb, []mapping.Input{all[2]}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		path, _ := writeResidents(t, 20003, 57, 0)
		if _, err := f.im.Import(ctxb, mapping.ImportOptions{Path: path, BatchSize: 10}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Deactivate(ctxb, dead.EID, "deceased", "officer"); err != nil {
			t.Fatal(err)
		}
		before := map[int]string{}
		for i, d := range all {
			if before[i], err = f.svc.Find(ctxb, d); err != nil {
				t.Fatal(err)
			}
		}

		next, err := v1.AddVersion("v2", mapping.NewKey(), true)
		if err != nil {
			t.Fatal(err)
		}
		// Interrupt the first run after one page; the second picks up the rest.
		ctx, cancel := context.WithCancel(ctxb)
		first, err := f.svc.Rotate(ctx, next, mapping.RotateOptions{Parallel: 3, PageSize: 7, Progress: func(mapping.RotationProgress) { cancel() }})
		if err == nil {
			t.Fatalf("err is nil; interrupted rotation: %+v %v", first, err)
		}
		if first.Done == 0 {
			t.Fatalf("first.Done == 0, want it different; interrupted rotation: %+v %v", first, err)
		}
		if first.Done >= 59 {
			t.Fatalf("first.Done = %v, want < 59; interrupted rotation: %+v %v", first.Done, first, err)
		}
		second, err := f.svc.Rotate(ctxb, next, mapping.RotateOptions{Parallel: 3, PageSize: 7})
		if err != nil {
			t.Fatal(err)
		}
		if first.Done+second.Done != 59 {
			t.Fatalf("first.Done+second.Done = %v, want 59; rotation: first %+v, second %+v (want 59 done in all, 1 skipped)", first.Done+second.Done, first, second)
		}
		if second.Skipped != 1 {
			t.Fatalf("second.Skipped = %v, want 1; rotation: first %+v, second %+v (want 59 done in all, 1 skipped)", second.Skipped, first, second)
		}
		if second.Failed != 0 {
			t.Fatalf("second.Failed = %v, want 0; rotation: first %+v, second %+v (want 59 done in all, 1 skipped)", second.Failed, first, second)
		}
		for _, sd := range f.stored() {
			if (sd.KeyVersion == "v2") == (sd.EID == dead.EID) {
				t.Fatalf("stored document of %s at %s", sd.EID, sd.KeyVersion)
			}
		}
		// A third run has nothing left but the deactivated eID's document.
		third, err := f.svc.Rotate(ctxb, next, mapping.RotateOptions{})
		if err != nil {
			t.Fatalf("err = %v, want nil; third run %+v %v", err, third, err)
		}
		if third.Done != 0 {
			t.Fatalf("third.Done = %v, want 0; third run %+v %v", third.Done, third, err)
		}
		if third.Skipped != 1 {
			t.Fatalf("third.Skipped = %v, want 1; third run %+v %v", third.Skipped, third, err)
		}

		// Both versions resolve: the rotated keyring, a replica still on v1 only,
		// and one that has dropped v1 already (except the deactivated eID).
		v2only, err := next.WithoutVersion("v1")
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*mapping.Service{"both": f.svc, "v1": f.withKeys(t, v1), "v2": f.withKeys(t, v2only)} {
			for i, d := range all {
				eid, err := s.Find(ctxb, d)
				if name == "v2" && i == 2 {
					if !routing.IsKind(err, routing.KindNotFound) {
						t.Fatalf("deactivated eID's document under v2 only: %q %v", eid, err)
					}
					continue
				}
				if err != nil || eid != before[i] {
					t.Fatalf("%s keys, document %d: %q %v, want %q", name, i, eid, err, before[i])
				}
			}
		}
		id, err := f.chain.GetEID(ctxb, a.EID)
		if err != nil {
			t.Fatalf("err = %v, want nil; two documents under two versions: %+v %v", err, id, err)
		}
		if len(id.Indexes) != 4 {
			t.Fatalf("len(id.Indexes) = %v, want 4; two documents under two versions: %+v %v", len(id.Indexes), id, err)
		}
	})
}

func TestRotateRefusesUnsafeKeyrings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		v1 := f.svc.Keyring()
		grown, _ := v1.AddVersion("v2", mapping.NewKey(), false) // v2 added but v1 still current
		if _, err := f.svc.Rotate(ctxb, grown, mapping.RotateOptions{}); err == nil {
			t.Fatal("rotated to a version that is not the newest")
		}
		fresh, _ := mapping.NewKeyring("v2", map[string][]byte{"v2": mapping.NewKey()})
		if _, err := f.svc.Rotate(ctxb, fresh, mapping.RotateOptions{}); err == nil {
			t.Fatal("rotated to a keyring without the version the documents are under")
		}
		if f.svc.Keyring() != v1 {
			t.Fatal("a refused rotation changed the keys")
		}
	})
}

// While a rotation is under way (two versions, the documents not yet
// re-blinded), creations and imports write every version and recognise
// documents mapped under the old one only.
func TestMappingDuringRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		old, fresh := resident(30001), resident(30002)
		f.secret(old.Number, fresh.Number)
		pre, err := f.svc.Create(ctxb, []mapping.Input{old}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		next, _ := f.svc.Keyring().AddVersion("v2", mapping.NewKey(), true)
		f.svc.SetKeyring(next)

		_, err = f.svc.Create(ctxb, []mapping.Input{old}, "officer")
		checkErr(t, err, routing.KindConflict, "document_already_mapped", pre.EID)

		path := filepath.Join(t.TempDir(), "rotation.csv")
		if err := os.WriteFile(path, []byte("cn-resident,"+old.Number+"\ncn-resident,"+fresh.Number+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		job, err := f.im.Import(ctxb, mapping.ImportOptions{Path: path})
		if err != nil {
			t.Fatalf("err = %v, want nil; import during rotation: %+v %v", err, job, err)
		}
		if job.Created != 1 {
			t.Fatalf("job.Created = %v, want 1; import during rotation: %+v %v", job.Created, job, err)
		}
		if job.Existing != 1 {
			t.Fatalf("job.Existing = %v, want 1; import during rotation: %+v %v", job.Existing, job, err)
		}
		if job.Rejected != 0 {
			t.Fatalf("job.Rejected = %v, want 0; import during rotation: %+v %v", job.Rejected, job, err)
		}
		eid, err := f.svc.Find(ctxb, fresh)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := f.chain.GetEID(ctxb, eid)
		if len(id.Indexes) != 2 {
			t.Fatalf("len(id.Indexes) = %v, want 2; imported during rotation: %+v", len(id.Indexes), id.Indexes)
		}
		if id.Indexes[0].KeyVersion != "v2" {
			t.Fatalf("id.Indexes[0].KeyVersion = %q, want \"v2\"; imported during rotation: %+v", id.Indexes[0].KeyVersion, id.Indexes)
		}
		if id.Indexes[1].KeyVersion != "v1" {
			t.Fatalf("id.Indexes[1].KeyVersion = %q, want \"v1\"; imported during rotation: %+v", id.Indexes[1].KeyVersion, id.Indexes)
		}
		for _, sd := range f.stored() {
			if want := map[string]string{pre.EID: "v1", eid: "v2"}[sd.EID]; sd.KeyVersion != want {
				t.Fatalf("stored %s at %s, want %s", sd.EID, sd.KeyVersion, want)
			}
		}
	})
}

// An account linked before a rotation resolves through the old hash and is
// linked again under the current version when the department relinks it.
func TestAccountLinkAcrossRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		f.chain.registerDepartment(t, "hr-bureau")
		d := resident(31000)
		f.secret(d.Number)
		out, err := f.svc.Create(ctxb, []mapping.Input{d}, "officer")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.LinkAccount(ctxb, "hr-bureau", "emp-7", d); err != nil {
			t.Fatal(err)
		}
		next, _ := f.svc.Keyring().AddVersion("v2", mapping.NewKey(), true)
		if _, err := f.svc.Rotate(ctxb, next, mapping.RotateOptions{}); err != nil {
			t.Fatal(err)
		}
		if eid, err := f.svc.LookupAccount(ctxb, "hr-bureau", "emp-7"); err != nil || eid != out.EID {
			t.Fatalf("old link: %q %v", eid, err)
		}
		link, err := f.svc.LinkAccount(ctxb, "hr-bureau", "emp-7", d)
		if err != nil {
			t.Fatalf("err = %v, want nil; relink: %+v %v", err, link, err)
		}
		if link.AccountHash != next.AccountHash("hr-bureau", "emp-7") {
			t.Fatalf("link.AccountHash = %v, want next.AccountHash(\"hr-bureau\", \"emp-7\"); relink: %+v %v", link.AccountHash, link, err)
		}
		v2only, _ := next.WithoutVersion("v1")
		if eid, err := f.withKeys(t, v2only).LookupAccount(ctxb, "hr-bureau", "emp-7"); err != nil || eid != out.EID {
			t.Fatalf("after dropping v1: %q %v", eid, err)
		}
		if f.chain.count(model.FnUnlinkAccount) != 1 {
			t.Fatalf("relinking unlinked %d times", f.chain.count(model.FnUnlinkAccount))
		}
	})
}
