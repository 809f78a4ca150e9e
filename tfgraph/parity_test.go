package tfgraph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
)

// Parity with real TensorFlow: scripts/tf_reference.py builds the same nets
// with TensorFlow's Python ops and writes checkpoints and reference numbers.
// Relative error of a tensor: max|got−want| / max(max|want|, 1e-30).
const parityTol = 1e-4

var (
	pythonOnce sync.Once
	pythonPath string
	pythonWhy  string
)

// referencePython returns a Python with TensorFlow (TLEARN_PYTHON, else
// .cache/pyenv/bin/python under the module root) or skips the test.
func referencePython(t testing.TB) string {
	t.Helper()
	pythonOnce.Do(func() {
		py := os.Getenv("TLEARN_PYTHON")
		if py == "" {
			py = filepath.Join("..", ".cache", "pyenv", "bin", "python")
		}
		if abs, err := filepath.Abs(py); err == nil && strings.ContainsRune(py, filepath.Separator) {
			py = abs
		}
		out, err := exec.Command(py, "-c", "import tensorflow").CombinedOutput()
		if err != nil {
			pythonWhy = fmt.Sprintf("no Python TensorFlow reference at %s (set TLEARN_PYTHON or run make pydeps): %v %s", py, err, out)
			return
		}
		pythonPath = py
	})
	if pythonPath == "" {
		t.Skip(pythonWhy)
	}
	return pythonPath
}

type refStep struct {
	Step       int64   `json:"step"`
	Loss       float64 `json:"loss"`
	TotalLoss  float64 `json:"total_loss"`
	LR         float64 `json:"lr"`
	Dir        string  `json:"dir"`
	GlobalStep int64   `json:"global_step"`
	GradNorm   float64 `json:"grad_norm"` // global norm of the gradients, before any clipping
}

type reference struct {
	dir       string
	Arch      string             `json:"arch"`
	InputSize int                `json:"input_size"`
	Batch     int                `json:"batch"`
	Classes   int                `json:"classes"`
	Labels    []int32            `json:"labels"`
	Trainable string             `json:"trainable"`
	LR        float64            `json:"lr"`
	LREnd     float64            `json:"lr_end"`
	LRPower   float64            `json:"lr_power"`
	Decay     int64              `json:"decay_steps"`
	Momentum  float64            `json:"momentum"`
	WD        float64            `json:"weight_decay"`
	Variables map[string][]int64 `json:"variables"`
	Trained   []string           `json:"trained"`
	Steps     []refStep          `json:"steps"`
	TFVersion string             `json:"tf_version"`
}

// runReference runs scripts/tf_reference.py with args into a temp dir.
func runReference(t testing.TB, args ...string) *reference {
	t.Helper()
	return runScriptReference(t, "tf_reference.py", args...)
}

// runScriptReference runs scripts/SCRIPT (tf_reference.py or
// slim_reference.py, which write the same reference.json) with args into a
// temp dir.
func runScriptReference(t testing.TB, script string, args ...string) *reference {
	t.Helper()
	py := referencePython(t)
	dir := t.TempDir()
	cmd := exec.Command(py, append([]string{filepath.Join("..", "scripts", script), "--out", dir}, args...)...)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	var ref reference
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	ref.dir = dir
	return &ref
}

func (r *reference) f32(t testing.TB, rel string) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(b)), b)
	return out
}

func (r *reference) config() Config {
	return Config{
		Arch: r.Arch, NumClasses: r.Classes, InputSize: r.InputSize, Trainable: r.Trainable,
		LearningRate: r.LR, LearningRateEnd: r.LREnd, LRPower: r.LRPower, DecaySteps: r.Decay,
		Momentum: r.Momentum, WeightDecay: r.WD, DropoutKeep: 1, Seed: 3, SoftPlacement: true,
	}
}

func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var maxDiff, maxRef float64
	for i := range want {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-float64(want[i])))
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
	}
	return maxDiff / math.Max(maxRef, 1e-30)
}

// updateFloor: checkTraining compares a variable's update w−w0 after step k
// with TensorFlow's only when the update is at least k times this fraction
// of the variable's largest value. float32 weights carry ~1e-7 relative
// rounding, and each step's rounding of w may fall to a neighbouring value
// on either side: after k steps w−w0 is resolved to ~k units of rounding,
// 1% of an update of 1e-5 per step (mobilenet_v2's step 1, from equal
// weights and a bit-identical forward, already differs by 0.4% there).
const updateFloor = 1e-5

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

