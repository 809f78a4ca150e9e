package nets_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testenv"
)

// TestMobileNetNames: mobilenet_v1, mobilenet_v2 and mobilenet_v2_140 have
// exactly the variable names and shapes, in creation order, of the TF-Slim
// structure scripts/mobilenet_reference.py builds with tf-slim's layers
// (MobileNet is not in the tf-slim package), with the 1001-class head of the
// published checkpoints under Logits.
func TestMobileNetNames(t *testing.T) {
	for _, tc := range []struct {
		arch string
		// Weights, biases, beta and gamma (no moving statistics): Keras
		// applications' trainable counts of the same nets at 1000 classes
		// (4,231,976; 3,504,872; 6,108,776) plus the 1001st class's row.
		params int64
	}{
		{"mobilenet_v1", 4231976 + 1024 + 1},
		{"mobilenet_v2", 3504872 + 1280 + 1},
		{"mobilenet_v2_140", 6108776 + 1792 + 1},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			checkNames(t, "mobilenet_reference.py", tc.arch, 224, 1001, "Logits/Conv2d_1c_1x1")
			var n int64
			for _, v := range buildVars(t, tc.arch, 224, 1001) {
				if !strings.HasPrefix(v.Name[strings.LastIndex(v.Name, "/")+1:], "moving_") {
					p := int64(1)
					for _, d := range v.Shape {
						p *= d
					}
					n += p
				}
			}
			if n != tc.params {
				t.Errorf("%s: %d parameters, want %d", tc.arch, n, tc.params)
			}
		})
	}
}

// checkNames compares the variables of arch at size px with those
// scripts/SCRIPT --names-only writes: the same names in the same order, the
// same shapes, and Head set exactly on the layer head (under the net's scope).
func checkNames(t *testing.T, script, arch string, size, classes int, head string) {
	t.Helper()
	dir := t.TempDir()
	testenv.RunPython(t, filepath.Join(testenv.ModuleRoot(t), "scripts", script), "--out", dir, "--arch", arch,
		"--input-size", itoa(size), "--classes", itoa(classes), "--names-only")
	var ref struct {
		Names  []string           `json:"names"`
		Shapes map[string][]int64 `json:"shapes"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "variables.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	var got []string
	heads := 0
	for _, v := range buildVars(t, arch, size, classes) {
		got = append(got, v.Name)
		if want := ref.Shapes[v.Name]; want != nil && !slices.Equal(v.Shape, want) {
			t.Errorf("%s: shape %v, reference %v", v.Name, v.Shape, want)
		}
		if v.Head != strings.HasSuffix(v.Layer, "/"+head) {
			t.Errorf("%s: Head %v", v.Name, v.Head)
		}
		if v.Head {
			heads++
		}
	}
	if heads != 2 {
		t.Errorf("%d head variables, want weights and biases", heads)
	}
	if !slices.Equal(got, ref.Names) {
		t.Errorf("%d variables, reference has %d; first difference: %s", len(got), len(ref.Names), firstDiff(got, ref.Names))
	}
	t.Logf("%s: %d variables match the reference's", arch, len(got))
}
