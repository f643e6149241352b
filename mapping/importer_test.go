package mapping_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

// The full numbers in testdata/import_mixed.*; none may appear in a log,
// error or report.
var mixedNumbers = []string{
	"110102195001022006", "110102195001022014", "110102195001022022", "L898902C3", "123456789",
	"110102195001022031", "110102195001022049", "110102195001022057", "H12345678", "110102195001022065", "12345678",
}

type wantReject struct {
	row    int64
	reason string
}

func TestImportMixedFile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		tests := []struct {
			file    string
			rejects []wantReject
		}{
			{"import_mixed.csv", []wantReject{{7, mapping.RejectDuplicate}, {8, string(mapping.ReasonChecksum)}, {9, mapping.RejectColumns}, {10, string(mapping.ReasonType)}, {11, mapping.RejectSyntax}, {13, mapping.RejectRef}}},
			{"import_mixed.jsonl", []wantReject{{6, mapping.RejectDuplicate}, {7, string(mapping.ReasonChecksum)}, {8, mapping.RejectColumns}, {9, string(mapping.ReasonType)}, {10, mapping.RejectSyntax}, {12, mapping.RejectRef}}},
		}
		for _, tc := range tests {
			t.Run(tc.file, func(t *testing.T) {
				f := newFixture(t, st.Fresh(t))
				f.secret(mixedNumbers...)
				// The first row's resident was registered at a KYC counter before.
				pre, err := f.svc.Create(ctxb, []mapping.Input{resident(1000)}, "officer")
				if err != nil {
					t.Fatal(err)
				}
				var progress []mapping.ImportJob
				var streamed []mapping.ImportReject
				job, err := f.im.Import(ctxb, mapping.ImportOptions{
					Path: filepath.Join("testdata", tc.file), BatchSize: 2, Parallel: 3, Officer: "officer",
					Progress: func(j mapping.ImportJob) { progress = append(progress, j) },
					OnReject: func(r mapping.ImportReject) { streamed = append(streamed, r) },
				})
				if err != nil {
					t.Fatal(err)
				}
				if job.Status != mapping.ImportDone {
					t.Fatalf("job.Status = %v, want mapping.ImportDone; job %+v", job.Status, job)
				}
				if job.Total != 13 {
					t.Fatalf("job.Total = %v, want 13; job %+v", job.Total, job)
				}
				if job.Done != 13 {
					t.Fatalf("job.Done = %v, want 13; job %+v", job.Done, job)
				}
				if job.Created != 6 {
					t.Fatalf("job.Created = %v, want 6; job %+v", job.Created, job)
				}
				if job.Existing != 1 {
					t.Fatalf("job.Existing = %v, want 1; job %+v", job.Existing, job)
				}
				if job.Rejected != 6 {
					t.Fatalf("job.Rejected = %v, want 6; job %+v", job.Rejected, job)
				}
				for i := 1; i < len(progress); i++ {
					if progress[i].Done < progress[i-1].Done {
						t.Fatalf("progress went back: %d after %d", progress[i].Done, progress[i-1].Done)
					}
				}
				if len(streamed) != 6 {
					t.Fatalf("streamed rejects %+v", streamed)
				}

				var report bytes.Buffer
				if err := f.im.WriteRejects(ctxb, job.ID, &report); err != nil {
					t.Fatal(err)
				}
				mustNotContain(t, "the reject report", report.String(), f.secrets)
				rows, err := csv.NewReader(&report).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 7 || strings.Join(rows[0], ",") != "row,masked_number,reason,message" {
					t.Fatalf("report %q", rows)
				}
				for i, want := range tc.rejects {
					got := rows[i+1]
					if got[0] != strconv.FormatInt(want.row, 10) || got[2] != want.reason || got[3] == "" {
						t.Fatalf("reject %d: %q, want row %d reason %s", i, got, want.row, want.reason)
					}
				}
				dup := rows[1]
				if dup[1] != "1101**********2014" || !strings.Contains(dup[3], "row "+strconv.FormatInt(tc.rejects[0].row-4, 10)) {
					t.Fatalf("duplicate reject %q", dup)
				}

				// Every valid row resolves; the pre-registered one to its eID.
				if eid, _ := f.svc.Find(ctxb, resident(1000)); eid != pre.EID {
					t.Fatalf("existing row resolves to %q", eid)
				}
				seen := map[string]bool{pre.EID: true}
				for _, d := range []mapping.Input{resident(1001), resident(1002), {Type: "passport", Number: "L898902C3", Country: "USA"},
					{Type: "passport", Number: "123456789", Country: "GBR"}, {Type: "hkmo-permit", Number: "H12345678"}, {Type: "tw-permit", Number: "12345678"}} {
					eid, err := f.svc.Find(ctxb, d)
					if err != nil || seen[eid] {
						t.Fatalf("imported %s: %q %v", d.Type, eid, err)
					}
					seen[eid] = true
				}
				stored := f.stored()
				if len(stored) != 7 {
					t.Fatalf("%d stored documents, want 7", len(stored))
				}
				for _, sd := range stored {
					if sd.EID != pre.EID {
						if sd.AddedBy != "import:"+job.ID {
							t.Fatalf("sd.AddedBy = %q, want %q; stored %+v", sd.AddedBy, "import:"+job.ID, sd)
						}
						if !strings.HasPrefix(sd.ExternalRef, "A-") {
							t.Fatalf("sd.ExternalRef = %q, want the prefix A-; stored %+v", sd.ExternalRef, sd)
						}
					}
				}

				// The same file again: the finished job, nothing submitted.
				calls := f.chain.count(model.FnCreateEIDs)
				again, err := f.im.Import(ctxb, mapping.ImportOptions{Path: filepath.Join("testdata", tc.file), Officer: "officer"})
				if err != nil {
					t.Fatalf("err = %v, want nil; rerun: %+v %v", err, again, err)
				}
				if again.ID != job.ID {
					t.Fatalf("again.ID = %v, want job.ID; rerun: %+v %v", again.ID, again, err)
				}
				if again.Status != mapping.ImportDone {
					t.Fatalf("again.Status = %v, want mapping.ImportDone; rerun: %+v %v", again.Status, again, err)
				}
				if again.Created != 6 {
					t.Fatalf("again.Created = %v, want 6; rerun: %+v %v", again.Created, again, err)
				}
				if f.chain.count(model.FnCreateEIDs) != calls {
					t.Fatal("rerunning a finished import went to the ledger")
				}
			})
		}
	})
}