func flatten(x [][]float32) []float32 {
	var out []float32
	for _, r := range x {
		out = append(out, r...)
	}
	return out
}

func checkLogits(t *testing.T, m *Model, ref *reference, what string) {
	t.Helper()
	got, err := m.Logits(ref.f32(t, "input.f32"), ref.Batch)
	if err != nil {
		t.Fatal(err)
	}
	e := relErr(flatten(got), ref.f32(t, "logits.f32"))
	t.Logf("%s %s logits: relative error %.3g", ref.Arch, what, e)
	if e > parityTol {
		t.Errorf("%s %s logits: relative error %.3g > %g", ref.Arch, what, e, parityTol)
	}
}

// TestParityMini: logits from V1 and V2 checkpoints, then loss, learning rate
// and every variable after 1 and 3 momentum steps (dropout off).
func TestParityMini(t *testing.T) {
	ref := runReference(t, "--arch", "vgg_mini", "--input-size", "64", "--batch", "4", "--classes", "5", "--steps", "3")
	checkLogitsAndTraining(t, ref)
}

// loadReference returns a fresh Model of ref's configuration (changed by
// tune, if not nil) with the reference's checkpoint ckpt_FORMAT loaded.
func loadReference(t *testing.T, ref *reference, format string, tune func(*Config)) *Model {
	t.Helper()
	cfg := ref.config()
	if tune != nil {
		tune(&cfg)
	}
	m := newModel(t, cfg)
	if err := m.LoadAll(filepath.Join(ref.dir, "ckpt_"+format)); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkLogitsAndTraining: the logits of models loaded from the reference's
// V1 and V2 checkpoints equal TensorFlow's; fine-tuning from the V1 one
// restores all but the head (checkFineTuneRestore); then the V2 model
// trains the reference's steps (checkTraining).
func checkLogitsAndTraining(t *testing.T, ref *reference) {
	t.Helper()
	for _, f := range []string{"v1", "v2"} {
		m := loadReference(t, ref, f, nil)
		checkLogits(t, m, ref, "ckpt_"+f)
		if f == "v1" {
			checkFineTuneRestore(t, m, filepath.Join(ref.dir, "ckpt_v1"))
			m.Close()
			continue
		}
		checkTraining(t, m, ref)
	}
}

// readVariables reads the named float32 variables of m in one session run,
// as ReadVariable does one by one: every new set of fetches prunes and
// optimises the whole graph, and a run per variable was most of a big net's
// parity test (a minute for inception_v3's 388 variables).
func readVariables(t testing.TB, m *Model, names []string) map[string][]float32 {
	t.Helper()
	fetch := make([]tf.Output, len(names))
	for i, n := range names {
		v, ok := m.byName[n]
		if !ok {
			t.Fatalf("no variable %q", n)
		}
		if v.DType != tf.Float {
			t.Fatalf("variable %q: dtype %v, want float32", n, v.DType)
		}
		fetch[i] = v.Read
	}
	out, err := m.sess.Run(nil, fetch, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := make(map[string][]float32, len(names))
	for i, n := range names {
		var buf bytes.Buffer
		if _, err := out[i].WriteContentsTo(&buf); err != nil {
			t.Fatal(err)
		}
		vals[n] = make([]float32, buf.Len()/4)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals[n]))), buf.Len()), buf.Bytes())
	}
	return vals
}

