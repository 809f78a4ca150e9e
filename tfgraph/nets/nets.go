// Package nets holds the architectures, written as code over the slim
// builder under TF-Slim's variable names (so its published checkpoints
// load), and the table of them by name.
package nets

import (
	"fmt"
	"sort"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Net is one architecture and its input conventions.
type Net struct {
	Name  string // --arch
	Scope string // variable scope of the net, e.g. "vgg_19"
	// DefaultInput is the input side used when none is given; MinInput and
	// MaxInput (0: no limit) bound the sides the graph accepts.
	DefaultInput, MinInput, MaxInput int
	// InputRule, when set, explains the valid range in errors.
	InputRule string
	Norm      imagenorm.Norm // how the input values are normalised
	// HeadScopes are the scopes under Scope replaced for new classes
	// ("fc8"; "logits"; "Logits", "AuxLogits").
	HeadScopes []string
	// CheckpointClasses is the width of the published checkpoint's head:
	// 1000, or 1001 with background class 0.
	CheckpointClasses int
	// Build builds the forward of images [n,S,S,3] to logits [n,classes]
	// under b (the caller scopes nothing: Build opens Scope itself).
	Build func(b *slim.B, images tf.Output, classes int) Out
}

// Out is a forward's result.
type Out struct {
	Logits    tf.Output
	AuxLogits tf.Output // zero when the net has no auxiliary head
}

// CheckInput returns an error naming the valid range when size is not one.
func (n Net) CheckInput(size int) error {
	if size >= n.MinInput && (n.MaxInput == 0 || size <= n.MaxInput) {
		return nil
	}
	rng := fmt.Sprintf("at least %d px", n.MinInput)
	if n.MaxInput > 0 {
		rng = fmt.Sprintf("%d..%d px", n.MinInput, n.MaxInput)
	}
	msg := fmt.Sprintf("%s: input size %d is outside the valid range (%s)", n.Name, size, rng)
	if n.InputRule != "" {
		msg += ": " + n.InputRule
	}
	return fmt.Errorf("%s", msg)
}

// Variables builds the net's eval forward of [n,size,size,3] images for
// classes on a graph of its own, without a session (a full-size net costs
// no memory this way), and returns its variables in creation order (heads
// marked) and the forward's output, e.g. to compare them with a
// checkpoint's.
func (n Net) Variables(size, classes int) ([]*slim.Var, Out, error) {
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, int64(size), int64(size), 3)))
	vs := slim.NewVars(s, 1)
	vs.HeadScopes = n.HeadScopeNames()
	b := slim.New(s, vs, slim.Mode{})
	out := n.Build(b, x, classes)
	if err := b.Err(); err != nil {
		return nil, Out{}, fmt.Errorf("build %s: %w", n.Name, err)
	}
	return vs.All(), out, nil
}

// HeadScopeNames returns the head scopes with the net's scope in front
// ("vgg_19/fc8").
func (n Net) HeadScopeNames() []string {
	out := make([]string, len(n.HeadScopes))
	for i, h := range n.HeadScopes {
		out[i] = n.Scope + "/" + h
	}
	return out
}

var table = map[string]Net{}

func register(n Net) { table[n.Name] = n }

// Lookup returns the net called name (see Names).
func Lookup(name string) (Net, error) {
	n, ok := table[name]
	if !ok {
		return Net{}, fmt.Errorf("unknown architecture %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return n, nil
}

// Names returns the known architecture names, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
