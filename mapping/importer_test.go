package mapping

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
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/routing"
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
	tests := []struct {
		file    string
		rejects []wantReject
	}{
		{"import_mixed.csv", []wantReject{{7, RejectDuplicate}, {8, string(ReasonChecksum)}, {9, RejectColumns}, {10, string(ReasonType)}, {11, RejectSyntax}, {13, RejectRef}}},
		{"import_mixed.jsonl", []wantReject{{6, RejectDuplicate}, {7, string(ReasonChecksum)}, {8, RejectColumns}, {9, string(ReasonType)}, {10, RejectSyntax}, {12, RejectRef}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t)
			f.secret(mixedNumbers...)
			// The first row's resident was registered at a KYC counter before.
			pre, err := f.svc.Create(ctxb, []gateway.Document{resident(1000)}, "officer")
			if err != nil {
				t.Fatal(err)
			}
			var progress []gateway.ImportJob
			var streamed []ImportReject
			job, err := f.im.Import(ctxb, ImportOptions{
				Path: filepath.Join("testdata", tc.file), BatchSize: 2, Parallel: 3, Officer: "officer",
				Progress: func(j gateway.ImportJob) { progress = append(progress, j) },
				OnReject: func(r ImportReject) { streamed = append(streamed, r) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if job.Status != ImportDone || job.Total != 13 || job.Done != 13 || job.Created != 6 || job.Existing != 1 || job.Rejected != 6 {
				t.Fatalf("job %+v", job)
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
			for _, d := range []gateway.Document{resident(1001), resident(1002), {Type: "passport", Number: "L898902C3", Country: "USA"},
				{Type: "passport", Number: "123456789", Country: "GBR"}, {Type: "hkmo-permit", Number: "H12345678"}, {Type: "tw-permit", Number: "12345678"}} {
				eid, err := f.svc.Find(ctxb, d)
				if err != nil || seen[eid] {
					t.Fatalf("imported %s: %q %v", d.Type, eid, err)
				}
				seen[eid] = true
			}
			stored := f.docs.all()
			if len(stored) != 7 {
				t.Fatalf("%d stored documents, want 7", len(stored))
			}
			for _, sd := range stored {
				if sd.EID != pre.EID && (sd.AddedBy != "import:"+job.ID || !strings.HasPrefix(sd.ExternalRef, "A-")) {
					t.Fatalf("stored %+v", sd)
				}
			}

			// The same file again: the finished job, nothing submitted.
			calls := f.chain.count(model.FnCreateEIDs)
			again, err := f.im.Import(ctxb, ImportOptions{Path: filepath.Join("testdata", tc.file), Officer: "officer"})
			if err != nil || again.ID != job.ID || again.Status != ImportDone || again.Created != 6 {
				t.Fatalf("rerun: %+v %v", again, err)
			}
			if f.chain.count(model.FnCreateEIDs) != calls {
				t.Fatal("rerunning a finished import went to the ledger")
			}
		})
	}
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
	f := newFixture(t)
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
	job, err := f.im.Import(ctx, ImportOptions{Path: path, BatchSize: 100, Parallel: 4, Officer: "officer"})
	if !routing.IsKind(err, routing.KindUnavailable) || routing.CodeOf(err) != "import_interrupted" {
		t.Fatalf("cancelled run: %v", err)
	}
	stored, _ := f.jobs.Import(ctxb, job.ID)
	// How many finished batches were recorded before the cancel reached
	// the in-order progress writer depends on scheduling: none is possible.
	if stored.Status != ImportFailed || !strings.Contains(stored.Error, "cancelled") || stored.Done < 0 || stored.Done >= n {
		t.Fatalf("interrupted job %+v", stored)
	}
	// The seventh batch is on the ledger but not in the recorded offset:
	// at most six batches of 100 valid rows (and their bad rows) are.
	if stored.Done > 6*100+6 {
		t.Fatalf("offset %d covers the batch whose answer was lost", stored.Done)
	}
	f.chain.afterCommit = nil

	job, err = f.im.Import(ctxb, ImportOptions{Path: path, BatchSize: 100, Parallel: 4, Officer: "officer"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != ImportDone || job.Done != n || job.Total != n || job.Created != int64(n-bad) || job.Existing != 0 || job.Rejected != int64(bad) {
		t.Fatalf("resumed job %+v (want %d created, %d rejected)", job, n-bad, bad)
	}
	if got := len(f.docs.all()); got != n-bad {
		t.Fatalf("%d stored documents, want %d", got, n-bad)
	}
	var rejects int
	_ = f.jobs.ImportRejects(ctxb, job.ID, func(ImportReject) error { rejects++; return nil })
	if rejects != bad {
		t.Fatalf("%d rejects recorded, want %d", rejects, bad)
	}
	eids := map[string]bool{}
	for _, sd := range f.docs.all() {
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
}

// A file with rows already imported by another file counts them as
// existing, and a second import of the same rows creates nothing.
func TestImportOverlappingFiles(t *testing.T) {
	f := newFixture(t)
	first, _ := writeResidents(t, 9000, 300, 0)
	second, _ := writeResidents(t, 9100, 300, 0)
	for i := range 400 {
		f.secret(residentNumber(9000 + i))
	}
	a, err := f.im.Import(ctxb, ImportOptions{Path: first, BatchSize: 64})
	if err != nil || a.Created != 300 {
		t.Fatalf("first: %+v %v", a, err)
	}
	b, err := f.im.Import(ctxb, ImportOptions{Path: second, BatchSize: 64})
	if err != nil || b.Created != 100 || b.Existing != 200 || b.ID == a.ID {
		t.Fatalf("second: %+v %v", b, err)
	}
	if len(f.docs.all()) != 400 {
		t.Fatalf("%d stored documents", len(f.docs.all()))
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.secret(mixedNumbers...)
	var rejects []ImportReject
	job, err := f.im.Import(ctxb, ImportOptions{Path: filepath.Join("testdata", "import_mixed.csv"), DryRun: true,
		OnReject: func(r ImportReject) { rejects = append(rejects, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != ImportValidated || job.Total != 13 || job.Done != 13 || job.Rejected != 6 || job.Created != 0 || job.Existing != 0 {
		t.Fatalf("dry run %+v", job)
	}
	if len(rejects) != 6 || f.chain.count(model.FnCreateEIDs) != 0 || len(f.docs.all()) != 0 || len(f.jobs.jobs) != 0 {
		t.Fatalf("dry run wrote: %d ledger calls, %d documents, %d jobs", f.chain.count(model.FnCreateEIDs), len(f.docs.all()), len(f.jobs.jobs))
	}
	var buf bytes.Buffer
	rw := NewRejectWriter(&buf)
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
	fromReader, err := f.im.Import(ctxb, ImportOptions{Reader: bytes.NewReader(body), DryRun: true})
	if err != nil || fromReader.ID != job.ID || fromReader.Rejected != 6 || fromReader.FileName != "upload" {
		t.Fatalf("dry run from a reader: %+v %v", fromReader, err)
	}
	if left, _ := filepath.Glob(filepath.Join(f.im.spoolDir, "*")); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
}

// The gateway uploads a file and polls the job.
func TestImportStartInBackground(t *testing.T) {
	f := newFixture(t)
	f.secret(mixedNumbers...)
	body, err := os.ReadFile(filepath.Join("testdata", "import_mixed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	job, err := f.im.Start(ctxb, "upload.jsonl", bytes.NewReader(body), "officer")
	if err != nil {
		t.Fatal(err)
	}
	if job.FileName != "upload.jsonl" || len(job.ID) != 64 {
		t.Fatalf("started %+v", job)
	}
	deadline := time.Now().Add(10 * time.Second)
	for job.Status != ImportDone {
		if time.Now().After(deadline) {
			t.Fatalf("import did not finish: %+v", job)
		}
		time.Sleep(10 * time.Millisecond)
		if job, err = f.im.Job(ctxb, job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if job.Created != 7 || job.Rejected != 6 {
		t.Fatalf("job %+v", job)
	}
	jobs, err := f.im.Jobs(ctxb, 10)
	if err != nil || len(jobs) != 1 || jobs[0].ID != job.ID {
		t.Fatalf("jobs %+v %v", jobs, err)
	}
	// The spooled copy is gone once the job finished.
	if left, _ := filepath.Glob(filepath.Join(f.im.spoolDir, "*")); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
	// Uploading the same bytes again reports the finished job.
	again, err := f.im.Start(ctxb, "again.jsonl", bytes.NewReader(body), "officer")
	if err != nil || again.ID != job.ID || again.Status != ImportDone {
		t.Fatalf("again: %+v %v", again, err)
	}
	_, err = f.im.Job(ctxb, "not-an-id")
	checkErr(t, err, routing.KindInvalid, "invalid_import_id")
	_, err = f.im.Job(ctxb, strings.Repeat("0", 64))
	checkErr(t, err, routing.KindNotFound, "import_not_found")
}

func TestDetectImportFormat(t *testing.T) {
	tests := []struct {
		name, head string
		want       ImportFormat
	}{
		{"a.csv", `{"type":"x"}`, FormatCSV},
		{"a.CSV", "", FormatCSV},
		{"a.jsonl", "type,number", FormatJSONL},
		{"a.ndjson", "", FormatJSONL},
		{"upload", "\ufeff  {\"type\":\"cn-resident\"}", FormatJSONL},
		{"upload", "cn-resident,110102195001022006", FormatCSV},
		{"", "", FormatCSV},
	}
	for _, tc := range tests {
		if got := DetectImportFormat(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("DetectImportFormat(%q, %q) = %s, want %s", tc.name, tc.head, got, tc.want)
		}
	}
}

func readAllRows(t testing.TB, format ImportFormat, data string) []importRow {
	t.Helper()
	rr, err := newRowReader(format, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var rows []importRow
	for {
		var row importRow
		if err := rr.next(&row); err != nil {
			break
		}
		rows = append(rows, row)
	}
	return rows
}

func TestCSVColumns(t *testing.T) {
	tests := []struct {
		name, data string
		want       []importRow
	}{
		{"no header", "cn-resident,N1,R1\npassport,N2,R2,USA\n",
			[]importRow{{line: 1, in: Input{Type: "cn-resident", Number: "N1"}, ref: "R1"}, {line: 2, in: Input{Type: "passport", Number: "N2", Country: "USA"}, ref: "R2"}}},
		{"semicolons are not separators", "number;x\n", []importRow{{line: 1, in: Input{Type: "number;x"}}}},
		{"named columns", "Country,Number,Document_Type\nUSA,N1,passport\n",
			[]importRow{{line: 2, in: Input{Type: "passport", Number: "N1", Country: "USA"}}}},
		{"bom and crlf", "\ufefftype,number\r\ncn-resident, N1 \r\n\r\n",
			[]importRow{{line: 2, in: Input{Type: "cn-resident", Number: "N1 "}}}},
		{"quoted field with a line break", "cn-resident,\"N\n1\",R\ncn-resident,N2\n",
			[]importRow{{line: 1, in: Input{Type: "cn-resident", Number: "N\n1"}, ref: "R"}, {line: 3, in: Input{Type: "cn-resident", Number: "N2"}}}},
		{"bare quote then more", "cn-resident,N\"1\ncn-resident,N2\n",
			[]importRow{{line: 1, bad: RejectSyntax, badMsg: "not a CSV record: a quote inside an unquoted field"}, {line: 2, in: Input{Type: "cn-resident", Number: "N2"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readAllRows(t, FormatCSV, tc.data)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestJSONLRows(t *testing.T) {
	long := `{"type":"cn-resident","number":"` + strings.Repeat("1", 70<<10) + `"}`
	data := "\ufeff" + `{"type":"passport","number":"N1","country":"USA","ref":"R1","extra":1}` + "\n\n" +
		long + "\n" + `{"type":"cn-resident","number":123}` + "\n" + `[1,2]` + "\n" + `{"type":"cn-resident","number":"N2"}`
	got := readAllRows(t, FormatJSONL, data)
	if len(got) != 5 {
		t.Fatalf("rows %+v", got)
	}
	if got[0].line != 1 || got[0].in != (Input{Type: Passport, Number: "N1", Country: "USA"}) || got[0].ref != "R1" {
		t.Fatalf("row 1 %+v", got[0])
	}
	for i, line := range []int64{3, 4, 5} {
		if got[i+1].line != line || got[i+1].bad != RejectSyntax || strings.Contains(got[i+1].badMsg, "123") {
			t.Fatalf("row %d: line %d, reject %q %q", line, got[i+1].line, got[i+1].bad, got[i+1].badMsg)
		}
	}
	if got[4].line != 6 || got[4].in.Number != "N2" {
		t.Fatalf("last row %+v", got[4])
	}
}

// FuzzImportRows feeds arbitrary files to both readers: they end, number
// lines upwards, and a row they cannot read is rejected with a message
// that quotes none of the input.
func FuzzImportRows(f *testing.F) {
	for _, name := range []string{"import_mixed.csv", "import_mixed.jsonl"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("type,number\n\"unterminated\n"))
	f.Add([]byte("{\"number\": \"9\xff\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []ImportFormat{FormatCSV, FormatJSONL} {
			rr, err := newRowReader(format, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			last := int64(0)
			for n := 0; ; n++ {
				if n > len(data)+1 {
					t.Fatalf("%s: more rows than bytes", format)
				}
				var row importRow
				if err := rr.next(&row); err != nil {
					break
				}
				if row.line < 1 || row.line < last {
					t.Fatalf("%s: line %d after %d", format, row.line, last)
				}
				last = row.line
				if row.bad != "" && row.badMsg == "" {
					t.Fatalf("%s: reject without a message", format)
				}
				if reason, msg := checkRow(&row); reason != "" && digits(row.in.Number) >= 6 && strings.Contains(msg, row.in.Number) {
					t.Fatalf("%s: reject message quotes the number", format)
				}
			}
		}
	})
}

func digits(s string) int {
	n := 0
	for _, c := range s {
		if '0' <= c && c <= '9' {
			n++
		}
	}
	return n
}

func TestImportStartRefusesAnOversizedUpload(t *testing.T) {
	f := newFixture(t)
	rec := httptest.NewRecorder()
	body := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(strings.Repeat("cn-resident,1\n", 100))), 64)
	_, err := f.im.Start(ctxb, "big.csv", body, "officer")
	checkErr(t, err, routing.KindInvalid, "file_too_large")
	if left, _ := filepath.Glob(filepath.Join(f.im.spoolDir, "*")); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
}

// With batches finishing out of order, the recorded offset only ever
// covers the contiguous prefix of finished batches, and an error stops it
// where that prefix ends.
func TestCommitAdvancesOverContiguousPrefix(t *testing.T) {
	tests := []struct {
		name    string
		results []batchResult
		want    []int64 // Done after each recorded batch
		err     bool
	}{
		{"in order", []batchResult{{seq: 0, end: 10}, {seq: 1, end: 20}, {seq: 2, end: 30}}, []int64{10, 20, 30}, false},
		{"out of order", []batchResult{{seq: 2, end: 30}, {seq: 0, end: 10}, {seq: 1, end: 20}}, []int64{10, 20, 30}, false},
		{"gap then error", []batchResult{{seq: 0, end: 10}, {seq: 2, end: 30}, {seq: 1, err: fmt.Errorf("ledger down")}}, []int64{10}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs := newMemJobs()
			job := &gateway.ImportJob{ID: strings.Repeat("a", 64)}
			_ = jobs.CreateImport(ctxb, *job, "officer")
			var done []int64
			run := &importRun{im: &Importer{jobs: jobs}, job: job, started: time.Now(),
				progress: func(j gateway.ImportJob) { done = append(done, j.Done) }}
			ch := make(chan batchResult, len(tc.results))
			for _, r := range tc.results {
				r.rejects = []ImportReject{{Row: r.end}}
				ch <- r
			}
			close(ch)
			err := run.commit(ctxb, ch)
			if (err != nil) != tc.err || fmt.Sprint(done) != fmt.Sprint(tc.want) {
				t.Fatalf("done %v err %v, want %v", done, err, tc.want)
			}
			stored, _ := jobs.Import(ctxb, job.ID)
			if stored.Done != tc.want[len(tc.want)-1] || stored.Rejected != int64(len(tc.want)) {
				t.Fatalf("stored %+v", stored)
			}
		})
	}
}
