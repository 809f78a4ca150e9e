package tfgraph

import (
	"fmt"
	"math"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// VarInfo describes one model variable (not optimizer slots or global_step).
type VarInfo struct {
	Name      string  // TF-Slim name, e.g. "vgg_19/conv1/conv1_1/weights"
	Shape     []int64 // e.g. [3 3 3 64]
	Trainable bool    // gets updates under Config.Trainable
	IsHead    bool    // part of fc8, never restored by LoadPretrained
}

type varKind int

const (
	kindModel varKind = iota
	kindSlot
	kindStep
)

// variable is one resource variable with its read, initialiser and restore ops.
type variable struct {
	VarInfo
	kind   varKind
	weight bool // conv/fc weights: L2-regularised
	dtype  tf.DataType
	handle tf.Output
	read   tf.Output
	init   *tf.Operation
	// restore: RestoreV2 of this one name from the prefix placeholder, and
	// the assignment of that tensor (feedable, so validated tensors are
	// assigned without a second read).
	restored tf.Output
	assign   *tf.Operation
}

// Model owns a VGG graph and the TensorFlow session running it. A Model is
// not safe for concurrent use.
type Model struct {
	cfg   Config
	arch  Arch
	graph *tf.Graph
	sess  *tf.Session

	vars   []*variable // model variables in layer order, then slots, then global_step
	byName map[string]*variable
	step   *variable

	images, labels tf.Output // placeholders [n,S,S,3] float32, [n] int32
	prefix         tf.Output // checkpoint prefix placeholder (string scalar)

	logits, probs, evalLoss, top1, top5, preds tf.Output

	trainLoss, totalLoss, lr, stepAfter tf.Output // training path (nil for ForInference)

	save, restoreAll *tf.Operation

	// KeepCheckpoints is how many checkpoints SaveCheckpoint keeps (default 5).
	KeepCheckpoints int
}

// NewModel builds the graph for cfg once, opens a session with cfg's options
// and initialises every variable fresh: the head (fc8) Glorot-uniform (TF-Slim's
// default xavier_initializer), the body's conv/fc weights He-uniform (see
// heUniform), biases, momentum slots and global_step zero. Pretrained
// weights then replace the body (LoadPretrained).
func NewModel(cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	arch, err := LookupArch(cfg.Arch)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(arch); err != nil {
		return nil, fmt.Errorf("tfgraph config: %w", err)
	}
	m := &Model{cfg: cfg, arch: arch, byName: map[string]*variable{}, KeepCheckpoints: 5}
	if err := m.build(); err != nil {
		return nil, fmt.Errorf("build %s graph: %w", arch.Name, err)
	}
	opts, err := sessionOptions(cfg)
	if err != nil {
		return nil, err
	}
	m.sess, err = tf.NewSession(m.graph, opts)
	if err != nil {
		return nil, tfErr("new session", err)
	}
	if err := m.initialize(); err != nil {
		m.sess.Close()
		return nil, err
	}
	return m, nil
}

// Config returns the configuration the model was built with (defaults filled in).
func (m *Model) Config() Config { return m.cfg }

// Arch returns the model's architecture.
func (m *Model) Arch() Arch { return m.arch }

// Variables returns the model's variables in layer order (weights, then
// biases of each layer), without optimizer slots and global_step.
func (m *Model) Variables() []VarInfo {
	var out []VarInfo
	for _, v := range m.vars {
		if v.kind == kindModel {
			vi := v.VarInfo
			vi.Shape = append([]int64(nil), v.Shape...)
			out = append(out, vi)
		}
	}
	return out
}

// Close releases the session. The Model is unusable afterwards.
func (m *Model) Close() error {
	if m.sess == nil {
		return nil
	}
	err := m.sess.Close()
	m.sess = nil
	return tfErr("close session", err)
}

func (m *Model) initialize() error {
	var inits []*tf.Operation
	for _, v := range m.vars {
		inits = append(inits, v.init)
	}
	_, err := m.sess.Run(nil, nil, inits)
	return tfErr("initialize variables", err)
}

// builder holds graph-construction state.
type builder struct {
	m       *Model
	root    *tf.Graph
	s       *op.Scope // no device: gradients must be built here
	ds      *op.Scope // forward ops, with the configured device
	seedIdx int64
}

func (b *builder) nextSeed() (int64, int64) {
	b.seedIdx++
	return b.m.cfg.Seed, b.seedIdx
}

func (b *builder) newVar(name string, shape []int64, dtype tf.DataType, kind varKind, initVal func(s *op.Scope) tf.Output) *variable {
	s := b.ds.SubScope(name)
	h := op.VarHandleOp(s, dtype, tf.MakeShape(shape...), op.VarHandleOpSharedName(name))
	v := &variable{VarInfo: VarInfo{Name: name, Shape: shape}, kind: kind, dtype: dtype, handle: h}
	v.read = op.ReadVariableOp(s.SubScope("read"), h, dtype)
	v.init = op.AssignVariableOp(s.SubScope("init"), h, initVal(s.SubScope("initial_value")))
	rs := s.SubScope("restore")
	v.restored = op.RestoreV2(rs, b.m.prefix, op.Const(rs.SubScope("name"), []string{name}),
		op.Const(rs.SubScope("slice"), []string{""}), []tf.DataType{dtype})[0]
	v.assign = op.AssignVariableOp(rs, h, v.restored)
	b.m.vars = append(b.m.vars, v)
	b.m.byName[name] = v
	return v
}

func zeros(shape []int64, dt tf.DataType) func(s *op.Scope) tf.Output {
	return func(s *op.Scope) tf.Output {
		var z any = float32(0)
		if dt == tf.Int64 {
			z = int64(0)
		}
		return op.Fill(s, op.Const(s.SubScope("shape"), shape), op.Const(s.SubScope("zero"), z))
	}
}

// glorotUniform is tf.compat.v1 glorot_uniform / slim xavier_initializer():
// U(-l, l), l = sqrt(6/(fan_in+fan_out)), fans of a conv kernel include its
// receptive field.
func (b *builder) glorotUniform(shape []int64) func(s *op.Scope) tf.Output {
	rf := shape[0] * shape[1]
	return b.uniform(shape, math.Sqrt(6/float64(rf*shape[2]+rf*shape[3])))
}

// uniform initialises with U(-limit, limit) from the builder's seed sequence.
func (b *builder) uniform(shape []int64, limit float64) func(s *op.Scope) tf.Output {
	seed, seed2 := b.nextSeed()
	return func(s *op.Scope) tf.Output {
		u := op.RandomUniform(s, op.Const(s.SubScope("shape"), shape), tf.Float,
			op.RandomUniformSeed(seed), op.RandomUniformSeed2(seed2))
		return op.Sub(s, op.Mul(s, u, op.Const(s.SubScope("scale"), float32(2*limit))), op.Const(s.SubScope("limit"), float32(limit)))
	}
}

// heUniform is tf.keras he_uniform / variance_scaling(2.0, fan_in, uniform):
// U(-l, l), l = sqrt(6/fan_in). Used for the body when it starts from scratch
// (--weights none): a plain 16-conv ReLU net barely trains from Glorot init,
// whose variance halves at every ReLU layer (He et al. 2015). Measured on the
// demo (vgg_mini, MNIST digits 0-4, 8 epochs, lr 1e-3): 47% validation top-1
// from Glorot, 82% from He. TF-Slim's own VGG uses Glorot, but its published
// weights replace the body anyway.
func (b *builder) heUniform(shape []int64) func(s *op.Scope) tf.Output {
	return b.uniform(shape, math.Sqrt(6/float64(shape[0]*shape[1]*shape[2])))
}

type layerVars struct {
	l       layer
	w, bias *variable
}

func (m *Model) build() error {
	cfg := m.cfg
	dev, _ := parseDevice(cfg.Device)
	s := op.NewScope()
	b := &builder{m: m, s: s, ds: s.WithDevice(dev)}
	if dev == "/device:CPU:0" {
		b.ds = s // CPU-only is enforced through the session config (no GPUs visible)
	}
	S := int64(cfg.InputSize)
	m.images = op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, S, S, 3)))
	m.labels = op.Placeholder(s.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	m.prefix = op.Placeholder(s.SubScope("save_prefix"), tf.String, op.PlaceholderShape(tf.ScalarShape()))

	layers, err := m.arch.layers(cfg.InputSize, cfg.NumClasses)
	if err != nil {
		return err
	}
	first, err := trainableFrom(cfg.Trainable, len(layers))
	if err != nil {
		return err
	}
	var lvs []layerVars
	for i, l := range layers {
		name := m.arch.Name + "/" + l.scope
		wshape := []int64{int64(l.kernel), int64(l.kernel), int64(l.in), int64(l.out)}
		init := b.heUniform(wshape)
		if i == len(layers)-1 {
			init = b.glorotUniform(wshape) // the new head: TF-Slim's default (xavier)
		}
		w := b.newVar(name+"/weights", wshape, tf.Float, kindModel, init)
		bias := b.newVar(name+"/biases", []int64{int64(l.out)}, tf.Float, kindModel, zeros([]int64{int64(l.out)}, tf.Float))
		w.weight = true
		for _, v := range []*variable{w, bias} {
			v.Trainable = i >= first
			v.IsHead = i == len(layers)-1
		}
		lvs = append(lvs, layerVars{l, w, bias})
	}
	m.step = b.newVar("global_step", []int64{}, tf.Int64, kindStep, zeros([]int64{}, tf.Int64))

	// Eval path: no dropout, Winograd where winogradLayer says so. Shares
	// the variable reads with the training path.
	es := b.ds.SubScope(m.arch.Name)
	m.logits = b.forward(es, lvs, m.images, false, true)
	m.probs = op.Softmax(es.SubScope("predictions"), m.logits)
	m.preds = op.ArgMax(es.SubScope("top1"), m.logits, op.Const(es.SubScope("top1/axis"), int32(1)), op.ArgMaxOutputType(tf.Int32))
	m.evalLoss = b.xentLoss(es.SubScope("loss"), m.logits)
	k5 := int32(min(5, cfg.NumClasses))
	m.top1 = countInTopK(es.SubScope("in_top1"), m.logits, m.labels, 1)
	m.top5 = countInTopK(es.SubScope("in_top5"), m.logits, m.labels, k5)

	if !cfg.ForInference {
		if err := b.buildTraining(lvs); err != nil {
			return err
		}
	}

	// Save op over every variable (model, slots, global_step).
	ss := s.SubScope("save")
	var names []string
	var slices []string
	var tensors []tf.Output
	for _, v := range m.vars {
		names = append(names, v.Name)
		slices = append(slices, "")
		tensors = append(tensors, v.read)
	}
	m.save = op.SaveV2(ss, m.prefix, op.Const(ss.SubScope("names"), names), op.Const(ss.SubScope("slices"), slices), tensors)
	// One op restoring everything from m.prefix: the SaverDef's restore op
	// in exported SavedModels.
	var assigns []*tf.Operation
	for _, v := range m.vars {
		assigns = append(assigns, v.assign)
	}
	m.restoreAll = op.NoOp(s.SubScope("restore_all").WithControlDependencies(assigns...))

	m.graph, err = s.Finalize()
	return err
}