func checkTraining(t *testing.T, m *Model, ref *reference) {
	t.Helper()
	input := ref.f32(t, "input.f32")
	names := slices.Sorted(maps.Keys(ref.Variables))
	initial := readVariables(t, m, names)
	trained := map[string]bool{}
	for _, n := range ref.Trained {
		trained[n] = true
	}
	step := int64(0)
	for _, rs := range ref.Steps {
		var res StepResult
		for step < rs.Step {
			var err error
			if res, err = m.TrainStep(input, ref.Labels, ref.Batch); err != nil {
				t.Fatal(err)
			}
			step++
		}
		if res.Step != rs.GlobalStep {
			t.Errorf("step %d: global step %d, want %d", rs.Step, res.Step, rs.GlobalStep)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"loss", float64(res.Loss), rs.Loss}, {"total loss", float64(res.TotalLoss), rs.TotalLoss}, {"learning rate", float64(res.LearningRate), rs.LR}} {
			e := math.Abs(c.got-c.want) / math.Abs(c.want)
			t.Logf("step %d %s: %v vs TF %v (rel %.3g)", rs.Step, c.name, c.got, c.want, e)
			if e > parityTol {
				t.Errorf("step %d %s = %v, TF %v: relative error %.3g", rs.Step, c.name, c.got, c.want, e)
			}
		}
		var worst, worstDelta float64
		var worstName, worstDeltaName string
		current := readVariables(t, m, names)
		for _, name := range names {
			got := current[name]
			want := ref.f32(t, filepath.Join(rs.Dir, strings.ReplaceAll(name, "/", "__")+".f32"))
			if !trained[name] {
				if e := relErr(got, initial[name]); e != 0 {
					t.Errorf("step %d: frozen %s changed (rel %.3g)", rs.Step, name, e)
				}
			}
			if e := relErr(got, want); e > worst {
				worst, worstName = e, name
			}
			if e := relErr(got, want); e > parityTol {
				t.Errorf("step %d %s: relative error %.3g", rs.Step, name, e)
			}
			// The update itself (w_k − w_0), a stricter check than the weights.
			dg, dw := make([]float32, len(got)), make([]float32, len(got))
			for i := range got {
				dg[i], dw[i] = got[i]-initial[name][i], want[i]-initial[name][i]
			}
			// An update below k·updateFloor of the weights' scale after k steps
			// is within ~100 float32 rounding steps a step: w−w0 of both sides
			// is then mostly rounding, and its relative error says little (the
			// weights themselves are compared above).
			if maxAbs(dw) < updateFloor*float64(rs.Step)*maxAbs(want) {
				continue
			}
			if e := relErr(dg, dw); trained[name] && e > worstDelta {
				worstDelta, worstDeltaName = e, name
			}
		}
		t.Logf("step %d: worst variable %s rel %.3g; worst update (w−w0) %s rel %.3g", rs.Step, worstName, worst, worstDeltaName, worstDelta)
		if worstDelta > 1e-2 {
			t.Errorf("step %d: update of %s differs from TF's by %.3g relative", rs.Step, worstDeltaName, worstDelta)
		}
	}
}

// TestParityMiniLastN: only the last 3 layers train; the rest stay bit-identical.
func TestParityMiniLastN(t *testing.T) {
	ref := runReference(t, "--arch", "vgg_mini", "--input-size", "32", "--batch", "2", "--classes", "3",
		"--steps", "2", "--record-steps", "2", "--trainable", "last-3", "--formats", "v2", "--seed", "5")
	m := newModel(t, ref.config())
	if err := m.LoadAll(filepath.Join(ref.dir, "ckpt_v2.index")); err != nil {
		t.Fatal(err)
	}
	checkLogits(t, m, ref, "last-3")
	checkTraining(t, m, ref)
}

// inference tunes a reference's configuration to an inference-only Model
// computing its 3×3 convs with algo.
func inference(algo string) func(*Config) {
	return func(c *Config) { c.ForInference, c.ConvAlgorithm = true, algo }
}

// TestParityVGG: VGG19 from a V1 checkpoint (as the published vgg_19.ckpt)
// and VGG16 from V2, 1000 classes at 224, batch 1.
func TestParityVGG(t *testing.T) {
	if testing.Short() {
		t.Skip("VGG16/19 at 224 px: skipped with -short")
	}
	for _, tc := range []struct{ arch, format string }{{"vgg_19", "v1"}, {"vgg_16", "v2"}} {
		t.Run(tc.arch, func(t *testing.T) {
			ref := runReference(t, "--arch", tc.arch, "--input-size", "224", "--batch", "1", "--classes", "1000",
				"--steps", "0", "--formats", tc.format)
			// Direct convolution is TensorFlow's computation; Winograd (the
			// CPU inference default for the wide layers) differs by rounding.
			for _, algo := range []string{ConvDirect, ConvWinograd} {
				m := loadReference(t, ref, tc.format, inference(algo))
				checkLogits(t, m, ref, tc.format+", "+algo+" convs")
				m.Close()
			}
		})
	}
}
