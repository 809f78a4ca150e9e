package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfevents"
)

// TestFP16RunLogsLossScale: an fp16 run (TensorFlow's float16 emulation
// here) records its precision in config.json and writes the loss scale and
// the skipped-step count to TensorBoard at every log step; resuming it in
// fp32 is recorded as a change.
func TestFP16RunLogsLossScale(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	o := smallOptions(t, data, out)
	o.Precision, o.Steps = "fp16", 8
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	cfg, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Train.Precision != "fp16" {
		t.Errorf("config.json precision %q, want fp16", cfg.Train.Precision)
	}
	ev, err := tfevents.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	scales, skipped := ev["loss_scale"], ev["skipped_steps"]
	if len(scales) != 2 || len(skipped) != 2 { // LogEvery 4 over 8 steps
		t.Fatalf("loss_scale logged %d times, skipped_steps %d: want 2 each", len(scales), len(skipped))
	}
	for _, p := range scales {
		if !(p.Value >= 1 && p.Value <= 1<<15) {
			t.Errorf("loss scale %v at step %d: want within [1, 2^15] (halved from 2^15 on overflows)", p.Value, p.Step)
		}
	}

	o.Precision, o.Steps, o.Weights = "fp32", 12, ""
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	cfg, err = rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cfg.Changes {
		found = found || c.Key == "precision" && c.From == "fp16" && c.To == "fp32"
	}
	if !found {
		t.Errorf("the resume in fp32 is not recorded as a change: %+v", cfg.Changes)
	}
}
