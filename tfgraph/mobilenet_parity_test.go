package tfgraph

import (
	"path/filepath"
	"testing"
)

// TestParityMobileNetV2: mobilenet_v2 at 224 px (depthwise convs, inverted
// residuals, ReLU6) from a V2 checkpoint of random weights and batch-norm
// statistics that Python TF writes (scripts/mobilenet_reference.py), one
// image, the published checkpoint's 1001 classes, on the inference path
// (which has no Winograd conv here: the only 3×3 conv has stride 2).
func TestParityMobileNetV2(t *testing.T) {
	if testing.Short() {
		t.Skip("mobilenet_v2 at 224 px: skipped with -short")
	}
	ref := runScriptReference(t, "mobilenet_reference.py", "--arch", "mobilenet_v2", "--input-size", "224", "--batch", "1",
		"--classes", "1001", "--formats", "v2")
	cfg := ref.config()
	cfg.ForInference = true
	m := newModel(t, cfg)
	if err := m.LoadAll(filepath.Join(ref.dir, "ckpt_v2")); err != nil {
		t.Fatal(err)
	}
	checkLogits(t, m, ref, "v2")
	m.Close()
}
