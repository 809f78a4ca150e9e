package tfgraph

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// randomizeVariables gives every model variable of m a seeded random value
// (the rules of scripts/slim_reference.py: He-normal weights, depthwise ones
// with fan-in k·k; batch-norm parameters and statistics far from 0/1), so
// that a full-size net's probabilities are far from uniform: its own
// initial values (moving statistics 0/1) let the MobileNets' activations
// vanish at inference.
func randomizeVariables(t testing.TB, m *Model, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 9))
	feeds := map[tf.Output]*tf.Tensor{}
	var targets []*tf.Operation
	for _, v := range m.vars {
		if !v.Role.Model() {
			continue
		}
		n := int64(1)
		for _, d := range v.Shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			switch v.Role {
			case slim.Weight:
				fanIn := n / v.Shape[len(v.Shape)-1]
				if strings.HasSuffix(v.Name, "/depthwise_weights") {
					fanIn = v.Shape[0] * v.Shape[1]
				}
				x[i] = float32(r.NormFloat64() * math.Sqrt(2/float64(fanIn)))
			case slim.Gamma:
				x[i] = float32(0.6 + 0.8*r.Float64())
			case slim.MovingVar:
				x[i] = float32(0.5 + 1.5*r.Float64())
			default:
				x[i] = float32(0.1 * r.NormFloat64())
			}
		}
		feeds[v.Restored] = varTensor(t, v, x)
		targets = append(targets, v.Assign)
	}
	if _, err := m.sess.Run(feeds, nil, targets); err != nil {
		t.Fatal(err)
	}
}

func varTensor(t testing.TB, v *slim.Var, x []float32) *tf.Tensor {
	t.Helper()
	tt, err := tf.NewTensor(x)
	if err == nil {
		err = tt.Reshape(v.Shape)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

// scaleHead multiplies the head's weights and biases by k: random body
// weights can give logits so far apart that the softmax is one-hot, and
// probabilities then compare nothing.
func scaleHead(t testing.TB, m *Model, k float32) {
	t.Helper()
	for _, v := range m.vars {
		if !v.Head {
			continue
		}
		x, _, err := m.ReadVariable(v.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			x[i] *= k
		}
		if _, err := m.sess.Run(map[tf.Output]*tf.Tensor{v.Restored: varTensor(t, v, x)}, nil, []*tf.Operation{v.Assign}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSavedModelPythonNets: resnet_v1_50 and mobilenet_v2 at 224 px (random
// weights and batch-norm statistics, the published checkpoints' classes),
// exported and loaded by Python TensorFlow (tf.saved_model.load,
// scripts/tf_savedmodel_check.py): serving_float's probabilities for one
// image equal the Model's inference path, what `tlearn predict` runs (its
// default --conv auto: Winograd for resnet's wide 3×3 convs, where the
// export has TensorFlow's direct ones).
func TestSavedModelPythonNets(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size nets at 224 px: skipped with -short")
	}
	for _, tc := range []struct {
		arch    string
		classes int
	}{
		{"resnet_v1_50", 1000},
		{"mobilenet_v2", 1001},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			const size = 224
			m := newModel(t, Config{Arch: tc.arch, NumClasses: tc.classes, InputSize: size, Seed: 4, ForInference: true, Device: "cpu"})
			randomizeVariables(t, m, 11)
			x := smBatch(1, size, 5)
			norm, _ := ArchNorm(tc.arch)
			for i := range x { // smBatch is RGB 0..255 minus the VGG means: the net's norm instead
				x[i] = (x[i] + imagenorm.MeanSubtract.Mean[i%3] - norm.Mean[i%3]) * norm.Scale
			}
			checkExportPython(t, m, x, 1)
		})
	}
}

// checkExportPython exports m and compares the probabilities Python
// TensorFlow's tf.saved_model.load gives for the n images x
// (scripts/tf_savedmodel_check.py, the serving_float signature) with
// m.Predict's: within 1e-5, the same top class. A random net's logits are
// first scaled down to a spread of at most 8 (its head weights) so that
// the softmax is neither one-hot nor uniform, which would prove little.
func checkExportPython(t *testing.T, m *Model, x []float32, n int) {
	t.Helper()
	logits, err := m.Logits(x, n)
	if err != nil {
		t.Fatal(err)
	}
	spread := 0.0
	for _, l := range logits {
		spread = max(spread, maxAbs(l))
	}
	if spread > 8 {
		scaleHead(t, m, float32(8/spread))
	}
	want, err := m.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	classes := m.Config().NumClasses
	dir := filepath.Join(t.TempDir(), "sm")
	if err := m.ExportSavedModel(dir, ExportOptions{Classes: smClasses(classes)}); err != nil {
		t.Fatal(err)
	}
	var py struct {
		Probs [][]float32 `json:"float_probabilities"`
	}
	testenv.SavedModelCheck(t, dir, &py, "--images", testenv.Float32File(t, x), "--n", strconv.Itoa(n), "--size", strconv.Itoa(m.Config().InputSize))
	if len(py.Probs) != n {
		t.Fatalf("python: %d rows of probabilities, want %d", len(py.Probs), n)
	}
	arch := m.Net().Name
	d := maxAbsDiff(py.Probs, want)
	for i := range want {
		top := argmax(want[i])
		t.Logf("%s image %d: top class %d p=%.4f; Python serving_float vs Model.Predict: max |Δp| %.3g", arch, i, top, want[i][top], d)
		if want[i][top] < 2/float32(classes) || want[i][top] > 0.99 {
			t.Errorf("%s image %d: top probability %.4g: the random net is near uniform or one-hot, the comparison would prove little", arch, i, want[i][top])
		}
		if argmax(py.Probs[i]) != top {
			t.Errorf("%s image %d: Python's top class %d, Model.Predict's %d", arch, i, argmax(py.Probs[i]), top)
		}
	}
	if d > 1e-5 {
		t.Errorf("%s: Python's probabilities differ from Model.Predict's by %g", arch, d)
	}
}
