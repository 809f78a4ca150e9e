package tfgraph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/nets"
	"github.com/tlearn/tlearn/tfgraph/optim"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// VarInfo describes one model variable (not optimizer slots or global_step).
type VarInfo struct {
	Name      string  // TF-Slim name, e.g. "vgg_19/conv1/conv1_1/weights"
	Shape     []int64 // e.g. [3 3 3 64]
	Trainable bool    // gets updates under Config.Trainable
	IsHead    bool    // part of the net's head scopes (fc8), never restored by LoadPretrained
}

// Model owns a network's graph and the TensorFlow session running it. A
// Model is not safe for concurrent use.
type Model struct {
	cfg   Config
	net   nets.Net
	graph *tf.Graph
	sess  *tf.Session

	vars   []*slim.Var // model variables in layer order, global_step, then slots
	byName map[string]*slim.Var
	step   *slim.Var

	devices []string // Config.Devices as TensorFlow device names (nil: one device)

	images, labels tf.Output // placeholders [n,S,S,3] float32, [n] int32
	prefix         tf.Output // checkpoint prefix placeholder (string scalar)

	logits, probs, evalLoss, top1, top5, preds tf.Output
	evalAux                                    tf.Output // the eval forward's AuxLogits (zero without)

	trainLoss, totalLoss, lr, stepAfter tf.Output // training path (nil for ForInference)
	lrBody                              tf.Output // the body's learning rate (Config.BodyLRMult·lr; lr without)
	// The head phase (Config.HeadSteps): its losses and step op; at is the
	// global step the next TrainStep runs from, which picks the phase.
	headLoss, headTotal, headStepAfter tf.Output
	at                                 int64
	lossScale, finite                  tf.Output // fp16 training: the step's loss scale, its gradients all finite
	avg                                *averages // the weights' moving averages (Config.EMADecay), nil without

	save, restoreAll *tf.Operation
	broadcast        *tf.Operation // cluster models: every variable := the chief's
	// Cluster models: a number each task feeds with its step (0 by
	// default) and its sum over the tasks, carried by the gradients'
	// all-reduce (TrainStepNote).
	note, noteSum tf.Output // cluster models: TrainStepNote's note and its sum over the tasks
	headNoteSum   tf.Output // the same in the head phase

	// KeepCheckpoints is how many checkpoints SaveCheckpoint keeps (default 5).
	KeepCheckpoints int
}

