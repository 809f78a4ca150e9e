package slim

import (
	"fmt"
	"math"
	"slices"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Role says what a variable is for: which ones train, which are
// regularised, which a pretrained checkpoint restores.
type Role uint8

// Roles of Var.
const (
	Weight     Role = iota // conv/fc kernel: L2-regularised
	Bias                   // conv/fc bias
	Beta                   // batch-norm offset
	Gamma                  // batch-norm scale
	MovingMean             // batch-norm statistics: never trainable, updated by training steps
	MovingVar
	Slot // optimizer state (momentum accumulators)
	Step // global_step
)

// Model reports whether the role belongs to the network itself (what a
// pretrained checkpoint holds and an export writes), not to training.
func (r Role) Model() bool { return r <= MovingVar }

// Init is how a variable starts.
type Init uint8

// Initialisers of Var. The zero value is slim's default for weights.
const (
	// GlorotUniform is slim's default xavier_initializer(): U(-l, l),
	// l = sqrt(6/(fan_in+fan_out)), conv fans including the receptive field.
	GlorotUniform Init = iota
	// HeUniform is variance_scaling(2.0, fan_in, uniform): U(-l, l),
	// l = sqrt(6/fan_in), for ReLU nets trained from scratch.
	HeUniform
	// HeUniformDepthwise is HeUniform for a depthwise filter [k,k,in,m]:
	// each output reads k·k values, so l = sqrt(6/(k·k)). (TensorFlow's fan
	// rule counts k·k·in, which starts every depthwise layer sqrt(in)
	// times too small: through a MobileNet's 13–17 of them a fresh net's
	// inference logits were ~1e-18.)
	HeUniformDepthwise
	Zeros
	Ones
	// PointOne is the constant 0.1 (alexnet_v2's biases).
	PointOne
)

// Var is one resource variable under its TF-Slim name.
type Var struct {
	Name        string // e.g. "vgg_19/conv1/conv1_1/weights"
	Shape       []int64
	DType       tf.DataType
	Role        Role
	Layer       string // the layer's scope, e.g. "vgg_19/conv1/conv1_1": the unit of --trainable last-N
	Head        bool   // under one of Vars.HeadScopes: replaced, never restored by a pretrained load
	Trainable   bool   // gets gradient updates (set by the model after building)
	Regularized bool   // in the L2 weight decay
	// InputStd is the standard deviation of the values the layer of these
	// weights reads, with no batch norm after it, when it is not ~1 (the
	// first conv of a net fed 0..255 pixels minus the means); 0 otherwise.
	InputStd float64

	Handle tf.Output
	Read   tf.Output
	Init   *tf.Operation

	// RestoreName, when set before SaverOps, is the checkpoint name the
	// variable is restored from instead of Name (saving still uses Name):
	// an inference model reading the weights' moving averages.
	RestoreName string

	// Set by SaverOps: RestoreV2 of this one name from the saver's prefix
	// (feedable, so validated tensors are assigned without a second read)
	// and its assignment.
	Restored tf.Output
	Assign   *tf.Operation
}

// Vars holds a graph's variables: created once by name, found again by name
// (slim's variable_scope(reuse=AUTO_REUSE)), in creation order.
type Vars struct {
	s      *op.Scope // root scope, with the variables' device
	seed   int64
	seeds  *int64
	list   []*Var
	byName map[string]*Var
	err    error

	// HeadScopes are the full scopes of the replaceable head ("vgg_19/fc8"):
	// their variables are marked Head and their weights start Glorot-uniform
	// whatever Args.Init says (slim's default for a new head).
	HeadScopes []string
	// ScaleInputs divides the initial range of the weights of a layer
	// marked InputStd by that std, so that it starts with the output
	// variance its initialiser assumes for unit-variance inputs. Set it for
	// weights that start from their initialisers (training from scratch);
	// the trainer then scales that layer's learning rate to match (see
	// tfgraph.Config.FromScratch).
	ScaleInputs bool

	// of, when set, makes this a feed set (NewFeedVars): its variables are
	// placeholders standing for of's variables of the same name.
	of *Vars
}

// NewVars returns an empty variable set whose ops go into s (no namespace;
// its device is the variables' device). seed is the graph-level seed of the
// random initialisers and dropout masks.
func NewVars(s *op.Scope, seed int64) *Vars {
	return &Vars{s: s, seed: seed, seeds: new(int64), byName: map[string]*Var{}}
}

// NewFeedVars returns a variable set for a replica graph (data-parallel
// training, see tfgraph's replicas.go): Get makes no resource variable but a
// float placeholder named "<name>/value" in s, standing for the value of of's
// variable called name, whose Role, Head, Trainable and Regularized it copies
// (a forward builds the same layers, so batch norm sees the same trainable
// flags). Importing the replica graph maps each placeholder to the real
// variable's Read. Such a Var has no Handle or Init; a batch norm in training
// mode records its batch statistics (B.Stats) instead of update ops. Asking
// for a variable that of does not hold is an error. Random ops take op-level
// seeds seed2Base+1, +2, … under the graph-level seed.
func NewFeedVars(s *op.Scope, seed int64, of *Vars) *Vars {
	return &Vars{s: s, seed: seed, seeds: new(int64), byName: map[string]*Var{}, of: of}
}

// Feed reports whether vs is a feed set (NewFeedVars).
func (vs *Vars) Feed() bool { return vs.of != nil }

// nextSeed returns the next op-level seed pair of the graph's sequence.
func (vs *Vars) nextSeed() (int64, int64) {
	*vs.seeds++
	return vs.seed, *vs.seeds
}

// All returns every variable in creation order.
func (vs *Vars) All() []*Var { return vs.list }

// Lookup returns the variable called name, or nil.
func (vs *Vars) Lookup(name string) *Var { return vs.byName[name] }

// Err returns the first error of Get (a name reused with another shape).
func (vs *Vars) Err() error { return vs.err }

// Get returns the variable called name, creating it with shape, role and
// init the first time. A second Get must ask for the same shape and role.
func (vs *Vars) Get(name string, shape []int64, dt tf.DataType, r Role, layer string, init Init) *Var {
	return vs.get(name, shape, dt, r, layer, init, 0)
}

// get is Get for a layer's weights that read values of standard deviation
// inputStd (0: unit; see InputStd).
func (vs *Vars) get(name string, shape []int64, dt tf.DataType, r Role, layer string, init Init, inputStd float64) *Var {
	if v, ok := vs.byName[name]; ok {
		if !slices.Equal(v.Shape, shape) || v.Role != r {
			if vs.err == nil {
				vs.err = fmt.Errorf("variable %s: shape %v role %d asked again as %v role %d", name, v.Shape, v.Role, shape, r)
			}
		}
		return v
	}
	if vs.of != nil {
		return vs.feed(name, shape, dt, r)
	}
	v := &Var{Name: name, Shape: slices.Clone(shape), DType: dt, Role: r, Layer: layer, Regularized: r == Weight, InputStd: inputStd}
	gain := 1.0
	if vs.ScaleInputs && inputStd > 0 {
		gain = 1 / inputStd
	}
	for _, h := range vs.HeadScopes {
		if strings.HasPrefix(name, h+"/") {
			v.Head = true
		}
	}
	if v.Head && r == Weight {
		init = GlorotUniform
	}
	return vs.add(v, func(s *op.Scope) tf.Output { return vs.initial(s, shape, dt, init, gain) })
}

// feed adds the placeholder standing for of's variable name (NewFeedVars).
func (vs *Vars) feed(name string, shape []int64, dt tf.DataType, r Role) *Var {
	src := vs.of.Lookup(name)
	if src == nil || !slices.Equal(src.Shape, shape) || src.Role != r || src.DType != dt {
		if vs.err == nil {
			vs.err = fmt.Errorf("replica variable %s (shape %v role %d): not a variable of the model with that shape and role", name, shape, r)
		}
		src = &Var{Name: name, Shape: shape, DType: dt, Role: r}
	}
	v := &Var{Name: name, Shape: slices.Clone(shape), DType: dt, Role: r, Layer: src.Layer,
		Head: src.Head, Trainable: src.Trainable, Regularized: src.Regularized, InputStd: src.InputStd}
	v.Read = op.Placeholder(vs.s.SubScope(name).SubScope("value"), dt, op.PlaceholderShape(tf.MakeShape(shape...)))
	vs.list = append(vs.list, v)
	vs.byName[name] = v
	return v
}

// Scalar returns the float32 scalar optimizer variable called name (role
// Slot), starting at value: TensorFlow's non-slot optimizer state such as
// Adam's beta1_power.
func (vs *Vars) Scalar(name string, value float32) *Var {
	if v, ok := vs.byName[name]; ok {
		if len(v.Shape) != 0 || v.Role != Slot {
			if vs.err == nil {
				vs.err = fmt.Errorf("variable %s: shape %v role %d asked again as a scalar slot", name, v.Shape, v.Role)
			}
		}
		return v
	}
	v := &Var{Name: name, Shape: []int64{}, DType: tf.Float, Role: Slot}
	return vs.add(v, func(s *op.Scope) tf.Output { return op.Const(s, value) })
}

// add creates v's handle, read and initialiser (initial builds the value).
func (vs *Vars) add(v *Var, initial func(*op.Scope) tf.Output) *Var {
	name, shape, dt := v.Name, v.Shape, v.DType
	// The handle op carries the variable's exact name, as Python's
	// ResourceVariable does: SavedModel loaders name the variables after it.
	vsc := vs.s.SubScope(name)
	v.Handle = vs.s.AddOperation(tf.OpSpec{Type: "VarHandleOp", Name: name, Attrs: map[string]any{
		"dtype": dt, "shape": tf.MakeShape(shape...), "shared_name": name, "container": ""}}).Output(0)
	v.Read = op.ReadVariableOp(vsc.SubScope("Read"), v.Handle, dt)
	v.Init = op.AssignVariableOp(vsc.SubScope("Assign"), v.Handle, initial(vsc.SubScope("Initializer")))
	vs.list = append(vs.list, v)
	vs.byName[name] = v
	return v
}

// Slot returns the optimizer slot v.Name+"/"+name (zeros, v's shape).
func (vs *Vars) Slot(v *Var, name string) *Var {
	return vs.Get(v.Name+"/"+name, v.Shape, v.DType, Slot, v.Layer, Zeros)
}

// GlobalStep returns the int64 scalar "global_step".
func (vs *Vars) GlobalStep() *Var { return vs.Get("global_step", []int64{}, tf.Int64, Step, "", Zeros) }

// initial is the initialiser's value; a random one's range is multiplied by gain.
func (vs *Vars) initial(s *op.Scope, shape []int64, dt tf.DataType, init Init, gain float64) tf.Output {
	switch init {
	case PointOne:
		return op.Fill(s, op.Const(s.SubScope("shape"), shape), op.Const(s.SubScope("value"), float32(0.1)))
	case Zeros, Ones:
		var val any = float32(init - Zeros)
		if dt == tf.Int64 {
			val = int64(init - Zeros)
		}
		return op.Fill(s, op.Const(s.SubScope("shape"), shape), op.Const(s.SubScope("value"), val))
	}
	var fanIn, fanOut int64 = 1, 1
	switch len(shape) {
	case 1:
		fanIn, fanOut = shape[0], shape[0]
	case 2:
		fanIn, fanOut = shape[0], shape[1]
	case 4:
		rf := shape[0] * shape[1]
		fanIn, fanOut = rf*shape[2], rf*shape[3]
	}
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	switch init {
	case HeUniform:
		limit = math.Sqrt(6 / float64(fanIn))
	case HeUniformDepthwise:
		limit = math.Sqrt(6 / float64(shape[0]*shape[1]))
	}
	limit *= gain
	seed, seed2 := vs.nextSeed()
	u := op.RandomUniform(s, op.Const(s.SubScope("shape"), shape), tf.Float,
		op.RandomUniformSeed(seed), op.RandomUniformSeed2(seed2))
	return op.Sub(s, op.Mul(s, u, op.Const(s.SubScope("scale"), float32(2*limit))), op.Const(s.SubScope("limit"), float32(limit)))
}

// Saver is one save op and one restore-everything op over a set of
// variables, both reading the checkpoint prefix tensor they were built with.
type Saver struct {
	Save       *tf.Operation // SaveV2 of every variable under its name
	SaveTensor tf.Output     // the prefix, after Save ran (SaverDef's save_tensor)
	RestoreAll *tf.Operation // every variable's Assign (SaverDef's restore_op)
}

// SaverOps builds the checkpoint ops over vs in s: one SaveV2 of them all
// and, per variable, a RestoreV2 of its name (Var.Restored) and its
// assignment (Var.Assign), so a subset restores from checkpoints that hold
// only that subset (a pretrained body without optimizer slots).
func SaverOps(s *op.Scope, vs []*Var, prefix tf.Output) Saver {
	names := make([]string, len(vs))
	slices_ := make([]string, len(vs))
	reads := make([]tf.Output, len(vs))
	assigns := make([]*tf.Operation, len(vs))
	for i, v := range vs {
		names[i], reads[i] = v.Name, v.Read
		rs := s.SubScope("restore")
		from := v.Name
		if v.RestoreName != "" {
			from = v.RestoreName
		}
		v.Restored = op.RestoreV2(rs, prefix, op.Const(rs.SubScope("name"), []string{from}),
			op.Const(rs.SubScope("slice"), []string{""}), []tf.DataType{v.DType})[0]
		v.Assign = op.AssignVariableOp(rs, v.Handle, v.Restored)
		assigns[i] = v.Assign
	}
	save := op.SaveV2(s, prefix, op.Const(s.SubScope("tensor_names"), names), op.Const(s.SubScope("shape_and_slices"), slices_), reads)
	return Saver{
		Save:       save,
		SaveTensor: op.Identity(s.WithControlDependencies(save).SubScope("control_dependency"), prefix),
		RestoreAll: s.WithControlDependencies(assigns...).AddOperation(tf.OpSpec{Type: "NoOp", Name: "restore_all"}),
	}
}
