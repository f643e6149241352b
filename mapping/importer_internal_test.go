package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recordingJobs keeps the last saved state of each job and every reject,
// as a job store would, for tests of the importer's own bookkeeping.
type recordingJobs struct {
	jobs    map[string]ImportJob
	rejects []ImportReject
}

func (r *recordingJobs) CreateImport(_ context.Context, job ImportJob, _ string) error {
	if r.jobs == nil {
		r.jobs = map[string]ImportJob{}
	}
	r.jobs[job.ID] = job
	return nil
}

func (r *recordingJobs) Import(_ context.Context, id string) (*ImportJob, error) {
	j := r.jobs[id]
	return &j, nil
}

func (r *recordingJobs) Imports(context.Context, int) ([]ImportJob, error) { return nil, nil }

func (r *recordingJobs) SaveImport(_ context.Context, job ImportJob, rejects []ImportReject) error {
	r.jobs[job.ID] = job
	r.rejects = append(r.rejects, rejects...)
	return nil
}

func (r *recordingJobs) ImportRejects(context.Context, string, func(ImportReject) error) error {
	return nil
}

// With batches finishing out of order, the recorded offset only ever
// covers the contiguous prefix of finished batches, and an error stops it
// where that prefix ends. Batches already finished when the committer
// takes one are recorded with it in one save.
func TestCommitAdvancesOverContiguousPrefix(t *testing.T) {
	tests := []struct {
		name    string
		results []batchResult
		want    []int64 // Done after each save
		batches int64   // batches recorded (one reject each)
		err     bool
	}{
		{"in order", []batchResult{{seq: 0, end: 10}, {seq: 1, end: 20}, {seq: 2, end: 30}}, []int64{30}, 3, false},
		{"out of order", []batchResult{{seq: 2, end: 30}, {seq: 0, end: 10}, {seq: 1, end: 20}}, []int64{30}, 3, false},
		{"a gap at the end", []batchResult{{seq: 0, end: 10}, {seq: 2, end: 30}}, []int64{10}, 1, false},
		{"gap then error", []batchResult{{seq: 0, end: 10}, {seq: 2, end: 30}, {seq: 1, err: fmt.Errorf("ledger down")}}, []int64{10}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs := &recordingJobs{}
			job := &ImportJob{ID: strings.Repeat("a", 64)}
			_ = jobs.CreateImport(context.Background(), *job, "officer")
			var done []int64
			run := &importRun{im: &Importer{jobs: jobs}, job: job, started: time.Now(),
				progress: func(j ImportJob) { done = append(done, j.Done) }}
			ch := make(chan batchResult, len(tc.results))
			for _, r := range tc.results {
				r.rejects = []ImportReject{{Row: r.end}}
				ch <- r
			}
			close(ch)
			err := run.commit(context.Background(), ch)
			if (err != nil) != tc.err || fmt.Sprint(done) != fmt.Sprint(tc.want) {
				t.Fatalf("done %v err %v, want %v", done, err, tc.want)
			}
			stored, _ := jobs.Import(context.Background(), job.ID)
			if stored.Done != tc.want[len(tc.want)-1] {
				t.Fatalf("stored.Done = %v, want tc.want[len(tc.want)-1]; stored %+v", stored.Done, stored)
			}
			if stored.Rejected != tc.batches || int64(len(jobs.rejects)) != tc.batches {
				t.Fatalf("stored.Rejected = %v, %d rejects stored, want %d; stored %+v", stored.Rejected, len(jobs.rejects), tc.batches, stored)
			}
		})
	}
}

// A committer that keeps up saves each batch as it comes.
func TestCommitSavesEachBatchWhenCaughtUp(t *testing.T) {
	jobs := &recordingJobs{}
	job := &ImportJob{ID: strings.Repeat("b", 64)}
	_ = jobs.CreateImport(context.Background(), *job, "officer")
	ch := make(chan batchResult)
	saved := make(chan int64)
	run := &importRun{im: &Importer{jobs: jobs}, job: job, started: time.Now(),
		progress: func(j ImportJob) { saved <- j.Done }}
	errc := make(chan error, 1)
	go func() { errc <- run.commit(context.Background(), ch) }()
	for i := range 3 {
		ch <- batchResult{seq: i, end: int64(10 * (i + 1)), rejects: []ImportReject{{Row: int64(i)}}}
		if done := <-saved; done != int64(10*(i+1)) {
			t.Fatalf("save %d recorded Done %d, want %d", i, done, 10*(i+1))
		}
	}
	close(ch)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(jobs.rejects) != 3 || jobs.jobs[job.ID].Done != 30 {
		t.Fatalf("stored %+v with %d rejects", jobs.jobs[job.ID], len(jobs.rejects))
	}
}
