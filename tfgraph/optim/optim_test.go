package optim_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/tfgraph/optim"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// reference runs scripts/optim_reference.py on spec and decodes its JSON into out.
func reference(t *testing.T, spec any, out any) {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	resf := filepath.Join(t.TempDir(), "result.json")
	testenv.RunPython(t, filepath.Join(testenv.ModuleRoot(t), "scripts", "optim_reference.py"), f, resf)
	res, err := os.ReadFile(resf)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("decode reference: %v", err)
	}
}

// relErr is max|got−want| / max(max|want|, 1e-30).
func relErr(got, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	return d / math.Max(m, 1e-30)
}

type optCase struct {
	Kind        string  `json:"kind"`
	Momentum    float64 `json:"momentum"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Epsilon     float64 `json:"epsilon"`
	Rho         float64 `json:"rho"`
	WeightDecay float64 `json:"weight_decay"`
	Restore     string  `json:"restore,omitempty"`

	opt optim.Optimizer
}

// TestOptimizersMatchTensorFlow trains a dense layer three steps with each
// optimizer and compares every variable, slots and Adam's beta powers
// included, by name and value with tf.compat.v1.train's optimizers.
func TestOptimizersMatchTensorFlow(t *testing.T) {
	x := [][]float32{{0.5, -1, 2}, {1.5, 0.3, -0.7}, {-0.2, 0.8, 1.1}, {2, -0.5, 0.4}}
	y := [][]float32{{1, 0}, {0, 1}, {0.5, -0.5}, {-1, 2}}
	w0 := [][]float32{{0.1, -0.2}, {0.3, 0.05}, {-0.4, 0.25}}
	b0 := []float32{0.01, -0.02}
	const lr, steps = 0.05, 3
	cases := []optCase{
		{Kind: "momentum", Momentum: 0.9, opt: optim.Momentum{Momentum: 0.9}},
		{Kind: "nesterov", Momentum: 0.9, opt: optim.Momentum{Momentum: 0.9, Nesterov: true}},
		{Kind: "adam", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, opt: optim.Adam{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}},
		{Kind: "adamw", Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-7, WeightDecay: 0.5, opt: optim.Adam{Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-7, WeightDecay: 0.5}},
		{Kind: "rmsprop", Rho: 0.9, Momentum: 0.5, Epsilon: 1e-10, opt: optim.RMSProp{Rho: 0.9, Momentum: 0.5, Epsilon: 1e-10}},
	}
	var want [][]map[string][]float64
	reference(t, map[string]any{"mode": "optimizers", "x": x, "y": y, "w": w0, "b": b0, "lr": lr, "steps": steps, "cases": cases}, &want)
	got := make([][]map[string][]float64, len(cases))
	ckdir := t.TempDir()
	for ci, c := range cases {
		prefix := filepath.Join(ckdir, c.Kind, "model.ckpt-2")
		got[ci] = runDense(t, c.opt, x, y, w0, b0, lr, steps, prefix)
		cases[ci].Restore = prefix
	}
	// TensorFlow restores each checkpoint tlearn saved after step 2 into
	// its own optimizer and takes step 3.
	var resumed [][]map[string][]float64
	reference(t, map[string]any{"mode": "optimizers", "x": x, "y": y, "w": w0, "b": b0, "lr": lr, "steps": 1, "cases": cases}, &resumed)
	for ci, c := range cases {
		t.Run(c.Kind, func(t *testing.T) {
			for k := range steps {
				compareVars(t, fmt.Sprintf("step %d", k+1), got[ci][k], want[ci][k])
			}
			compareVars(t, "TensorFlow's step 3 from tlearn's checkpoint", got[ci][2], resumed[ci][0])
		})
	}
}

// compareVars checks that got and want hold the same variables (names,
// slots included) with values within 1e-5 relative.
func compareVars(t *testing.T, what string, got, want map[string][]float64) {
	t.Helper()
	gn, wn := keys(got), keys(want)
	if !slices.Equal(gn, wn) {
		t.Fatalf("%s: variables %v, TensorFlow has %v", what, gn, wn)
	}
	for _, n := range wn {
		if e := relErr(got[n], want[n]); e > 1e-5 {
			t.Errorf("%s %s: rel err %.2g: got %v want %v", what, n, e, got[n], want[n])
		}
	}
}

func keys(m map[string][]float64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// runDense trains loss = mean((x·w + b − y)²) with o and returns every
// variable after each step; after step 2 it saves them all to prefix.
func runDense(t *testing.T, o optim.Optimizer, x, y, w0 [][]float32, b0 []float32, lr float32, steps int, prefix string) []map[string][]float64 {
	s := op.NewScope()
	vs := slim.NewVars(s, 1)
	w := vs.Get("dense/kernel", []int64{3, 2}, tf.Float, slim.Weight, "dense", slim.Zeros)
	b := vs.Get("dense/bias", []int64{2}, tf.Float, slim.Bias, "dense", slim.Zeros)
	pred := op.AddV2(s, op.MatMul(s, op.Const(s.SubScope("x"), x), w.Read), b.Read)
	d := op.Sub(s, pred, op.Const(s.SubScope("y"), y))
	loss := op.Mean(s, op.Square(s, d), op.Const(s.SubScope("axes"), []int32{0, 1}))
	grads := op.Gradients(s.SubScope("gradients"), []tf.Output{loss}, []tf.Output{w.Read, b.Read})
	ups := o.Apply(s.SubScope("train"), vs, []*slim.Var{w, b}, grads, optim.Same(op.Const(s.SubScope("lr"), lr), 2))
	step := s.WithControlDependencies(ups...).AddOperation(tf.OpSpec{Type: "NoOp", Name: "step"})
	setW := op.AssignVariableOp(s.SubScope("set_w"), w.Handle, op.Const(s.SubScope("w0"), w0))
	setB := op.AssignVariableOp(s.SubScope("set_b"), b.Handle, op.Const(s.SubScope("b0"), b0))
	all := vs.All()
	pf := op.Placeholder(s.SubScope("prefix"), tf.String, op.PlaceholderShape(tf.ScalarShape()))
	saver := slim.SaverOps(s.SubScope("save"), all, pf)
	var reads []tf.Output
	for _, v := range all {
		reads = append(reads, v.Read)
	}
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var inits []*tf.Operation
	for _, v := range all {
		inits = append(inits, v.Init)
	}
	if _, err := sess.Run(nil, nil, inits); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{setW, setB}); err != nil {
		t.Fatal(err)
	}
	var out []map[string][]float64
	for k := range steps {
		if _, err := sess.Run(nil, nil, []*tf.Operation{step}); err != nil {
			t.Fatal(err)
		}
		if k == 1 {
			pt, _ := tf.NewTensor(prefix)
			if _, err := sess.Run(map[tf.Output]*tf.Tensor{pf: pt}, nil, []*tf.Operation{saver.Save}); err != nil {
				t.Fatal(err)
			}
		}
		vals, err := sess.Run(nil, reads, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]float64{}
		for i, v := range all {
			m[v.Name] = flatten(vals[i].Value())
		}
		out = append(out, m)
	}
	return out
}

func flatten(v any) []float64 {
	switch x := v.(type) {
	case float32:
		return []float64{float64(x)}
	case []float32:
		out := make([]float64, len(x))
		for i, f := range x {
			out[i] = float64(f)
		}
		return out
	case [][]float32:
		var out []float64
		for _, r := range x {
			out = append(out, flatten(r)...)
		}
		return out
	}
	panic("unexpected tensor type")
}

type schedCase struct {
	Kind       string  `json:"kind"`
	LR         float64 `json:"lr"`
	End        float64 `json:"end"`
	DecaySteps int64   `json:"decay_steps"`
	Warmup     int64   `json:"warmup"`
	Every      int64   `json:"every"`
	Gamma      float64 `json:"gamma"`

	sched optim.Schedule
}

// TestSchedulesMatchTensorFlow compares the learning rate at every step
// with polynomial_decay, cosine_decay and exponential_decay(staircase),
// plain and after a linear warmup.
func TestSchedulesMatchTensorFlow(t *testing.T) {
	const steps = 30
	warm := func(peak float64, n int64, then optim.Schedule) optim.Schedule {
		return optim.Warmup{Peak: peak, Steps: n, Then: then}
	}
	cases := []schedCase{
		{Kind: "poly", LR: 0.1, End: 1e-4, DecaySteps: 25, sched: optim.Polynomial{Initial: 0.1, End: 1e-4, Power: 1, Steps: 25}},
		{Kind: "poly", LR: 0.1, End: 1e-4, DecaySteps: 20, Warmup: 5, sched: warm(0.1, 5, optim.Polynomial{Initial: 0.1, End: 1e-4, Power: 1, Steps: 20})},
		{Kind: "cosine", LR: 0.01, End: 1e-5, DecaySteps: 25, sched: optim.Cosine{Initial: 0.01, End: 1e-5, Steps: 25}},
		{Kind: "cosine", LR: 0.01, End: 0.001, DecaySteps: 22, Warmup: 3, sched: warm(0.01, 3, optim.Cosine{Initial: 0.01, End: 0.001, Steps: 22})},
		{Kind: "step", LR: 0.1, Every: 7, Gamma: 0.5, DecaySteps: 1, sched: optim.Step{Initial: 0.1, Gamma: 0.5, Every: 7}},
		{Kind: "step", LR: 0.1, Every: 4, Gamma: 0.1, DecaySteps: 1, Warmup: 6, sched: warm(0.1, 6, optim.Step{Initial: 0.1, Gamma: 0.1, Every: 4})},
		{Kind: "constant", LR: 0.03, DecaySteps: 1, Warmup: 10, sched: warm(0.03, 10, optim.Constant{LR0: 0.03})},
	}
	var want [][]float64
	reference(t, map[string]any{"mode": "schedules", "steps": steps, "cases": cases}, &want)
	for ci, c := range cases {
		s := op.NewScope()
		step := op.Placeholder(s.SubScope("step"), tf.Int64, op.PlaceholderShape(tf.ScalarShape()))
		lr := c.sched.LR(s, step)
		g, err := s.Finalize()
		if err != nil {
			t.Fatal(err)
		}
		sess, err := tf.NewSession(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, steps)
		for i := range steps {
			st, _ := tf.NewTensor(int64(i))
			out, err := sess.Run(map[tf.Output]*tf.Tensor{step: st}, []tf.Output{lr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got[i] = float64(out[0].Value().(float32))
		}
		sess.Close()
		for i := range steps {
			if e := math.Abs(got[i]-want[ci][i]) / math.Max(math.Abs(want[ci][i]), 1e-12); e > 1e-5 {
				t.Errorf("%s warmup %d step %d: lr %.8g, TensorFlow %.8g (rel %.2g)", c.Kind, c.Warmup, i, got[i], want[ci][i], e)
			}
		}
	}
}
