package nets

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Cost is the size of a net: what the README's table of networks lists.
type Cost struct {
	// Params counts the trained values (weights, biases, batch-norm beta and
	// gamma; not the moving statistics), as Keras's "trainable params" and
	// torchvision's parameters() do.
	Params int64
	// MACs are the multiply-accumulates of one image's inference forward:
	// the convolutions (depthwise included) and matrix products, from their
	// static shapes (as published GMAC figures count: no adds, pools, norms).
	MACs int64
}

// CostOf builds n's inference forward for one size×size image and classes
// outputs on a fresh graph (no session, so full-size nets cost no memory)
// and measures it: a property of the code that builds the graph, so it can
// never drift from what tlearn trains.
func CostOf(n Net, size, classes int) (Cost, error) {
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(1, int64(size), int64(size), 3)))
	vs := slim.NewVars(s, 1)
	vs.HeadScopes = n.HeadScopeNames()
	b := slim.New(s, vs, slim.Mode{}) // direct convs: Winograd would hide the conv shapes
	n.Build(b, x, classes)
	if err := b.Err(); err != nil {
		return Cost{}, fmt.Errorf("cost of %s: %w", n.Name, err)
	}
	g, err := s.Finalize()
	if err != nil {
		return Cost{}, fmt.Errorf("cost of %s: %w", n.Name, err)
	}
	var c Cost
	for _, v := range vs.All() {
		if v.Role <= slim.Gamma {
			p := int64(1)
			for _, d := range v.Shape {
				p *= d
			}
			c.Params += p
		}
	}
	// graft has no Operation.Input: the operand shapes of the products come
	// from their producers' side (Output.Consumers).
	operand := map[string]map[int][]int64{} // op name → input index → shape
	for _, o := range g.Operations() {
		for i := range o.NumOutputs() {
			out := o.Output(i)
			for _, u := range out.Consumers() {
				switch u.Op.Type() {
				case "Conv2D", "DepthwiseConv2dNative", "MatMul":
					shape, err := out.Shape().ToSlice()
					if err != nil {
						return Cost{}, fmt.Errorf("cost of %s: %s input %d: %w", n.Name, u.Op.Name(), u.Index, err)
					}
					if operand[u.Op.Name()] == nil {
						operand[u.Op.Name()] = map[int][]int64{}
					}
					operand[u.Op.Name()][u.Index] = shape
				}
			}
		}
	}
	for _, o := range g.Operations() {
		in := operand[o.Name()]
		if in == nil {
			continue
		}
		out, err := o.Output(0).Shape().ToSlice()
		if err != nil {
			return Cost{}, fmt.Errorf("cost of %s: %s output shape: %w", n.Name, o.Name(), err)
		}
		switch o.Type() {
		case "Conv2D": // output elements × kh·kw·in
			f := in[1]
			c.MACs += out[0] * out[1] * out[2] * out[3] * f[0] * f[1] * f[2]
		case "DepthwiseConv2dNative": // output elements × kh·kw
			f := in[1]
			c.MACs += out[0] * out[1] * out[2] * out[3] * f[0] * f[1]
		case "MatMul": // [m,k]·[k,n]
			c.MACs += out[0] * out[1] * in[0][1]
		}
	}
	return c, nil
}
