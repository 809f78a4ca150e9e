package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfevents"
	"github.com/tlearn/tlearn/tfgraph"
)

// smallOptions trains vgg_mini at 32 px on a generated 3-class dataset.
func smallOptions(t *testing.T, data, out string) Options {
	o := DefaultOptions()
	o.Data, o.Out, o.Arch, o.Weights, o.InputSize, o.Margin = data, out, "vgg_mini", "none", 32, 0.05
	o.Batch, o.ValBatch, o.Steps, o.LR, o.LREnd, o.LogEvery, o.EvalEvery = 8, 16, 24, 0.001, 1e-4, 4, 12
	o.Seed, o.Workers, o.Threads = 7, 2, 2
	o.Log, o.Progress = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
	return o
}

func newDataset(t *testing.T) string {
	data := filepath.Join(t.TempDir(), "data")
	testdata.Folders(t, data, 3, 16, 40, 1)
	return data
}

func TestTrainEndToEndAndResume(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	o := smallOptions(t, data, out)
	o.Steps = 24
	// First run: stop after step 12 via a hook that cancels the context, as Ctrl-C does.
	ctx, cancel := context.WithCancel(context.Background())
	o.Hooks = []Hook{&cancelAt{step: 12, cancel: cancel}}
	res, err := Run(ctx, o)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: err = %v, want ErrInterrupted", err)
	}
	if res.Step != 12 {
		t.Fatalf("interrupted at step %d, want 12", res.Step)
	}
	ckpt, err := tfgraph.LatestCheckpoint(out)
	if err != nil || !strings.HasSuffix(ckpt, "model.ckpt-12") {
		t.Fatalf("latest checkpoint after interrupt = %q, %v; want model.ckpt-12", ckpt, err)
	}
	for _, f := range []string{"config.json", "classes.txt", "best/best.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}

	// Same command again: resumes at step 12 and finishes at 24.
	o.Hooks = nil
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Step != 24 {
		t.Fatalf("resumed run: resumed=%v step=%d, want true 24", res.Resumed, res.Step)
	}
	if res.Val == nil || res.Val.Step != 24 || res.Val.N == 0 {
		t.Fatalf("no final validation at step 24: %+v", res.Val)
	}

	ev, err := tfevents.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	loss := ev["loss"]
	if len(loss) != 6 { // steps 4, 8, ..., 24
		t.Fatalf("loss logged at %d steps, want 6: %+v", len(loss), loss)
	}
	for i, p := range loss {
		if p.Step != int64(4*(i+1)) {
			t.Errorf("loss point %d at step %d, want %d", i, p.Step, 4*(i+1))
		}
	}
	// The input-wait gauge is logged with the loss, as a fraction.
	if iw := ev["input_wait"]; len(iw) != len(loss) {
		t.Errorf("input_wait logged at %d steps, want %d", len(iw), len(loss))
	} else {
		for _, p := range iw {
			if p.Value < 0 || p.Value > 1 {
				t.Errorf("input_wait %v at step %d outside 0..1", p.Value, p.Step)
			}
		}
	}
	// From scratch the input layer is scaled for its pixels
	// (Config.FromScratch): the cross-entropy starts near ln 3 and stays
	// there while these 24 steps learn little. The unscaled init started it
	// near 11 on this data (and diverged on real photos).
	for _, p := range loss {
		if !(p.Value > 0 && p.Value < 2*math.Log(3)) {
			t.Errorf("loss %.4f at step %d: want a finite cross-entropy near ln 3 = 1.10", p.Value, p.Step)
		}
	}
	for _, tag := range []string{"learning_rate", "images_per_sec", "val/top1", "val/top5"} {
		if len(ev[tag]) == 0 {
			t.Errorf("no %s in the events", tag)
		}
	}
	if v := ev["val/top1"]; len(v) < 2 || v[len(v)-1].Step != 24 {
		t.Errorf("val/top1 points %+v, want validations at 12 and 24", v)
	}
	checkWithTensorBoard(t, out, map[string][]int64{
		"loss": {4, 8, 12, 16, 20, 24}, "learning_rate": {4, 8, 12, 16, 20, 24}, "images_per_sec": {4, 8, 12, 16, 20, 24},
		"val/top1": {12, 24}, "val/top5": {12, 24},
	})

	cfg, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Arch != "vgg_mini" || len(cfg.Classes) != 3 || cfg.Train.TotalSteps != 24 {
		t.Errorf("config.json: %+v", cfg)
	}
	if _, err := os.Stat(filepath.Join(out, rundir.LockFile)); err != nil {
		t.Errorf("LOCK file: %v", err)
	}
}

