package train

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tlearn/tlearn/tfevents"
)

// TestInputWaitGauge: input_wait is the waited share of the step times the
// hook was given, per LogEvery window, in the log line's source and in
// TensorBoard; the input-bound warning comes once, only after warm-up, only
// over 10%.
func TestInputWaitGauge(t *testing.T) {
	dir := t.TempDir()
	ev, err := tfevents.NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l := &Loop{Opts: &Options{LogEvery: 10, Workers: 1}, TotalSteps: 80, Events: ev,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := &inputWaitHook{}
	step := int64(0)
	feed := func(n int, wait, total time.Duration) {
		for range n {
			step++
			if err := h.OnStep(l, StepInfo{Step: step, StepTime: total, InputWait: wait}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Warm-up: 10 steps waiting half the time (pipeline start) — not judged.
	feed(10, 50*time.Millisecond, 100*time.Millisecond)
	if got := h.fraction(); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("window 1: input_wait %v, want 0.5", got)
	}
	// Steps 11-30: 5% waiting — below the threshold.
	feed(20, 5*time.Millisecond, 100*time.Millisecond)
	if got := h.fraction(); math.Abs(got-0.05) > 1e-9 {
		t.Errorf("window 3: input_wait %v, want 0.05", got)
	}
	if strings.Contains(logs.String(), "input-bound") {
		t.Fatalf("warned during warm-up or at 5%%: %s", logs.String())
	}
	// Steps 31-50: 30% waiting → one warning naming --workers; 51-80: again, no
	// second warning.
	feed(20, 30*time.Millisecond, 100*time.Millisecond)
	feed(30, 60*time.Millisecond, 100*time.Millisecond)
	if n := strings.Count(logs.String(), "training is input-bound"); n != 1 {
		t.Fatalf("%d input-bound warnings, want 1: %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "input_wait=0.30") || !strings.Contains(logs.String(), "steps=31-50") {
		t.Errorf("warning does not give the judged window's fraction and steps: %s", logs.String())
	}
	if strings.Count(logs.String(), "--workers") != 1 && !strings.Contains(logs.String(), "every core") {
		t.Errorf("warning gives no advice: %s", logs.String())
	}
	if err := ev.Close(); err != nil {
		t.Fatal(err)
	}
	pts, err := tfevents.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.5, 0.05, 0.05, 0.3, 0.3, 0.6, 0.6, 0.6}
	got := pts["input_wait"]
	if len(got) != len(want) {
		t.Fatalf("input_wait logged %d times, want %d: %+v", len(got), len(want), got)
	}
	for i, p := range got {
		if p.Step != int64(10*(i+1)) || math.Abs(p.Value-want[i]) > 1e-6 {
			t.Errorf("input_wait point %d = step %d value %v, want step %d value %v", i, p.Step, p.Value, 10*(i+1), want[i])
		}
	}
}