// writeResidents writes an import file of n resident rows starting at
// number from, with a bad row every badEvery rows (0: none), and returns
// its path and the number of bad rows.
func writeResidents(t testing.TB, from, n, badEvery int) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("residents-%d-%d.csv", from, n))
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	fmt.Fprintln(w, "type,number,ref")
	bad := 0
	for i := range n {
		num := residentNumber(from + i)
		if badEvery > 0 && i%badEvery == badEvery-1 {
			num = num[:17] // too short
			bad++
		}
		fmt.Fprintf(w, "cn-resident,%s,R%d\n", num, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return path, bad
}

// A run cancelled in the middle, with batches committed on the ledger but
// not recorded, resumes on the same file and ends with exact totals.
func TestImportResumesAfterCrash(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		const n = 2400
		path, bad := writeResidents(t, 5000, n, 97)
		for i := range n {
			f.secret(residentNumber(5000 + i))
		}

		ctx, cancel := context.WithCancel(ctxb)
		var mu sync.Mutex
		commits := 0
		f.chain.afterCommit = func(fn string) {
			mu.Lock()
			defer mu.Unlock()
			if fn == model.FnCreateEIDs {
				commits++
				if commits == 7 {
					cancel() // this batch committed on the ledger; its answer is lost
				}
			}
		}
		job, err := f.im.Import(ctx, mapping.ImportOptions{Path: path, BatchSize: 100, Parallel: 4, Officer: "officer"})
		if !routing.IsKind(err, routing.KindUnavailable) || routing.CodeOf(err) != "import_interrupted" {
			t.Fatalf("cancelled run: %v", err)
		}
		stored, _ := f.db.Import(ctxb, job.ID)
		// How many finished batches were recorded before the cancel reached
		// the in-order progress writer depends on scheduling: none is possible.
		if stored.Status != mapping.ImportFailed {
			t.Fatalf("stored.Status = %v, want mapping.ImportFailed; interrupted job %+v", stored.Status, stored)
		}
		if !strings.Contains(stored.Error, "cancelled") {
			t.Fatalf("strings.Contains(stored.Error, \"cancelled\") is false; interrupted job %+v", stored)
		}
		if stored.Done < 0 {
			t.Fatalf("stored.Done = %v, want >= 0; interrupted job %+v", stored.Done, stored)
		}
		if stored.Done >= n {
			t.Fatalf("stored.Done = %v, want < n; interrupted job %+v", stored.Done, stored)
		}
		// The seventh batch is on the ledger but not in the recorded offset:
		// at most six batches of 100 valid rows (and their bad rows) are.
		if stored.Done > 6*100+6 {
			t.Fatalf("offset %d covers the batch whose answer was lost", stored.Done)
		}
		f.chain.afterCommit = nil

		job, err = f.im.Import(ctxb, mapping.ImportOptions{Path: path, BatchSize: 100, Parallel: 4, Officer: "officer"})
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != mapping.ImportDone {
			t.Fatalf("job.Status = %v, want mapping.ImportDone; resumed job %+v (want %d created, %d rejected)", job.Status, job, n-bad, bad)
		}
		if job.Done != n {
			t.Fatalf("job.Done = %v, want n; resumed job %+v (want %d created, %d rejected)", job.Done, job, n-bad, bad)
		}
		if job.Total != n {
			t.Fatalf("job.Total = %v, want n; resumed job %+v (want %d created, %d rejected)", job.Total, job, n-bad, bad)
		}
		if job.Created != int64(n-bad) {
			t.Fatalf("job.Created = %v, want int64(n-bad); resumed job %+v (want %d created, %d rejected)", job.Created, job, n-bad, bad)
		}
		if job.Existing != 0 {
			t.Fatalf("job.Existing = %v, want 0; resumed job %+v (want %d created, %d rejected)", job.Existing, job, n-bad, bad)
		}
		if job.Rejected != int64(bad) {
			t.Fatalf("job.Rejected = %v, want int64(bad); resumed job %+v (want %d created, %d rejected)", job.Rejected, job, n-bad, bad)
		}
		if got := len(f.stored()); got != n-bad {
			t.Fatalf("%d stored documents, want %d", got, n-bad)
		}
		var rejects int
		_ = f.db.ImportRejects(ctxb, job.ID, func(mapping.ImportReject) error { rejects++; return nil })
		if rejects != bad {
			t.Fatalf("%d rejects recorded, want %d", rejects, bad)
		}
		eids := map[string]bool{}
		for _, sd := range f.stored() {
			if eids[sd.EID] {
				t.Fatalf("eID %s holds two imported rows", sd.EID)
			}
			eids[sd.EID] = true
		}
		for _, i := range []int{0, 650, 1399, n - 1} {
			if i%97 == 96 {
				continue
			}
			eid, err := f.svc.Find(ctxb, resident(5000+i))
			if err != nil || !eids[eid] {
				t.Fatalf("row %d: %q %v", i, eid, err)
			}
		}
	})
}

