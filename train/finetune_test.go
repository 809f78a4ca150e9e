package train

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfevents"
)

// TestHeadEpochsResumeAcrossSwitch: --head-epochs trains only the head
// first (the body's learning rate logged as 0), then the body at
// --body-lr-mult times the head's; config.json records both; a run
// interrupted inside the head phase and resumed ends with exactly the same
// losses and validation as an uninterrupted one (dropout off).
func TestHeadEpochsResumeAcrossSwitch(t *testing.T) {
	data := newDataset(t)
	run := func(out string, stopAt int64) (*Result, map[string][]tfevents.Point) {
		o := smallOptions(t, data, out)
		o.Steps, o.LogEvery, o.EvalEvery, o.DropoutKeep = 12, 2, 12, 1
		o.HeadEpochs, o.BodyLRMult = 0.5, 0.25
		if stopAt > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			o.Hooks = []Hook{&cancelAt{step: stopAt, cancel: cancel}}
			if _, err := Run(ctx, o); !errors.Is(err, ErrInterrupted) {
				t.Fatalf("interrupted run: %v", err)
			}
			o.Hooks = nil
		}
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := tfevents.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		return res, ev
	}
	outA := filepath.Join(t.TempDir(), "a")
	resA, evA := run(outA, 0)
	cfg, err := rundir.ReadConfig(outA)
	if err != nil {
		t.Fatal(err)
	}
	head := cfg.Train.HeadSteps
	if head < 2 || head >= 12 || cfg.Train.BodyLRMult == nil || *cfg.Train.BodyLRMult != 0.25 {
		t.Fatalf("config.json head_steps %d body_lr_mult %v: want 0.5 epoch in steps, 0.25", head, cfg.Train.BodyLRMult)
	}
	for _, p := range evA["learning_rate_body"] {
		lr := lrAt(t, evA, p.Step)
		if p.Step <= head && p.Value != 0 || p.Step > head && !(p.Value > 0.2499*lr && p.Value < 0.2501*lr) {
			t.Errorf("step %d (head phase to %d): body lr %v with lr %v", p.Step, head, p.Value, lr)
		}
	}
	resB, evB := run(filepath.Join(t.TempDir(), "b"), head-1)
	if resA.Val == nil || resB.Val == nil || *resA.Val != *resB.Val {
		t.Errorf("validation after the resumed run %+v, uninterrupted %+v", resB.Val, resA.Val)
	}
	la, lb := evA["loss"], evB["loss"]
	a, b := la[len(la)-1], lb[len(lb)-1]
	if a.Step != 12 || b.Step != 12 || a.Value != b.Value {
		t.Errorf("last loss of the resumed run %v at step %d, uninterrupted %v at step %d", b.Value, b.Step, a.Value, a.Step)
	}
}

func lrAt(t *testing.T, ev map[string][]tfevents.Point, step int64) float64 {
	for _, p := range ev["learning_rate"] {
		if p.Step == step {
			return p.Value
		}
	}
	t.Fatalf("no learning_rate at step %d", step)
	return 0
}
