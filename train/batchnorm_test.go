package train

import (
	"testing"

	"github.com/tlearn/tlearn/rundir"
)

// TestBatchNormMode: --batch-norm auto is frozen when fine-tuning from
// weights, train from scratch, and a resumed run keeps the mode it recorded
// (train when it recorded none: the default before auto); an explicit mode
// is used as given.
func TestBatchNormMode(t *testing.T) {
	rec := func(bn, weights string) *rundir.Config {
		c := &rundir.Config{}
		c.Train.BatchNorm, c.Train.Weights = bn, weights
		return c
	}
	for _, tc := range []struct {
		name, flag, weights string
		prev                *rundir.Config
		want                string
	}{
		{"fine-tune", "auto", "vgg_19.ckpt", nil, "frozen"},
		{"scratch", "auto", "none", nil, "train"},
		{"explicit train", "train", "vgg_19.ckpt", nil, "train"},
		{"explicit frozen", "frozen", "none", nil, "frozen"},
		{"resume keeps train", "auto", "", rec("train", "ckpt"), "train"},
		{"resume keeps frozen", "auto", "none", rec("frozen", "none"), "frozen"},
		{"resume of an old scratch run", "auto", "", rec("", "none"), "train"},
		{"resume of an old fine-tune", "auto", "", rec("", "ckpt"), "train"},
		{"resume, explicit wins", "train", "", rec("frozen", "ckpt"), "train"},
	} {
		o := DefaultOptions()
		o.BatchNorm, o.Weights = tc.flag, tc.weights
		if got := batchNormMode(&o, tc.prev); got != tc.want {
			t.Errorf("%s: --batch-norm %s --weights %q: %s, want %s", tc.name, tc.flag, tc.weights, got, tc.want)
		}
	}
	if d := DefaultOptions().BatchNorm; d != BatchNormAuto {
		t.Errorf("default --batch-norm %q, want %q", d, BatchNormAuto)
	}
}