// forward builds logits [n, NumClasses] from images; training adds dropout
// after fc6 and fc7 (when DropoutKeep < 1). winograd lets the layers
// winogradLayer selects run as Winograd convolutions: inference paths only,
// training differentiates direct convolutions (see winogradConv).
func (b *builder) forward(s *op.Scope, lvs []layerVars, x tf.Output, training, winograd bool) tf.Output {
	keep := b.m.cfg.DropoutKeep
	side := int64(b.m.cfg.InputSize) // spatial side of x
	for _, lv := range lvs {
		l := lv.l
		ls := s.SubScope(l.scope)
		if l.fc {
			// An fc layer's input map is exactly its kernel's size (fc6: 7×7
			// after the five pools, see Arch.fc6Kernel; fc7/fc8: 1×1), so its
			// VALID conv is one dot product per output: a MatMul of the
			// flattened map (h, w, c order) by the slim kernel reshaped to
			// [k·k·in, out] — Keras's Flatten + Dense. oneDNN ran fc6 as a 7×7
			// conv ~3× slower than this GEMM (bench/NOTES.md); the variables
			// keep TF-Slim's 4-D shapes, so checkpoints are unchanged.
			k := int64(l.kernel) * int64(l.kernel) * int64(l.in)
			flat := op.Reshape(ls.SubScope("flatten"), x, op.Const(ls.SubScope("flatten/shape"), []int64{-1, k}))
			w := op.Reshape(ls.SubScope("kernel_2d"), lv.w.read, op.Const(ls.SubScope("kernel_2d/shape"), []int64{k, int64(l.out)}))
			x = op.MatMul(ls, flat, w)
		} else if winograd && winogradLayer(b.m.cfg, l) {
			x = winogradConv(ls.SubScope("winograd"), x, lv.w.read, side, side, int64(l.in), int64(l.out))
		} else {
			x = op.Conv2D(ls, x, lv.w.read, []int64{1, 1, 1, 1}, l.padding)
		}
		x = op.BiasAdd(ls, x, lv.bias.read)
		if l.relu {
			x = op.Relu(ls, x)
		}
		if l.dropout && training && keep < 1 {
			// tf.nn.dropout (v1, as slim's vgg): x/keep * floor(keep + U[0,1)).
			// The mask does not depend on x, so its gradient is x's only.
			ds := ls.SubScope("dropout")
			seed, seed2 := b.nextSeed()
			u := op.RandomUniform(ds, op.Shape(ds, x), tf.Float, op.RandomUniformSeed(seed), op.RandomUniformSeed2(seed2))
			mask := op.Floor(ds, op.Add(ds, u, op.Const(ds.SubScope("keep"), float32(keep))))
			x = op.Mul(ds.SubScope("masked"), op.Mul(ds.SubScope("scaled"), x, op.Const(ds.SubScope("inv_keep"), float32(1/keep))), mask)
		}
		if l.pool {
			x = op.MaxPool(ls.SubScope("pool"), x, []int64{1, 2, 2, 1}, []int64{1, 2, 2, 1}, "VALID")
			side /= 2
		}
	}
	return x // [n, NumClasses]: fc8 is a MatMul
}

