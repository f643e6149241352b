package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

func TestImportJobsAreSavedWholeWithTheirRejects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		sha := strings.Repeat("ab", 32)
		started := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		job := mapping.ImportJob{ID: sha, FileName: "f.csv", Status: mapping.ImportRunning, Total: 10, StartedAt: started}
		if _, err := db.Import(ctx, sha); routing.CodeOf(err) != "import_not_found" {
			t.Fatalf("Import before CreateImport: %v, want import_not_found", err)
		}
		if err := db.CreateImport(ctx, job, "admin:officer"); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateImport(ctx, job, "admin:officer"); routing.CodeOf(err) != "import_exists" {
			t.Fatalf("second job with the same id: %v, want import_exists", err)
		}

		// A committed batch with its rejects; saving it twice is harmless.
		job.Done, job.Created, job.Existing, job.Rejected = 6, 4, 1, 1
		batch := []mapping.ImportReject{{Row: 4, Masked: "1101****34", Reason: "checksum", Message: "bad check character"}}
		for range 2 {
			if err := db.SaveImport(ctx, job, batch); err != nil {
				t.Fatal(err)
			}
		}
		job.Done, job.Created, job.Rejected = 10, 7, 2
		job.Status, job.FinishedAt = mapping.ImportDone, started.Add(time.Minute)
		if err := db.SaveImport(ctx, job, []mapping.ImportReject{{Row: 9, Reason: "syntax", Message: "bad row"}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Import(ctx, sha)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			field     string
			got, want any
		}{
			{"status", got.Status, mapping.ImportDone}, {"file name", got.FileName, "f.csv"}, {"total", got.Total, int64(10)},
			{"done", got.Done, int64(10)}, {"created", got.Created, int64(7)}, {"existing", got.Existing, int64(1)},
			{"rejected", got.Rejected, int64(2)}, {"started", got.StartedAt, started}, {"finished", got.FinishedAt, job.FinishedAt},
		} {
			if c.got != c.want {
				t.Errorf("saved job's %s = %v, want %v", c.field, c.got, c.want)
			}
		}
		if got.UpdatedAt.IsZero() {
			t.Error("the saved job has no UpdatedAt")
		}
		var rejects []mapping.ImportReject
		if err := db.ImportRejects(ctx, sha, func(r mapping.ImportReject) error { rejects = append(rejects, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(rejects) != 2 {
			t.Errorf("len(rejects) = %v, want 2; rejects %+v, want row 4 (once) then row 9", len(rejects), rejects)
		} else if rejects[0] != batch[0] {
			t.Errorf("rejects[0] = %v, want batch[0]; rejects %+v, want row 4 (once) then row 9", rejects[0], rejects)
		} else if rejects[1].Row != 9 {
			t.Errorf("rejects[1].Row = %v, want 9; rejects %+v, want row 4 (once) then row 9", rejects[1].Row, rejects)
		}
		stop := errors.New("stop")
		if err := db.ImportRejects(ctx, sha, func(mapping.ImportReject) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("ImportRejects did not pass on the callback's error: %v", err)
		}
		jobs, err := db.Imports(ctx, 10)
		if err != nil {
			t.Errorf("err = %v, want nil; Imports = %+v, %v", err, jobs, err)
		} else if len(jobs) != 1 {
			t.Errorf("len(jobs) = %v, want 1; Imports = %+v, %v", len(jobs), jobs, err)
		} else if jobs[0].ID != sha {
			t.Errorf("jobs[0].ID = %v, want sha; Imports = %+v, %v", jobs[0].ID, jobs, err)
		}
		job.ID = strings.Repeat("cd", 32)
		if err := db.SaveImport(ctx, job, nil); routing.CodeOf(err) != "import_not_found" {
			t.Errorf("saving a missing job: %v, want import_not_found", err)
		}
		job.Status = mapping.ImportValidated
		if err := db.SaveImport(ctx, job, nil); !routing.IsKind(err, routing.KindInvalid) {
			t.Errorf("saving a dry run: %v, want invalid", err)
		}
	})
}

func TestImportRejectsArePagedInRowOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		sha := strings.Repeat("ef", 32)
		job := mapping.ImportJob{ID: sha, FileName: "big.csv", Status: mapping.ImportRunning}
		if err := db.CreateImport(ctx, job, "import"); err != nil {
			t.Fatal(err)
		}
		var rejects []mapping.ImportReject
		for row := int64(2500); row > 0; row-- {
			rejects = append(rejects, mapping.ImportReject{Row: row, Reason: "length"})
		}
		job.Done, job.Rejected = 2500, 2500
		if err := db.SaveImport(ctx, job, rejects); err != nil {
			t.Fatal(err)
		}
		var rows []int64
		if err := db.ImportRejects(ctx, sha, func(r mapping.ImportReject) error { rows = append(rows, r.Row); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2500 {
			t.Fatalf("%d rejects read over the pages, want 2500", len(rows))
		}
		for i, r := range rows {
			if r != int64(i+1) {
				t.Fatalf("reject %d is row %d, want %d (row order across pages)", i, r, i+1)
			}
		}
	})
}
