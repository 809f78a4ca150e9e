package tfgraph

import (
	"path/filepath"
	"testing"
)

// TestParityResNetMini: resnet_mini (slim's resnet_v1 code with narrow
// blocks; scripts/slim_reference.py builds it with tf-slim itself) from V1
// and V2 checkpoints of random weights and batch-norm statistics, then loss,
// learning rate and every variable — the moving means and variances updated
// by the training batch included — after 1 and 3 momentum steps.
func TestParityResNetMini(t *testing.T) {
	ref := runScriptReference(t, "slim_reference.py", "--arch", "resnet_mini", "--input-size", "64", "--batch", "4",
		"--classes", "5", "--steps", "3")
	for _, f := range []string{"ckpt_v1", "ckpt_v2"} {
		m := newModel(t, ref.config())
		if err := m.LoadAll(filepath.Join(ref.dir, f)); err != nil {
			t.Fatal(err)
		}
		checkLogits(t, m, ref, f)
		if f == "ckpt_v1" {
			m.Close()
			continue
		}
		checkTraining(t, m, ref)
	}
}

// TestParityResNet50: resnet_v1_50 at 224 px from a V1 checkpoint (as the
// published resnet_v1_50.ckpt), one image, 1000 classes, direct and
// Winograd convs.
func TestParityResNet50(t *testing.T) {
	if testing.Short() {
		t.Skip("resnet_v1_50 at 224 px: skipped with -short")
	}
	ref := runScriptReference(t, "slim_reference.py", "--arch", "resnet_v1_50", "--input-size", "224", "--batch", "1",
		"--classes", "1000", "--formats", "v1")
	for _, algo := range []string{ConvDirect, ConvWinograd} {
		cfg := ref.config()
		cfg.ForInference = true
		cfg.ConvAlgorithm = algo
		m := newModel(t, cfg)
		if err := m.LoadAll(filepath.Join(ref.dir, "ckpt_v1")); err != nil {
			t.Fatal(err)
		}
		checkLogits(t, m, ref, "v1, "+algo+" convs")
		m.Close()
	}
}