// NewModel builds the graph for cfg once, opens a session with cfg's options
// and initialises every variable fresh: the head (the net's HeadScopes)
// Glorot-uniform (TF-Slim's default xavier_initializer), the body's weights
// as the net says (nets/vgg.go: He-uniform), biases, batch-norm betas,
// moving means, optimizer slots and global_step zero, gammas and moving
// variances one (and, as TensorFlow's, RMSProp's mean-square slots one,
// Adam's beta1_power/beta2_power beta1/beta2). Pretrained weights then
// replace the body (LoadPretrained).
func NewModel(cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	net, err := nets.Lookup(cfg.Arch)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(net); err != nil {
		return nil, fmt.Errorf("tfgraph config: %w", err)
	}
	m := &Model{cfg: cfg, net: net, byName: map[string]*slim.Var{}, KeepCheckpoints: 5}
	if err := m.build(); err != nil {
		return nil, fmt.Errorf("build %s graph: %w", net.Name, err)
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

// Net returns the model's architecture.
func (m *Model) Net() nets.Net { return m.net }

// Variables returns the model's variables in layer order (weights, then
// biases of each layer), without optimizer slots and global_step.
func (m *Model) Variables() []VarInfo {
	var out []VarInfo
	for _, v := range m.vars {
		if v.Role.Model() {
			out = append(out, VarInfo{Name: v.Name, Shape: slices.Clone(v.Shape), Trainable: v.Trainable, IsHead: v.Head})
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
		inits = append(inits, v.Init)
	}
	if _, err := m.sess.Run(nil, nil, inits); err != nil {
		return tfErr("initialize variables", err)
	}
	return m.syncAverages()
}

func (m *Model) build() error {
	cfg, net := m.cfg, m.net
	dev, _ := parseDevice(cfg.Device)
	m.devices, _ = parseDevices(cfg.Devices)
	// The graph is kept from the start: data-parallel replicas are imported into it.
	m.graph = tf.NewGraph()
	s := op.NewScopeWithGraph(m.graph)
	ds := s.WithDevice(dev) // forward ops and variables; gradients go in s
	switch {
	case len(m.devices) > 0:
		ds = s.WithDevice(m.devices[0]) // variables, eval forward, reduction and updates
	case dev == "/device:CPU:0":
		ds = s // CPU-only is enforced through the session config (no GPUs visible)
	}
	if c := cfg.Cluster; c != nil {
		// The forward and variables on this task's device, the collectives
		// on its CPU. The C API's gradients cannot be placed (graft refuses
		// a device scope): unplaced ops go to the session's client device,
		// this task's CPU, or are colocated with their variables. Replicas
		// within the task go on its devices.
		for i, d := range m.devices {
			m.devices[i] = c.cluster.Device(c.cluster.Task, strings.TrimPrefix(d, "/device:"))
		}
		local := strings.TrimPrefix(dev, "/device:")
		if local == "" {
			local = "CPU:0"
		}
		ds = s.WithDevice(c.cluster.Device(c.cluster.Task, local))
		if len(m.devices) > 0 {
			ds = s.WithDevice(m.devices[0])
		}
	}
	S := int64(cfg.InputSize)
	m.images = op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, S, S, 3)))
	m.labels = op.Placeholder(s.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	m.prefix = op.Placeholder(s.SubScope("save_prefix"), tf.String, op.PlaceholderShape(tf.ScalarShape()))

	// 1. The eval forward creates every model variable, in layer order:
	// moving statistics, Winograd where winogradPolicy says so.
	vs := slim.NewVars(ds, cfg.Seed)
	vs.HeadScopes = net.HeadScopeNames()
	vs.ScaleInputs = cfg.FromScratch
	eval := net.Build(slim.New(ds, vs, slim.Mode{Winograd: winogradPolicy(cfg)}), m.images, cfg.NumClasses)
	if err := vs.Err(); err != nil {
		return err
	}
	es := ds.SubScope("eval")
	m.logits, m.evalAux = eval.Logits, eval.AuxLogits
	m.probs = op.Softmax(es.SubScope("predictions"), m.logits)
	m.preds = op.ArgMax(es.SubScope("top1"), m.logits, op.Const(es.SubScope("top1/axis"), int32(1)), op.ArgMaxOutputType(tf.Int32))
	m.evalLoss = m.xentLoss(es.SubScope("loss"), m.logits, 0)
	k5 := int32(min(5, cfg.NumClasses))
	m.top1 = countInTopK(es.SubScope("in_top1"), m.logits, m.labels, 1)
	m.top5 = countInTopK(es.SubScope("in_top5"), m.logits, m.labels, k5)

	// 2. Which variables train.
	if err := markTrainable(cfg.Trainable, net, vs.All()); err != nil {
		return &ConfigError{Err: err}
	}
	m.step = vs.GlobalStep()

	if cfg.ReadAverages {
		for _, v := range vs.All() {
			if averaged(v) {
				v.RestoreName = v.Name + emaSuffix
			}
		}
	}
	if cfg.EMADecay > 0 && !cfg.ForInference {
		m.avg = newAverages(ds, vs)
		if err := ds.Err(); err != nil {
			return err
		}
	}

	// 3. The training forward, sharing the variables.
	if !cfg.ForInference {
		if err := m.buildTraining(s, ds, vs); err != nil {
			return err
		}
	}

	// 4. One saver over everything (model, batch-norm statistics, slots,
	// global_step); its restore-all op is the SaverDef's in exports.
	m.vars = vs.All()
	for _, v := range m.vars {
		m.byName[v.Name] = v
	}
	sv := slim.SaverOps(s.SubScope("save"), m.vars, m.prefix)
	m.save, m.restoreAll = sv.Save, sv.RestoreAll
	if c := cfg.Cluster; c != nil {
		m.broadcast = m.buildBroadcast(s.SubScope("broadcast"), c)
	}
	var err error
	m.graph, err = s.Finalize()
	return err
}

// weightLayers returns the layers holding weights, in creation order: the
// unit of --trainable last-N (VGG: its 16 or 19 conv+fc layers).
func weightLayers(vs []*slim.Var) []string {
	var out []string
	for _, v := range vs {
		if v.Role == slim.Weight && (len(out) == 0 || out[len(out)-1] != v.Layer) {
			out = append(out, v.Layer)
		}
	}
	return out
}

// markTrainable sets Var.Trainable by spec: "all", "head" (the net's
// HeadScopes), "last-N" (the last N weight layers with their biases and
// batch-norm parameters) or "scopes:P1,P2" (variables under those scopes,
// given with or without the net's scope, as TF-Slim's --trainable_scopes).
// Moving statistics are never trainable.
func markTrainable(spec string, net nets.Net, vs []*slim.Var) (err error) {
	var sel func(v *slim.Var) bool
	switch {
	case spec == "all":
		sel = func(*slim.Var) bool { return true }
	case spec == "head":
		sel = func(v *slim.Var) bool { return v.Head }
	case strings.HasPrefix(spec, "last-"):
		layers := weightLayers(vs)
		k, err := strconv.Atoi(strings.TrimPrefix(spec, "last-"))
		if err != nil || k < 1 || k > len(layers) {
			return fmt.Errorf("trainable %q: N must be 1..%d (the number of weight layers of %s)", spec, len(layers), net.Name)
		}
		last := map[string]bool{}
		for _, l := range layers[len(layers)-k:] {
			last[l] = true
		}
		sel = func(v *slim.Var) bool { return last[v.Layer] }
	case strings.HasPrefix(spec, "scopes:"):
		var scopes []string
		for _, p := range strings.Split(strings.TrimPrefix(spec, "scopes:"), ",") {
			p = strings.Trim(strings.TrimSpace(p), "/")
			if p == "" {
				return fmt.Errorf("trainable %q: empty scope", spec)
			}
			if !strings.HasPrefix(p+"/", net.Scope+"/") {
				p = net.Scope + "/" + p
			}
			scopes = append(scopes, p)
		}
		matched := map[string]bool{}
		sel = func(v *slim.Var) bool {
			for _, p := range scopes {
				if v.Name == p || strings.HasPrefix(v.Name, p+"/") {
					matched[p] = true
					return true
				}
			}
			return false
		}
		defer func() {
			for _, p := range scopes {
				if !matched[p] && err == nil {
					err = fmt.Errorf("trainable %q: no variable of %s under %s", spec, net.Name, p)
				}
			}
		}()
	default:
		return fmt.Errorf("trainable %q: want all, head, last-N or scopes:P1,P2", spec)
	}
	for _, v := range vs {
		if v.Role.Model() && v.Role != slim.MovingMean && v.Role != slim.MovingVar {
			v.Trainable = sel(v)
		}
	}
	return nil
}

// xentLoss is the mean softmax cross-entropy of logits against m.labels
// (one-hot + SoftmaxCrossEntropyWithLogits, which has a C++ gradient),
// weighted per class when ClassWeights is set. With smoothing ε > 0 the
// targets are onehot·(1−ε) + ε/K, computed in float32 as
// tf.compat.v1.losses.softmax_cross_entropy's label_smoothing does.
func (m *Model) xentLoss(s *op.Scope, logits tf.Output, smoothing float64) tf.Output {
	cfg := m.cfg
	on, off := float32(1), float32(0)
	if smoothing > 0 {
		off = float32(smoothing) / float32(cfg.NumClasses)
		on = float32(1-smoothing) + off
	}
	onehot := op.OneHot(s, m.labels, op.Const(s.SubScope("depth"), int32(cfg.NumClasses)),
		op.Const(s.SubScope("on"), on), op.Const(s.SubScope("off"), off))
	xent, _ := op.SoftmaxCrossEntropyWithLogits(s, logits, onehot)
	if cfg.ClassWeights != nil {
		w := op.GatherV2(s, op.Const(s.SubScope("class_weights"), cfg.ClassWeights), m.labels, op.Const(s.SubScope("axis"), int32(0)))
		xent = op.Mul(s, xent, w)
	}
	return op.Mean(s, xent, op.Const(s.SubScope("axes"), []int32{0}))
}

func countInTopK(s *op.Scope, logits, labels tf.Output, k int32) tf.Output {
	in := op.InTopKV2(s, logits, labels, op.Const(s.SubScope("k"), k))
	return op.Sum(s, op.Cast(s, in, tf.Int32), op.Const(s.SubScope("axes"), []int32{0}))
}

// auxLossWeight weights the auxiliary head's cross-entropy in the training
// loss, as TF-Slim's train_image_classifier does for inception's AuxLogits.
const auxLossWeight = 0.4

// buildTraining adds the training path: its own forward (dropout, batch
// norm on batch statistics for trainable layers, direct convolutions)
// sharing the eval forward's variables, loss + L2, gradients from the C
// API, the optimizer's updates at the schedule's learning rate, and the
// global step increment after all updates and batch-norm statistics
// updates. TensorFlow runs only what a training step fetches, so the second
// forward costs graph size, not time. With Config.Devices the forward, loss
// and gradients are built once per device instead (buildReplicas).
func (m *Model) buildTraining(root, ds *op.Scope, vs *slim.Vars) error {
	if len(m.devices) > 0 {
		return m.buildReplicas(root, ds, vs)
	}
	s := ds.SubScope("train")
	loss, total, reg, tb, err := m.trainForward(s, vs)
	if err != nil {
		return err
	}
	m.trainLoss, m.totalLoss = loss, total
	train, reads := trainableReads(vs)
	if err := root.Err(); err != nil {
		return err
	}
	differentiated := m.totalLoss
	ls := m.lossScaler(s, vs)
	if ls != nil {
		differentiated = ls.scaleLoss(s, m.totalLoss)
	}
	grads := op.Gradients(root.SubScope("gradients"), []tf.Output{differentiated}, reads)
	if err := root.Err(); err != nil {
		return err
	}
	var losses []tf.Output
	grads, losses, m.noteSum = m.acrossTasks(s, train, grads, m.trainLoss, m.totalLoss)
	m.trainLoss, m.totalLoss = losses[0], losses[1]
	return m.buildUpdates(root, s, vs, train, grads, ls, tb.UpdatesIf, reg)
}

// acrossTasks returns, for a cluster model, the means over the tasks of the
// gradients of vars and of the losses, and the sum over the tasks of the
// note fed to m.note (TrainStepNote); the gradients and losses unchanged
// and no sum otherwise. Each task's gradients are of its shard's mean loss:
// their mean over the tasks is the gradient of the global batch's mean
// loss. With fp16 they are the scaled gradients: every task then unscales
// the same sums and agrees on skipping a step. The losses and the note ride
// along with the gradients in one fused collective, free of extra round
// trips.
func (m *Model) acrossTasks(s *op.Scope, vars []*slim.Var, grads []tf.Output, losses ...tf.Output) ([]tf.Output, []tf.Output, tf.Output) {
	c := m.cfg.Cluster
	if c == nil {
		return grads, losses, tf.Output{}
	}
	as := s.SubScope("allreduce").WithDevice(c.cluster.Device(c.cluster.Task, "CPU:0"))
	if m.note == (tf.Output{}) {
		ns := as.SubScope("note")
		m.note = op.PlaceholderWithDefault(ns, op.Const(ns.SubScope("zero"), float32(0)), tf.ScalarShape())
	}
	shapes := make([][]int64, 0, len(grads)+len(losses)+1)
	for _, v := range vars {
		shapes = append(shapes, v.Shape)
	}
	for range len(losses) + 1 {
		shapes = append(shapes, nil)
	}
	xs := append(append(append([]tf.Output{}, grads...), losses...), m.note)
	reduced := c.AllReduceMeanFused(as, xs, shapes, m.cfg.collectiveTimeout())
	n := len(grads) + len(losses)
	sum := op.Mul(as.SubScope("note_sum"), reduced[n], op.Const(as.SubScope("tasks"), float32(c.cluster.Size())))
	return reduced[:len(grads)], reduced[len(grads):n], sum
}

// trainForward builds the training forward of m.images into s (dropout,
// batch norm on batch statistics for trainable layers, direct convolutions)
// on vs's variables, and its loss against m.labels: the cross-entropy (with
// the auxiliary head's, weighted) and the total loss adding the L2 term reg
// (l2Term). It is the whole per-device computation: buildTraining runs it in
// the model graph, buildReplicas once per replica graph.
func (m *Model) trainForward(s *op.Scope, vs *slim.Vars) (loss, total, reg tf.Output, tb *slim.B, err error) {
	cfg := m.cfg
	mode := slim.Mode{Training: true, DropoutKeep: cfg.DropoutKeep, FrozenBatchNorm: cfg.BatchNorm == BatchNormFrozen}
	tb = slim.New(s, vs, mode)
	out := m.net.Build(tb, m.images, cfg.NumClasses)
	if err := tb.Err(); err != nil {
		return loss, total, reg, nil, err
	}
	loss = m.xentLoss(s.SubScope("loss"), out.Logits, cfg.LabelSmoothing)
	if out.AuxLogits != (tf.Output{}) {
		as := s.SubScope("aux_loss")
		aux := op.Mul(as, op.Const(as.SubScope("weight"), float32(auxLossWeight)), m.xentLoss(as, out.AuxLogits, cfg.LabelSmoothing))
		loss = op.AddV2(s.SubScope("loss_with_aux"), loss, aux)
	}
	total = loss
	if reg = m.l2Term(s, vs); reg != (tf.Output{}) {
		total = op.Add(s.SubScope("total_loss"), loss, reg)
	}
	return loss, total, reg, tb, s.Err()
}

// l2Term is the L2 weight decay term of the loss, WeightDecay·Σ L2Loss(w)
// over vs's regularised weights, or the zero Output when there is none
// (no decay, or AdamW, which decays the weights in its update instead).
// TF-Slim puts every regularised weight into the total loss, trainable or
// not (only trainable ones get gradients).
func (m *Model) l2Term(s *op.Scope, vs *slim.Vars) tf.Output {
	cfg := m.cfg
	if cfg.WeightDecay == 0 || cfg.Optimizer == OptAdamW {
		return tf.Output{}
	}
	rs := s.SubScope("l2")
	var l2s []tf.Output
	for _, v := range vs.All() {
		if v.Regularized {
			l2s = append(l2s, op.L2Loss(rs.SubScope("term"), v.Read))
		}
	}
	return op.Mul(rs, op.Const(rs.SubScope("decay"), float32(cfg.WeightDecay)), op.AddN(rs, l2s))
}

// trainableReads returns vs's trainable variables in creation order and
// their reads: the variables gradients are taken for and updates applied to.
func trainableReads(vs *slim.Vars) (train []*slim.Var, reads []tf.Output) {
	for _, v := range vs.All() {
		if v.Trainable {
			train = append(train, v)
			reads = append(reads, v.Read)
		}
	}
	return train, reads
}

// lossScaler is the dynamic loss scaling of an fp16 training graph, nil
// for the other precisions.
func (m *Model) lossScaler(s *op.Scope, vs *slim.Vars) *lossScaler {
	if m.cfg.Precision != PrecisionFP16 {
		return nil
	}
	return newLossScaler(s, vs, m.cfg.LossScale)
}

// buildUpdates adds the step's updates: the optimizer applies grads (one per
// train variable; of the loss scaled by ls when ls is set) at the schedule's
// learning rate (the body's times BodyLRMult), bnUpdates(pred) are the
// batch-norm statistics updates gated on pred (zero: unconditional), and the
// global step increments after them all, into m.lr and m.stepAfter. With
// HeadSteps it adds the head phase too, whose loss adds reg (l2Term).
func (m *Model) buildUpdates(root, s *op.Scope, vs *slim.Vars, train []*slim.Var, grads []tf.Output, ls *lossScaler, bnUpdates func(pred tf.Output) []*tf.Operation, reg tf.Output) error {
	cfg := m.cfg
	m.lr = m.schedule().LR(s, m.step.Read)
	m.lrBody = m.lr
	if cfg.BodyLRMult != nil && *cfg.BodyLRMult != 1 {
		m.lrBody = op.Mul(s.SubScope("learning_rate_body"), m.lr, op.Const(s.SubScope("body_lr_mult"), float32(*cfg.BodyLRMult)))
	}
	lrs := make([]tf.Output, len(train))
	var lrInput tf.Output
	for i, v := range train {
		lrs[i] = m.lrBody
		switch {
		case v.Head:
			lrs[i] = m.lr
		case cfg.FromScratch && v.InputStd > 0:
			if lrInput == (tf.Output{}) {
				lrInput = op.Mul(s.SubScope("learning_rate_input_layer"), m.lrBody, op.Const(s.SubScope("input_layer_lr_mult"), float32(inputLayerLRMult(cfg.Optimizer, v.InputStd))))
			}
			lrs[i] = lrInput
		}
	}
	var updates []*tf.Operation
	if ls != nil {
		// Overflowed gradients update nothing: neither the optimizer's
		// variables nor the moving statistics.
		grads = ls.unscale(s, grads)
		grads = m.clip(s, grads)
		updates = append(m.optimizer().Apply(s, vs, train, grads, lrs), bnUpdates(ls.finite)...)
		updates = []*tf.Operation{ls.apply(s, updates)}
		m.lossScale, m.finite = ls.read, ls.finite
	} else {
		grads = m.clip(s, grads)
		updates = append(m.optimizer().Apply(s, vs, train, grads, lrs), bnUpdates(tf.Output{})...)
	}
	if m.avg != nil {
		updates = append(updates, m.avg.update(s, cfg.EMADecay, m.step.Read, updates)...)
	}
	gs := s.SubScope("global_step").WithControlDependencies(updates...)
	inc := op.AssignAddVariableOp(gs, m.step.Handle, op.Const(gs.SubScope("one"), int64(1)))
	m.stepAfter = op.ReadVariableOp(gs.WithControlDependencies(inc).SubScope("after"), m.step.Handle, tf.Int64)
	if cfg.HeadSteps > 0 {
		m.buildHeadPhase(root, s, vs, reg)
	}
	return root.Err()
}

// inputLayerLRMult is the learning-rate multiplier of a from-scratch layer
// whose weights start divided by its input's std (Config.FromScratch): 1/std²
// for the optimizers whose steps are proportional to the gradient, 1/std for
// those that divide it by its running magnitude.
func inputLayerLRMult(optimizer string, std float64) float64 {
	switch optimizer {
	case OptAdam, OptAdamW, OptRMSProp:
		return 1 / std
	}
	return 1 / (std * std)
}

// buildHeadPhase adds the head-only step of Config.HeadSteps: the eval
// forward's cross-entropy (with the aux head's, weighted as in training)
// plus the same L2 term, differentiated with respect to the head's
// variables only — TensorFlow then runs no backward through the body — and
// the optimizer's updates of them at the schedule's learning rate, sharing
// the slots of the full step.
func (m *Model) buildHeadPhase(root, s *op.Scope, vs *slim.Vars, reg tf.Output) {
	hs := s.SubScope("head_phase")
	m.headLoss = m.evalLoss
	if eps := m.cfg.LabelSmoothing; eps > 0 {
		m.headLoss = m.xentLoss(hs.SubScope("loss"), m.logits, eps)
	}
	if m.evalAux != (tf.Output{}) {
		as := hs.SubScope("aux_loss")
		aux := op.Mul(as, op.Const(as.SubScope("weight"), float32(auxLossWeight)), m.xentLoss(as, m.evalAux, m.cfg.LabelSmoothing))
		m.headLoss = op.AddV2(hs.SubScope("loss_with_aux"), m.headLoss, aux)
	}
	m.headTotal = m.headLoss
	if reg != (tf.Output{}) {
		m.headTotal = op.Add(hs.SubScope("total_loss"), m.headLoss, reg)
	}
	var head []*slim.Var
	var reads []tf.Output
	for _, v := range vs.All() {
		if v.Head && v.Role.Model() && v.Role != slim.MovingMean && v.Role != slim.MovingVar {
			head = append(head, v)
			reads = append(reads, v.Read)
		}
	}
	grads, losses, noteSum := m.acrossTasks(hs, head, op.Gradients(root.SubScope("head_gradients"), []tf.Output{m.headTotal}, reads), m.headLoss, m.headTotal)
	m.headLoss, m.headTotal, m.headNoteSum = losses[0], losses[1], noteSum
	grads = m.clip(hs, grads)
	updates := m.optimizer().Apply(hs, vs, head, grads, optim.Same(m.lr, len(head)))
	if m.avg != nil {
		updates = append(updates, m.avg.update(hs, m.cfg.EMADecay, m.step.Read, updates)...)
	}
	gs := hs.SubScope("global_step").WithControlDependencies(updates...)
	inc := op.AssignAddVariableOp(gs, m.step.Handle, op.Const(gs.SubScope("one"), int64(1)))
	m.headStepAfter = op.ReadVariableOp(gs.WithControlDependencies(inc).SubScope("after"), m.step.Handle, tf.Int64)
}

// schedule is the learning-rate schedule of the configuration (see
// Config.Schedule): constant when DecaySteps <= 0, after a linear warmup
// when WarmupSteps > 0.
func (m *Model) schedule() optim.Schedule {
	c := m.cfg
	steps := c.DecaySteps - c.WarmupSteps
	var sc optim.Schedule = optim.Constant{LR0: c.LearningRate}
	switch {
	case c.Schedule == ScheduleStep:
		sc = optim.Step{Initial: c.LearningRate, Gamma: c.StepGamma, Every: c.StepEvery}
	case c.DecaySteps <= 0 || c.Schedule == ScheduleConstant:
	case c.Schedule == ScheduleCosine:
		sc = optim.Cosine{Initial: c.LearningRate, End: c.LearningRateEnd, Steps: steps}
	default:
		sc = optim.Polynomial{Initial: c.LearningRate, End: c.LearningRateEnd, Power: c.LRPower, Steps: steps}
	}
	if c.WarmupSteps > 0 {
		sc = optim.Warmup{Peak: c.LearningRate, Steps: c.WarmupSteps, Then: sc}
	}
	return sc
}

// optimizer is the configuration's optimizer (see Config.Optimizer).
func (m *Model) optimizer() optim.Optimizer {
	c := m.cfg
	switch c.Optimizer {
	case OptNesterov:
		return optim.Momentum{Momentum: c.Momentum, Nesterov: true}
	case OptAdam:
		return optim.Adam{Beta1: c.Beta1, Beta2: c.Beta2, Epsilon: c.Epsilon}
	case OptAdamW:
		return optim.Adam{Beta1: c.Beta1, Beta2: c.Beta2, Epsilon: c.Epsilon, WeightDecay: c.WeightDecay}
	case OptRMSProp:
		return optim.RMSProp{Rho: c.Rho, Momentum: c.Momentum, Epsilon: c.Epsilon}
	}
	return optim.Momentum{Momentum: c.Momentum}
}

// buildBroadcast returns one op that sets every variable (model, batch-norm
// statistics, slots, global_step) of every task to the chief's value.
func (m *Model) buildBroadcast(s *op.Scope, c *Server) *tf.Operation {
	s = s.WithDevice(c.cluster.Device(c.cluster.Task, "CPU:0"))
	timeout := m.cfg.collectiveTimeout()
	var assigns []*tf.Operation
	for _, v := range m.vars {
		vs := s.SubScope("var")
		assigns = append(assigns, op.AssignVariableOp(vs, v.Handle, c.Broadcast(vs, v.Read, timeout)))
	}
	return op.NoOp(s.WithControlDependencies(assigns...))
}

// BroadcastVariables sets every variable to the chief's (task 0's) value:
// after the chief restored its weights or checkpoint, every task starts
// from the same state. Every task of the cluster must call it together.
func (m *Model) BroadcastVariables() error {
	c := m.cfg.Cluster
	if c == nil || m.broadcast == nil {
		return fmt.Errorf("broadcast variables: not a cluster model")
	}
	if _, err := m.sess.Run(nil, nil, []*tf.Operation{m.broadcast}); err != nil {
		return c.collectiveErr(fmt.Sprintf("broadcast of the chief's variables to task %d", c.cluster.Task), err)
	}
	at, err := m.GlobalStep()
	if err != nil {
		return err
	}
	m.at = at
	return nil
}