// A file with rows already imported by another file counts them as
// existing, and a second import of the same rows creates nothing.
func TestImportOverlappingFiles(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		first, _ := writeResidents(t, 9000, 300, 0)
		second, _ := writeResidents(t, 9100, 300, 0)
		for i := range 400 {
			f.secret(residentNumber(9000 + i))
		}
		a, err := f.im.Import(ctxb, mapping.ImportOptions{Path: first, BatchSize: 64})
		if err != nil {
			t.Fatalf("err = %v, want nil; first: %+v %v", err, a, err)
		}
		if a.Created != 300 {
			t.Fatalf("a.Created = %v, want 300; first: %+v %v", a.Created, a, err)
		}
		b, err := f.im.Import(ctxb, mapping.ImportOptions{Path: second, BatchSize: 64})
		if err != nil {
			t.Fatalf("err = %v, want nil; second: %+v %v", err, b, err)
		}
		if b.Created != 100 {
			t.Fatalf("b.Created = %v, want 100; second: %+v %v", b.Created, b, err)
		}
		if b.Existing != 200 {
			t.Fatalf("b.Existing = %v, want 200; second: %+v %v", b.Existing, b, err)
		}
		if b.ID == a.ID {
			t.Fatalf("b.ID == a.ID, want it different; second: %+v %v", b, err)
		}
		if len(f.stored()) != 400 {
			t.Fatalf("%d stored documents", len(f.stored()))
		}
	})
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		f.secret(mixedNumbers...)
		var rejects []mapping.ImportReject
		job, err := f.im.Import(ctxb, mapping.ImportOptions{Path: filepath.Join("testdata", "import_mixed.csv"), DryRun: true,
			OnReject: func(r mapping.ImportReject) { rejects = append(rejects, r) }})
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != mapping.ImportValidated {
			t.Fatalf("job.Status = %v, want mapping.ImportValidated; dry run %+v", job.Status, job)
		}
		if job.Total != 13 {
			t.Fatalf("job.Total = %v, want 13; dry run %+v", job.Total, job)
		}
		if job.Done != 13 {
			t.Fatalf("job.Done = %v, want 13; dry run %+v", job.Done, job)
		}
		if job.Rejected != 6 {
			t.Fatalf("job.Rejected = %v, want 6; dry run %+v", job.Rejected, job)
		}
		if job.Created != 0 {
			t.Fatalf("job.Created = %v, want 0; dry run %+v", job.Created, job)
		}
		if job.Existing != 0 {
			t.Fatalf("job.Existing = %v, want 0; dry run %+v", job.Existing, job)
		}
		if len(rejects) != 6 || f.chain.count(model.FnCreateEIDs) != 0 || len(f.stored()) != 0 || len(f.jobs()) != 0 {
			t.Fatalf("dry run wrote: %d ledger calls, %d documents, %d jobs", f.chain.count(model.FnCreateEIDs), len(f.stored()), len(f.jobs()))
		}
		var buf bytes.Buffer
		rw := mapping.NewRejectWriter(&buf)
		for _, r := range rejects {
			if err := rw.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := rw.Flush(); err != nil {
			t.Fatal(err)
		}
		mustNotContain(t, "the dry-run report", buf.String(), f.secrets)
		if _, err := f.im.Job(ctxb, job.ID); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("a dry run left a job: %v", err)
		}
		// The same bytes from a reader (the CLI reading stdin) validate alike.
		body, _ := os.ReadFile(filepath.Join("testdata", "import_mixed.csv"))
		fromReader, err := f.im.Import(ctxb, mapping.ImportOptions{Reader: bytes.NewReader(body), DryRun: true})
		if err != nil {
			t.Fatalf("err = %v, want nil; dry run from a reader: %+v %v", err, fromReader, err)
		}
		if fromReader.ID != job.ID {
			t.Fatalf("fromReader.ID = %v, want job.ID; dry run from a reader: %+v %v", fromReader.ID, fromReader, err)
		}
		if fromReader.Rejected != 6 {
			t.Fatalf("fromReader.Rejected = %v, want 6; dry run from a reader: %+v %v", fromReader.Rejected, fromReader, err)
		}
		if fromReader.FileName != "upload" {
			t.Fatalf("fromReader.FileName = %q, want \"upload\"; dry run from a reader: %+v %v", fromReader.FileName, fromReader, err)
		}
		if left, _ := filepath.Glob(filepath.Join(f.spoolDir, "*")); len(left) != 0 {
			t.Fatalf("spool files left: %v", left)
		}
	})
}

