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