// checkWithTensorBoard reads the run's event files with TensorBoard's own
// EventAccumulator (the code behind `tensorboard --logdir`) and checks that
// each tag has points at exactly the wanted steps, across the interrupted and
// the resumed run's files.
func checkWithTensorBoard(t *testing.T, dir string, want map[string][]int64) {
	t.Helper()
	script := `
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
acc.Reload()
print(json.dumps({tag: [e.step for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
`
	out := testenv.RunPython(t, "-c", script, dir)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got map[string][]int64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("TensorBoard reader output %q: %v", out, err)
	}
	for tag, steps := range want {
		if fmt.Sprint(got[tag]) != fmt.Sprint(steps) {
			t.Errorf("TensorBoard sees %s at steps %v, want %v", tag, got[tag], steps)
		}
	}
}

// cancelAt cancels the run's context when the step is reached.
type cancelAt struct {
	noopHook
	step   int64
	cancel context.CancelFunc
}

func (c *cancelAt) Name() string { return "cancel-at" }
func (c *cancelAt) OnStep(l *Loop, s StepInfo) error {
	if s.Step >= c.step {
		c.cancel()
	}
	return nil
}

func TestNaNLossStopsWithoutCheckpoint(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	o := smallOptions(t, data, out)
	o.LR, o.LREnd = 1e30, 1e30
	o.SaveEverySteps = 1
	_, err := Run(context.Background(), o)
	var nf *NonFiniteLossError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want NonFiniteLossError", err)
	}
	if !strings.Contains(err.Error(), "lower --lr") {
		t.Errorf("message does not say what to do: %v", err)
	}
	// Checkpoints saved before the NaN step are fine; none at or after it.
	if p, _ := tfgraph.LatestCheckpoint(out); p != "" {
		step := strings.TrimPrefix(filepath.Base(p), "model.ckpt-")
		if atoi(step) >= nf.Step {
			t.Errorf("checkpoint %s saved at/after the non-finite step %d", p, nf.Step)
		}
		if !strings.Contains(err.Error(), "resume from the last checkpoint, "+filepath.Base(p)) {
			t.Errorf("message does not name the checkpoint a rerun resumes from (%s): %v", filepath.Base(p), err)
		}
	}
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func TestUsageErrors(t *testing.T) {
	data := newDataset(t)
	tests := []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"no data", func(o *Options) { o.Data = "" }, "--data is required"},
		{"no weights", func(o *Options) { o.Weights = "" }, "--weights is required"},
		{"bad trainable", func(o *Options) { o.Trainable = "some" }, "--trainable"},
		{"bad lr", func(o *Options) { o.LR = -1 }, "--lr must be > 0"},
		{"batch too big", func(o *Options) { o.Batch = 1000 }, "fewer than one batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := smallOptions(t, data, filepath.Join(t.TempDir(), "run"))
			tt.mod(&o)
			_, err := Run(context.Background(), o)
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a UsageError mentioning %q", err, tt.want)
			}
		})
	}
}

func TestSecondRunIsRefusedWhileLocked(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	lock, err := rundir.Acquire(out)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	_, err = Run(context.Background(), smallOptions(t, data, out))
	if !errors.Is(err, rundir.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}