// The gateway uploads a file and polls the job.
func TestImportStartInBackground(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		f.secret(mixedNumbers...)
		body, err := os.ReadFile(filepath.Join("testdata", "import_mixed.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		job, err := f.im.Start(ctxb, "upload.jsonl", bytes.NewReader(body), "officer")
		if err != nil {
			t.Fatal(err)
		}
		if job.FileName != "upload.jsonl" {
			t.Fatalf("job.FileName = %q, want \"upload.jsonl\"; started %+v", job.FileName, job)
		}
		if len(job.ID) != 64 {
			t.Fatalf("len(job.ID) = %v, want 64; started %+v", len(job.ID), job)
		}
		deadline := time.Now().Add(10 * time.Second)
		for job.Status != mapping.ImportDone {
			if time.Now().After(deadline) {
				t.Fatalf("import did not finish: %+v", job)
			}
			time.Sleep(10 * time.Millisecond)
			if job, err = f.im.Job(ctxb, job.ID); err != nil {
				t.Fatal(err)
			}
		}
		if job.Created != 7 {
			t.Fatalf("job.Created = %v, want 7; job %+v", job.Created, job)
		}
		if job.Rejected != 6 {
			t.Fatalf("job.Rejected = %v, want 6; job %+v", job.Rejected, job)
		}
		jobs, err := f.im.Jobs(ctxb, 10)
		if err != nil {
			t.Fatalf("err = %v, want nil; jobs %+v %v", err, jobs, err)
		}
		if len(jobs) != 1 {
			t.Fatalf("len(jobs) = %v, want 1; jobs %+v %v", len(jobs), jobs, err)
		}
		if jobs[0].ID != job.ID {
			t.Fatalf("jobs[0].ID = %v, want job.ID; jobs %+v %v", jobs[0].ID, jobs, err)
		}
		// The spooled copy goes as the job finishes (right after its
		// end is recorded).
		for {
			left, _ := filepath.Glob(filepath.Join(f.spoolDir, "*"))
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("spool files left: %v", left)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Uploading the same bytes again reports the finished job.
		again, err := f.im.Start(ctxb, "again.jsonl", bytes.NewReader(body), "officer")
		if err != nil {
			t.Fatalf("err = %v, want nil; again: %+v %v", err, again, err)
		}
		if again.ID != job.ID {
			t.Fatalf("again.ID = %v, want job.ID; again: %+v %v", again.ID, again, err)
		}
		if again.Status != mapping.ImportDone {
			t.Fatalf("again.Status = %v, want mapping.ImportDone; again: %+v %v", again.Status, again, err)
		}
		_, err = f.im.Job(ctxb, "not-an-id")
		checkErr(t, err, routing.KindInvalid, "invalid_import_id")
		_, err = f.im.Job(ctxb, strings.Repeat("0", 64))
		checkErr(t, err, routing.KindNotFound, "import_not_found")
	})
}

func TestImportStartRefusesAnOversizedUpload(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st storetest.DB) {
		f := newFixture(t, st)
		rec := httptest.NewRecorder()
		body := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(strings.Repeat("cn-resident,1\n", 100))), 64)
		_, err := f.im.Start(ctxb, "big.csv", body, "officer")
		checkErr(t, err, routing.KindInvalid, "file_too_large")
		if left, _ := filepath.Glob(filepath.Join(f.spoolDir, "*")); len(left) != 0 {
			t.Fatalf("spool files left: %v", left)
		}
	})
}