// xentLoss is the mean softmax cross-entropy of logits against m.labels
// (one-hot + SoftmaxCrossEntropyWithLogits, which has a C++ gradient),
// weighted per class when ClassWeights is set.
func (b *builder) xentLoss(s *op.Scope, logits tf.Output) tf.Output {
	cfg := b.m.cfg
	onehot := op.OneHot(s, b.m.labels, op.Const(s.SubScope("depth"), int32(cfg.NumClasses)),
		op.Const(s.SubScope("on"), float32(1)), op.Const(s.SubScope("off"), float32(0)))
	xent, _ := op.SoftmaxCrossEntropyWithLogits(s, logits, onehot)
	if cfg.ClassWeights != nil {
		w := op.GatherV2(s, op.Const(s.SubScope("class_weights"), cfg.ClassWeights), b.m.labels, op.Const(s.SubScope("axis"), int32(0)))
		xent = op.Mul(s, xent, w)
	}
	return op.Mean(s, xent, op.Const(s.SubScope("axes"), []int32{0}))
}

func countInTopK(s *op.Scope, logits, labels tf.Output, k int32) tf.Output {
	in := op.InTopKV2(s, logits, labels, op.Const(s.SubScope("k"), k))
	return op.Sum(s, op.Cast(s, in, tf.Int32), op.Const(s.SubScope("axes"), []int32{0}))
}

