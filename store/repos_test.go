package store_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

func doc(eid, blind, masked string) store.ResidentDocument {
	return store.ResidentDocument{EID: eid, DocType: "id_card", Country: "CN", MaskedNumber: masked,
		KeyVersion: "k1", BlindValue: blind, SealedNumber: []byte{0x01, 0x00, 0xff, 0x7f}}
}

func TestResidentDocuments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		a1, err := db.AddDocument(ctx, doc("did:eidgate:a", strings.Repeat("1", 64), "1101************34"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddDocument(ctx, doc("did:eidgate:a", strings.Repeat("2", 64), "E123****9")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddDocument(ctx, doc("did:eidgate:b", strings.Repeat("3", 64), "G77****1")); err != nil {
			t.Fatal(err)
		}
		_, err = db.AddDocument(ctx, doc("did:eidgate:b", strings.Repeat("1", 64), "1101************34"))
		if routing.CodeOf(err) != "document_exists" {
			t.Fatalf("same document for another eID: %v", err)
		}
		if strings.Contains(routing.MessageOf(err), "110101") {
			t.Fatalf("message shows more than the masked number: %q", routing.MessageOf(err))
		}
		found, err := db.FindDocumentByBlind(ctx, "k1", strings.Repeat("1", 64))
		if err != nil || found.Ref != a1.Ref || found.EID != "did:eidgate:a" || !bytes.Equal(found.SealedNumber, a1.SealedNumber) {
			t.Fatalf("find %+v, %v", found, err)
		}
		if _, err := db.FindDocumentByBlind(ctx, "k2", strings.Repeat("1", 64)); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("other key version: %v", err)
		}
		// Merge a into b.
		n, err := db.MoveDocuments(ctx, "did:eidgate:a", "did:eidgate:b")
		if err != nil || n != 2 {
			t.Fatalf("moved %d, %v", n, err)
		}
		if ds, _ := db.ListDocuments(ctx, "did:eidgate:a", false); len(ds) != 0 {
			t.Fatalf("a still has %d documents", len(ds))
		}
		ds, err := db.ListDocuments(ctx, "did:eidgate:b", false)
		if err != nil || len(ds) != 3 {
			t.Fatalf("b has %d documents, %v", len(ds), err)
		}
		// Removing keeps history and frees the blinded value.
		if err := db.RemoveDocument(ctx, a1.Ref); err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveDocument(ctx, a1.Ref); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("second removal: %v", err)
		}
		if ds, _ := db.ListDocuments(ctx, "did:eidgate:b", false); len(ds) != 2 {
			t.Fatalf("after removal %d documents", len(ds))
		}
		all, _ := db.ListDocuments(ctx, "did:eidgate:b", true)
		if len(all) != 3 {
			t.Fatalf("history has %d documents", len(all))
		}
		got, err := db.GetDocument(ctx, a1.Ref)
		if err != nil || got.RemovedAt.IsZero() {
			t.Fatalf("removed document %+v, %v", got, err)
		}
		if _, err := db.AddDocument(ctx, doc("did:eidgate:c", strings.Repeat("1", 64), "1101************34")); err != nil {
			t.Fatalf("re-adding a removed document: %v", err)
		}
		if _, err := db.MoveDocuments(ctx, "x", "x"); !routing.IsKind(err, routing.KindInvalid) {
			t.Fatalf("self merge: %v", err)
		}
	})
}

func TestImportJobsResumeFromCommittedProgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		const sha = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
		if _, err := db.FindJobByFileHash(ctx, sha); routing.CodeOf(err) != "import_not_found" {
			t.Fatalf("new file: %v", err)
		}
		job, err := db.CreateImportJob(ctx, store.ImportJob{FileName: "residents.csv", FileSHA256: sha, StartedBy: "officer-1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetImportTotal(ctx, job.ID, 1000); err != nil {
			t.Fatal(err)
		}
		chunk1 := []store.ImportReject{{Row: 3, MaskedNumber: "1101****34", Reason: "bad checksum"}}
		if err := db.RecordImportProgress(ctx, job.ID, store.ImportProgress{Done: 100, Created: 90, Exists: 9, Rejected: 1, ResumeOffset: 100}, chunk1); err != nil {
			t.Fatal(err)
		}
		// A retried chunk is harmless.
		if err := db.RecordImportProgress(ctx, job.ID, store.ImportProgress{Done: 100, Created: 90, Exists: 9, Rejected: 1, ResumeOffset: 100}, chunk1); err != nil {
			t.Fatal(err)
		}
		chunk2 := []store.ImportReject{{Row: 150, Reason: "unknown document type"}, {Row: 151, MaskedNumber: "E1****9", Reason: "length", Message: "bad length"}}
		if err := db.RecordImportProgress(ctx, job.ID, store.ImportProgress{Done: 200, Created: 180, Exists: 17, Rejected: 3, ResumeOffset: 200}, chunk2); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordImportProgress(ctx, job.ID, store.ImportProgress{ResumeOffset: 150}, nil); routing.CodeOf(err) != "import_offset_backwards" {
			t.Fatalf("going backwards: %v", err)
		}
		if err := db.FinishImportJob(ctx, job.ID, store.ImportFailed, "the process was stopped"); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordImportProgress(ctx, job.ID, store.ImportProgress{ResumeOffset: 300}, nil); routing.CodeOf(err) != "import_not_running" {
			t.Fatalf("progress on a failed job: %v", err)
		}
		// Rerunning the same file (hash in any case) finds and resumes the job.
		again, err := db.FindJobByFileHash(ctx, strings.ToLower(sha))
		if err != nil || again.ID != job.ID || again.ResumeOffset != 200 || again.Status != store.ImportFailed ||
			again.Total != 1000 || again.Created != 180 || again.Exists != 17 || again.Rejected != 3 || again.Error == "" {
			t.Fatalf("found %+v, %v", again, err)
		}
		resumed, err := db.ResumeImportJob(ctx, job.ID)
		if err != nil || resumed.Status != store.ImportRunning || resumed.Error != "" || !resumed.FinishedAt.IsZero() {
			t.Fatalf("resumed %+v, %v", resumed, err)
		}
		if err := db.FinishImportJob(ctx, job.ID, store.ImportDone, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ResumeImportJob(ctx, job.ID); routing.CodeOf(err) != "import_done" {
			t.Fatalf("resuming a done job: %v", err)
		}
		rejects, err := db.ListImportRejects(ctx, job.ID, 0, 0)
		if err != nil || len(rejects) != 3 || rejects[0].Row != 3 || rejects[2].MaskedNumber != "E1****9" || rejects[2].Message != "bad length" {
			t.Fatalf("rejects %+v, %v", rejects, err)
		}
		if page, _ := db.ListImportRejects(ctx, job.ID, 3, 1); len(page) != 1 || page[0].Row != 150 {
			t.Fatalf("reject paging %+v", page)
		}
		jobs, err := db.ListImportJobs(ctx, 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs %+v, %v", jobs, err)
		}
		if err := db.RecordImportProgress(ctx, "imp_missing", store.ImportProgress{}, nil); routing.CodeOf(err) != "import_not_found" {
			t.Fatalf("missing job: %v", err)
		}
	})
}

func TestDocumentBatchesAndKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		blind := func(i int) string { return fmt.Sprintf("%064x", i) }
		var batch []store.ResidentDocument
		for i := range 40 {
			batch = append(batch, doc(fmt.Sprintf("did:eidgate:%d", i%10), blind(i), fmt.Sprintf("M****%02d", i)))
		}
		added, err := db.PutDocuments(ctx, batch)
		if err != nil || added != 40 {
			t.Fatalf("added %d, %v", added, err)
		}
		// A resumed import repeats a batch: nothing is added twice.
		repeat := append([]store.ResidentDocument(nil), batch[30:]...)
		for i := range repeat {
			repeat[i].Ref = ""
		}
		repeat = append(repeat, doc("did:eidgate:new", blind(99), "N****99"))
		added, err = db.PutDocuments(ctx, repeat)
		if err != nil || added != 1 {
			t.Fatalf("repeat added %d, %v", added, err)
		}
		found, err := db.FindDocumentsByBlind(ctx, []store.BlindIndex{{KeyVersion: "k1", Value: blind(3)},
			{KeyVersion: "k0", Value: blind(4)}, {KeyVersion: "k1", Value: blind(99)}})
		if err != nil || len(found) != 2 {
			t.Fatalf("found %d, %v", len(found), err)
		}
		// Rotate to k2, a page at a time.
		var after string
		rotated := 0
		for {
			page, err := db.DocumentsNotAtKeyVersion(ctx, "k2", after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			var ups []store.IndexUpdate
			for _, p := range page {
				if p.Ref <= after {
					t.Fatalf("page not in ref order: %s after %s", p.Ref, after)
				}
				ups = append(ups, store.IndexUpdate{Ref: p.Ref, KeyVersion: "k2", BlindValue: "2" + p.BlindValue[1:]})
				after = p.Ref
			}
			if err := db.SetDocumentIndexes(ctx, ups); err != nil {
				t.Fatal(err)
			}
			rotated += len(page)
		}
		if rotated != 41 {
			t.Fatalf("rotated %d documents, want 41", rotated)
		}
		if left, _ := db.DocumentsNotAtKeyVersion(ctx, "k2", "", 100); len(left) != 0 {
			t.Fatalf("%d documents left on old keys", len(left))
		}
		if _, err := db.FindDocumentByBlind(ctx, "k2", "2"+blind(5)[1:]); err != nil {
			t.Fatalf("rotated document not found: %v", err)
		}
		err = db.SetDocumentIndexes(ctx, []store.IndexUpdate{{Ref: batch[0].Ref, KeyVersion: "k3", BlindValue: blind(1)}, {Ref: "doc_missing", KeyVersion: "k3", BlindValue: blind(2)}})
		if routing.CodeOf(err) != "document_not_found" {
			t.Fatalf("update of a missing ref: %v", err)
		}
		if got, _ := db.GetDocument(ctx, batch[0].Ref); got.KeyVersion != "k2" {
			t.Fatal("a failed rotation batch was partly applied")
		}
	})
}

func TestSaveImportJobStoresTheWholeJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		sha := strings.Repeat("ab", 32)
		job, err := db.CreateImportJob(ctx, store.ImportJob{ID: sha, FileName: "f.csv", FileSHA256: sha, Total: 10})
		if err != nil || job.ID != sha {
			t.Fatalf("create %+v, %v", job, err)
		}
		if _, err := db.CreateImportJob(ctx, store.ImportJob{ID: sha, FileSHA256: sha}); routing.CodeOf(err) != "import_exists" {
			t.Fatalf("second job with the same id: %v", err)
		}
		job.Done, job.Created, job.Rejected, job.ResumeOffset = 10, 9, 1, 10
		job.Status, job.FinishedAt = store.ImportDone, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		if err := db.SaveImportJob(ctx, *job, []store.ImportReject{{Row: 4, Reason: "syntax", Message: "bad row"}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetImportJob(ctx, sha)
		if err != nil || got.Status != store.ImportDone || got.Done != 10 || got.Created != 9 || !got.FinishedAt.Equal(job.FinishedAt) {
			t.Fatalf("saved %+v, %v", got, err)
		}
		if rj, _ := db.ListImportRejects(ctx, sha, 0, 10); len(rj) != 1 || rj[0].Message != "bad row" {
			t.Fatalf("rejects %+v", rj)
		}
		job.ID = "imp_missing"
		if err := db.SaveImportJob(ctx, *job, nil); routing.CodeOf(err) != "import_not_found" {
			t.Fatalf("saving a missing job: %v", err)
		}
	})
}
