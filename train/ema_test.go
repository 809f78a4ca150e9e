package train

import (
	"context"
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/tlearn/tlearn/infer"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// TestEMARunPredictsWithAverages: a run with --ema records it in
// config.json, and predicting from its RUN_DIR gives the probabilities of
// its checkpoint's moving averages (a training model restored from the same
// checkpoint with the averages swapped in), not of its raw weights.
func TestEMARunPredictsWithAverages(t *testing.T) {
	data := newDataset(t)
	out := filepath.Join(t.TempDir(), "run")
	o := smallOptions(t, data, out)
	o.Steps, o.EMA, o.DropoutKeep = 8, 0.9, 1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	cfg, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Train.EMA != 0.9 {
		t.Fatalf("config.json ema %v, want 0.9", cfg.Train.EMA)
	}
	ckpt, err := tfgraph.LatestCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	img := make([]float32, 2*32*32*3)
	for i := range img {
		img[i] = float32(r.NormFloat64() * 50)
	}
	c, err := infer.Open(infer.OpenOptions{Model: out, Checkpoint: "latest", Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Predict(img, 2)
	if err != nil {
		t.Fatal(err)
	}
	mc := tfgraph.DefaultConfig("vgg_mini", len(cfg.Classes))
	mc.InputSize, mc.EMADecay, mc.DecaySteps = 32, 0.9, 8
	m, err := tfgraph.NewModel(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.RestoreCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	raw, err := m.Predict(img, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SwapAverages(); err != nil {
		t.Fatal(err)
	}
	avg, err := m.Predict(img, 2)
	if err != nil {
		t.Fatal(err)
	}
	var dAvg, dRaw float64
	for i := range got {
		for j := range got[i] {
			dAvg = max(dAvg, math.Abs(float64(got[i][j]-avg[i][j])))
			dRaw = max(dRaw, math.Abs(float64(got[i][j]-raw[i][j])))
		}
	}
	if dAvg > 1e-5 || dRaw == 0 {
		t.Errorf("predict from the RUN_DIR is %g from the averages' probabilities and %g from the raw weights'", dAvg, dRaw)
	}
}
