package train

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/tfgraph"
)

// stopAt is a library user's early-stopping hook: it calls Loop.Stop at step.
type stopAt struct {
	noopHook
	step int64
}

func (h *stopAt) Name() string { return "stop-at" }
func (h *stopAt) OnStep(l *Loop, s StepInfo) error {
	if s.Step == h.step {
		l.Stop("user hook")
	}
	return nil
}

// TestHookStopsEarly: a hook's Loop.Stop ends the run after that step with
// EndReason EarlyStopped and its reason, no error, and a checkpoint of that
// step (so the same options resume from there).
func TestHookStopsEarly(t *testing.T) {
	o := smallOptions(t, newDataset(t), filepath.Join(t.TempDir(), "run"))
	o.Steps, o.EvalEvery = 24, 100
	o.Hooks = []Hook{&stopAt{step: 5}}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.End != EarlyStopped || res.StopReason != "user hook" || res.Step != 5 {
		t.Errorf("result: end %d reason %q step %d; want EarlyStopped, \"user hook\", 5", res.End, res.StopReason, res.Step)
	}
	if ckpt, err := tfgraph.LatestCheckpoint(o.Out); err != nil || !strings.HasSuffix(ckpt, "model.ckpt-5") {
		t.Errorf("latest checkpoint %q, %v; want model.ckpt-5", ckpt, err)
	}
	o.Hooks = nil
	if res, err := Run(context.Background(), o); err != nil || res.End != Finished || res.Step != 24 || !res.Resumed {
		t.Errorf("resumed: %+v, %v; want finished at 24", res, err)
	}
}
