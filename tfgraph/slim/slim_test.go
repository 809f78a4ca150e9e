package slim

import (
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// TestVarsGetOrCreate: two forwards of one conv share its variables by
// name; asking for a name again with another shape is an error; head
// scopes mark their variables; batch-norm variables belong to the conv's
// layer.
func TestVarsGetOrCreate(t *testing.T) {
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 8, 8, 3)))
	vs := NewVars(s, 1)
	vs.HeadScopes = []string{"net/logits"}
	bn := Args{Norm: &BatchNorm{Decay: 0.9, Epsilon: 1e-3, Scale: true}}
	for _, mode := range []Mode{{}, {Training: true}} {
		b := New(s.SubScope("fwd"), vs, mode).Scope("net")
		y := Conv(b.Scope("conv1").With(bn), x, 4, 3)
		Logits(b.Scope("logits"), GlobalAvgPool(b, y), 2)
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, v := range vs.All() {
		names = append(names, v.Name)
		if v.Head != (v.Layer == "net/logits") {
			t.Errorf("%s: Head %v", v.Name, v.Head)
		}
		if v.Layer != "net/conv1" && v.Layer != "net/logits" {
			t.Errorf("%s: layer %q", v.Name, v.Layer)
		}
	}
	want := []string{"net/conv1/weights", "net/conv1/BatchNorm/gamma", "net/conv1/BatchNorm/beta",
		"net/conv1/BatchNorm/moving_mean", "net/conv1/BatchNorm/moving_variance", "net/logits/weights", "net/logits/biases"}
	if len(names) != len(want) {
		t.Fatalf("variables %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("variable %d = %s, want %s", i, names[i], want[i])
		}
	}
	vs.Get("net/conv1/weights", []int64{1, 1, 3, 4}, tf.Float, Weight, "net/conv1", GlorotUniform)
	if vs.Err() == nil {
		t.Error("same name with another shape: no error")
	}
}
