// Package slim is a TF-Slim-like graph builder: networks are written as
// straight Go calls of layer helpers (Conv, BatchNorm, MaxPool, Logits, …)
// on a builder B that carries the current variable scope, arg_scope-like
// defaults (Args) and the forward's Mode. Variables are got-or-created by
// their TF-Slim name (Vars), so an eval forward, a training forward and an
// export forward built from the same code share one set of variables, as
// slim's variable_scope(reuse=...) does.
package slim

import (
	"fmt"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Mode is what differs between the forwards of one net.
type Mode struct {
	// Training selects dropout and batch norm on batch statistics (with
	// moving-average updates, see B.Updates) for trainable layers.
	Training bool
	// DropoutKeep is the keep probability of Dropout in training (1: off).
	DropoutKeep float64
	// FrozenBatchNorm runs every batch norm on its moving statistics even in
	// training (--batch-norm frozen); the statistics then never change.
	FrozenBatchNorm bool
	// Winograd, when set, is asked for every 3×3 stride-1 SAME undilated conv
	// whether to compute it with Winograd F(4×4,3×3) (inference only).
	Winograd func(in, out int) bool
}

// BatchNorm is slim.batch_norm's configuration (Args.Norm).
type BatchNorm struct {
	Decay   float64 // moving-average decay, e.g. 0.997
	Epsilon float64 // e.g. 1e-5
	Scale   bool    // learn gamma (else 1)
	// NoCenter drops beta (slim center=False).
	NoCenter bool
}

// Args are the layer defaults of an arg_scope.
type Args struct {
	Norm    *BatchNorm // nil: convs have biases and no normalisation
	Act     Act        // activation of Conv (nil: ReLU, slim's default)
	Init    Init       // weights' initialiser (zero value: GlorotUniform, slim's default)
	Padding string     // "SAME" (the default, also "") or "VALID"
	// BiasInit is how conv biases start (zero value: Zeros; alexnet_v2's
	// PointOne). Logits' biases always start at zero.
	BiasInit Init
}

// Act is an activation function.
type Act func(b *B, x tf.Output) tf.Output

// state is shared by every B of one forward.
type state struct {
	vars      *Vars
	pending   []pendingUpdate // batch-norm updates, made into ops by Updates/UpdatesIf
	updates   []*tf.Operation // nil until Updates or UpdatesIf made them
	winograd  bool            // some conv used Winograd
	dropout   bool            // some Dropout exists
	batchNorm bool            // some batch norm exists
}

// B is the builder: an op scope, a variable scope, Args and a Mode. B values
// are immutable; Scope and With return new ones.
type B struct {
	s      *op.Scope
	prefix string // variable scope, "" or "a/b"
	args   Args
	mode   Mode
	st     *state
}

// New returns a builder whose ops go into s and whose variables come from vs.
func New(s *op.Scope, vs *Vars, mode Mode) *B {
	if mode.DropoutKeep == 0 {
		mode.DropoutKeep = 1
	}
	return &B{s: s, mode: mode, st: &state{vars: vs}}
}

// Scope returns the builder one level down: op scope and variable scope
// both get the name (fmt.Sprintf(format, a...)).
func (b *B) Scope(format string, a ...any) *B {
	name := fmt.Sprintf(format, a...)
	c := *b
	c.s = b.s.SubScope(name)
	c.prefix = join(b.prefix, name)
	return &c
}

// With returns the builder with args as defaults (slim's arg_scope): the
// non-zero fields of a replace b's.
func (b *B) With(a Args) *B {
	c := *b
	if a.Norm != nil {
		c.args.Norm = a.Norm
	}
	if a.Act != nil {
		c.args.Act = a.Act
	}
	if a.Init != GlorotUniform {
		c.args.Init = a.Init
	}
	if a.Padding != "" {
		c.args.Padding = a.Padding
	}
	if a.BiasInit != GlorotUniform {
		c.args.BiasInit = a.BiasInit
	}
	return &c
}

// Mode returns the builder's mode.
func (b *B) Mode() Mode { return b.mode }

// Prefix returns the variable scope, e.g. "vgg_19/conv1".
func (b *B) Prefix() string { return b.prefix }

// Vars returns the variable set.
func (b *B) Vars() *Vars { return b.st.vars }

// pendingUpdate is one moving statistic's update, moving -= delta, not yet
// an op: the op's inputs are known only when the model asks (UpdatesIf).
type pendingUpdate struct {
	s     *op.Scope
	v     *Var
	delta tf.Output
}

// Updates returns the batch-norm moving-average updates of this forward
// (training mode only): run them with every training step. The ops are made
// by the first call of Updates or UpdatesIf; later calls return the same.
func (b *B) Updates() []*tf.Operation { return b.UpdatesIf(tf.Output{}) }

// UpdatesIf is Updates where each update runs only when the boolean scalar
// pred is true (a Switch on its delta): a training step whose update is
// skipped (loss scaling's overflow) leaves the statistics as they were. A
// zero pred makes them unconditional.
func (b *B) UpdatesIf(pred tf.Output) []*tf.Operation {
	st := b.st
	if st.updates != nil || len(st.pending) == 0 {
		return st.updates
	}
	for _, u := range st.pending {
		delta := u.delta
		if pred != (tf.Output{}) {
			_, taken := op.Switch(u.s.SubScope("if"), delta, pred)
			delta = op.Identity(u.s.SubScope("taken"), taken)
		}
		st.updates = append(st.updates, op.AssignSubVariableOp(u.s, u.v.Handle, delta))
	}
	return st.updates
}

// ModeDependent reports whether a forward with another Mode would compute
// something else: it used Winograd, dropout or batch norm.
func (b *B) ModeDependent() bool { return b.st.winograd || b.st.dropout || b.st.batchNorm }

// UsedWinograd reports whether some conv of this forward is a Winograd conv.
func (b *B) UsedWinograd() bool { return b.st.winograd }

// Err returns the first error of graph construction.
func (b *B) Err() error {
	if err := b.s.Err(); err != nil {
		return err
	}
	return b.st.vars.Err()
}

// Var gets or creates the variable name under the builder's scope.
func (b *B) Var(name string, shape []int64, r Role, init Init) *Var {
	layer := b.prefix
	if r >= Beta && r <= MovingVar {
		layer = strings.TrimSuffix(layer, "/BatchNorm")
	}
	return b.st.vars.Get(join(b.prefix, name), shape, tf.Float, r, layer, init)
}

// sub is a fresh op scope for one op: graft names an op after its type, so
// two ops of one type need two scopes.
func (b *B) sub(name string) *op.Scope { return b.s.SubScope(name) }

func (b *B) fail(format string, a ...any) {
	b.s.UpdateErr("slim", fmt.Errorf(format, a...))
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}
