package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tlearn/tlearn/tfgraph"
)

// TestResumeIsExactWithoutDropout: with dropout off and one TensorFlow
// thread, stopping and resuming gives bit-identical weights and momentum
// slots to an uninterrupted run (the light twin of make stress's
// TestCrashResume, which SIGKILLs the binary).
func TestResumeIsExactWithoutDropout(t *testing.T) {
	data := newDataset(t)
	ref := filepath.Join(t.TempDir(), "ref")
	o := smallOptions(t, data, ref)
	o.Steps, o.Threads, o.DropoutKeep, o.EvalEvery = 10, 1, 1, 1000
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "run")
	o.Out = out
	ctx, cancel := context.WithCancel(context.Background())
	o.Hooks = []Hook{&cancelAt{step: 3, cancel: cancel}}
	if _, err := Run(ctx, o); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	o.Hooks = nil
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}

	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize = 32
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	read := func(dir string) map[string][]float32 {
		if err := m.RestoreCheckpoint(filepath.Join(dir, "model.ckpt-10")); err != nil {
			t.Fatal(err)
		}
		vals := map[string][]float32{}
		for _, v := range m.Variables() {
			for _, n := range []string{v.Name, v.Name + "/Momentum"} {
				if x, _, err := m.ReadVariable(n); err == nil {
					vals[n] = x
				}
			}
		}
		return vals
	}
	want, got := read(ref), read(out)
	for n, w := range want {
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(got[n][i]) {
				t.Errorf("%s[%d]: %g resumed, %g uninterrupted", n, i, got[n][i], w[i])
				break
			}
		}
	}
}

func TestDropoutKeepValidation(t *testing.T) {
	for _, keep := range []float64{-0.5, 0, 1.5} {
		o := DefaultOptions()
		o.Data, o.Out, o.DropoutKeep = "d", "o", keep
		var ue *UsageError
		if err := o.Validate(); !errors.As(err, &ue) {
			t.Errorf("DropoutKeep %g: err = %v, want a UsageError", keep, err)
		}
	}
	if o := DefaultOptions(); o.DropoutKeep != 0.5 {
		t.Errorf("default DropoutKeep %g, want the recipe's 0.5", o.DropoutKeep)
	}
}

// TestResumeRemovesStaleTempFiles: a run killed during a save leaves
// TensorFlow's "*.tempstate*" parts (as large as the model) and atomic-write
// temp files; the next run over the RUN_DIR deletes them and nothing else.
func TestResumeRemovesStaleTempFiles(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	o := smallOptions(t, data, out)
	o.Steps, o.EvalEvery = 2, 2
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	stale := []string{
		"model.ckpt-3.data-00000-of-00001.tempstate1786384760057875304",
		"model.ckpt-3.index.tempstate42",
		".config.json.tmp-101098524",
		".checkpoint.tmp55",
		"best/model.ckpt-3.index.tempstate7",
	}
	keep := []string{"notes.txt", "model.ckpt-2.index", "best/best.json"}
	for _, f := range append(stale, "notes.txt") {
		if err := os.WriteFile(filepath.Join(out, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o.Steps = 3
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if _, err := os.Stat(filepath.Join(out, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s still there (%v)", f, err)
		}
	}
	for _, f := range keep {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
}

// TestNoGoroutineLeakAfterCancel: a cancelled train.Run stops every goroutine
// it started (pipeline workers, prefetch).
func TestNoGoroutineLeakAfterCancel(t *testing.T) {
	data := newDataset(t)
	o := smallOptions(t, data, filepath.Join(t.TempDir(), "run"))
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	o.Hooks = []Hook{&cancelAt{step: 2, cancel: cancel}}
	if _, err := Run(ctx, o); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after a cancelled run, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFailedSetupLeavesNoRunDir: bad --weights fail before training, and a
// RUN_DIR the run created is removed again (not left holding only LOCK).
func TestFailedSetupLeavesNoRunDir(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	o := smallOptions(t, data, out)
	o.Weights = filepath.Join(t.TempDir(), "nope.ckpt")
	if _, err := Run(context.Background(), o); err == nil {
		t.Fatal("no error for missing weights")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RUN_DIR left after a failed start: %v", err)
	}
	// An existing directory is kept.
	os.MkdirAll(out, 0o755)
	if _, err := Run(context.Background(), o); err == nil {
		t.Fatal("no error for missing weights")
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("existing --out removed: %v", err)
	}
}