// buildTraining adds the training path: dropout logits, loss + L2, gradients
// from the C API, momentum updates with a polynomially decayed learning rate,
// and the global step increment after all updates.
func (b *builder) buildTraining(lvs []layerVars) error {
	m, cfg := b.m, b.m.cfg
	s := b.ds.SubScope("train")
	logits := m.logits
	if cfg.DropoutKeep < 1 || b.evalUsesWinograd(lvs) {
		// Its own forward: dropout, and direct convolutions (the eval
		// path may use Winograd, which training does not).
		logits = b.forward(s.SubScope(m.arch.Name), lvs, m.images, true, false)
	}
	m.trainLoss = b.xentLoss(s.SubScope("loss"), logits)
	m.totalLoss = m.trainLoss
	if cfg.WeightDecay != 0 {
		// TF-Slim puts every regularised weight into the total loss, trainable
		// or not (only trainable ones get gradients).
		rs := s.SubScope("l2")
		var l2s []tf.Output
		for _, lv := range lvs {
			l2s = append(l2s, op.L2Loss(rs.SubScope(lv.l.scope), lv.w.read))
		}
		reg := op.Mul(rs, op.Const(rs.SubScope("decay"), float32(cfg.WeightDecay)), op.AddN(rs, l2s))
		m.totalLoss = op.Add(s.SubScope("total_loss"), m.trainLoss, reg)
	}

	var train []*variable
	var reads []tf.Output
	for _, v := range m.vars {
		if v.kind == kindModel && v.Trainable {
			train = append(train, v)
			reads = append(reads, v.read)
		}
	}
	if err := b.s.Err(); err != nil {
		return err
	}
	grads := op.Gradients(b.s.SubScope("gradients"), []tf.Output{m.totalLoss}, reads)
	if err := b.s.Err(); err != nil {
		return err
	}

	// polynomial_decay as tf.compat.v1.train.polynomial_decay (cycle=False),
	// computed in float32 like TensorFlow.
	ls := s.SubScope("learning_rate")
	lr0 := op.Const(ls.SubScope("initial"), float32(cfg.LearningRate))
	m.lr = lr0
	if cfg.DecaySteps > 0 {
		end := op.Const(ls.SubScope("end"), float32(cfg.LearningRateEnd))
		steps := op.Const(ls.SubScope("decay_steps"), float32(cfg.DecaySteps))
		gs := op.Cast(ls, m.step.read, tf.Float)
		p := op.Div(ls, op.Minimum(ls, gs, steps), steps)
		one := op.Const(ls.SubScope("one"), float32(1))
		pw := op.Pow(ls, op.Sub(ls.SubScope("remaining"), one, p), op.Const(ls.SubScope("power"), float32(cfg.LRPower)))
		m.lr = op.AddV2(ls, op.Mul(ls, op.Sub(ls.SubScope("range"), lr0, end), pw), end)
	}

	ms := s.SubScope("Momentum")
	mom := op.Const(ms.SubScope("momentum"), float32(cfg.Momentum))
	var updates []*tf.Operation
	for i, v := range train {
		slot := b.newVar(v.Name+"/Momentum", v.Shape, tf.Float, kindSlot, zeros(v.Shape, tf.Float))
		updates = append(updates, op.ResourceApplyMomentum(ms.SubScope(shortName(v.Name)), v.handle, slot.handle, m.lr, grads[i], mom))
	}
	gs := s.SubScope("global_step").WithControlDependencies(updates...)
	inc := op.AssignAddVariableOp(gs, m.step.handle, op.Const(gs.SubScope("one"), int64(1)))
	m.stepAfter = op.ReadVariableOp(gs.WithControlDependencies(inc).SubScope("after"), m.step.handle, tf.Int64)
	return nil
}

// evalUsesWinograd reports whether the eval path computes any layer with
// Winograd.
func (b *builder) evalUsesWinograd(lvs []layerVars) bool {
	for _, lv := range lvs {
		if winogradLayer(b.m.cfg, lv.l) {
			return true
		}
	}
	return false
}

func shortName(name string) string { return strings.ReplaceAll(name, "/", "_") }
