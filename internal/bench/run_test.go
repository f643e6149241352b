package bench

import (
	"context"
	"testing"
	"time"
)

func TestNewRunnerRefusesZeroConfig(t *testing.T) {
	t.Parallel()
	if r, err := NewRunner(Config{}); err == nil {
		t.Fatalf("NewRunner(Config{}) = %v, want an error", r)
	}
	open := func(context.Context, string) (*InProcess, error) { return nil, nil }
	if r, err := NewRunner(Config{OpenInProcess: open}); err == nil {
		t.Fatalf("NewRunner without connections = %v, want an error", r)
	}
	r, err := NewRunner(Config{OpenInProcess: open, Plan: PlanFor(true, false, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if r.exe == "" {
		t.Error("the executable of the children defaults to none, want this process's")
	}
	if r.log == nil {
		t.Error("the progress writer defaults to nil, want a discarding writer")
	}
}

func TestPlanFor(t *testing.T) {
	t.Parallel()
	quick := PlanFor(true, false, 1)
	if quick.Load != 4*time.Second {
		t.Errorf("quick Load = %s, want 4s", quick.Load)
	}
	if quick.ImportRows != 20_000 {
		t.Errorf("quick ImportRows = %d, want 20000", quick.ImportRows)
	}
	scaled := PlanFor(true, false, 0.01)
	if scaled.Load != 200*time.Millisecond {
		t.Errorf("scaled Load = %s, want the 200ms floor", scaled.Load)
	}
	if scaled.ImportRows != 1000 {
		t.Errorf("scaled ImportRows = %d, want the 1000 floor", scaled.ImportRows)
	}
}

// The first and the last tenth's rates come from the commits that
// straddle them; too few batches give none.
func TestImportMarksTenths(t *testing.T) {
	var m importMarks
	// 1,000 rows in batches of 50: the first batch after a slow start,
	// then 100 rows/s up to 200 rows, faster after, 50 rows/s from 900.
	at := 3 * time.Second
	m.add(at, 50)
	for rows := int64(100); rows <= 1000; rows += 50 {
		switch {
		case rows <= 200:
			at += 500 * time.Millisecond
		case rows <= 900:
			at += 100 * time.Millisecond
		default:
			at += time.Second
		}
		m.add(at, rows)
	}
	first, last := m.tenths(1000)
	if first != 100 || last != 50 {
		t.Errorf("tenths = %v, %v; want 100 and 50 rows/s", first, last)
	}
	var few importMarks
	few.add(time.Second, 500)
	few.add(2*time.Second, 1000)
	if f, l := few.tenths(1000); f != 0 || l != 0 {
		t.Errorf("two batches: %v, %v; want none", f, l)
	}
}
