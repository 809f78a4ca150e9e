package tfgraph

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Data-parallel training in one process (Config.Devices): one replica
// (tower) per device computes the training forward, loss and gradients of
// its slice of the batch; the replicas' gradients are reduced (averaged) into
// one set and the optimizer applies it once, to the one set of variables on
// the first device.
//
// Placement. TF_AddGradients builds the backward ops without a device, and
// the C API cannot set an op's device after it exists, so a replica is not
// built in the model graph directly. Its forward, loss and gradients are
// built into a graph of their own whose inputs are placeholders (the image
// and label slices, and one per variable value, slim.NewFeedVars); that
// GraphDef is imported into the model graph once per device with the
// device as the import's default device (TF_ImportGraphDefOptionsSetDefaultDevice)
// and an input map from the placeholders to the batch slices and the real
// variables' reads. Every op of replica r, forward and backward, is then on
// device r (TestReplicaPlacement checks the ops' devices and where the
// kernels ran).
//
// Reduction. On GPUs the replicas all-reduce their gradients with
// TensorFlow's collective ops (CollectiveMeanGradients, allreduce.go: one
// fused CollectiveReduceV2 per replica, NCCL where the build has it); on CPUs
// the first device adds them up (MeanGradients: AddN, the other replicas'
// gradients copied to it), which measured slightly faster than the
// collective's ring on virtual CPUs. Config.ReduceGradients overrides the
// choice; TestReplicasMatchOneDevice runs both on virtual CPUs.
//
// Semantics. Each replica's loss is the mean over its slice, so with equal
// slices the mean of the replicas' gradients is the gradient of the whole
// batch's mean loss: the same update as one device, up to float summation
// order. Batch norm in training mode normalises each replica's slice with
// that slice's own statistics (no sync batch norm), so a batch-norm net
// trains differently from one device unless --batch-norm frozen; the moving
// statistics are updated once per step from the mean over the replicas of
// their batch statistics (for the means, exactly the whole batch's mean; for
// the variances, the mean of the slices' variances). Dropout draws its masks
// per replica, replica r under graph seed Seed+r.

// GradientReducer combines the replicas' gradients of one step into the
// gradients of the one optimizer update: replicaGrads[r][i] is replica r's
// gradient of the i-th trainable variable (the same variables, in the same
// order, for every replica) and the result holds one gradient per variable.
// The ops go into s (on the variables' device). MeanGradients and
// CollectiveMeanGradients are the in-process reductions; a cluster model
// averages their result across the tasks afterwards (Model.acrossTasks).
type GradientReducer func(s *op.Scope, replicaGrads [][]tf.Output) ([]tf.Output, error)

// MeanGradients is the plain in-process GradientReducer: per variable the
// AddN of the replicas' gradients times 1/replicas, on s's device (the
// partitioner copies the other replicas' gradients there). One replica's
// gradients are returned as they are. It is the default on CPUs and in
// cluster models (defaultReducer).
func MeanGradients(s *op.Scope, replicaGrads [][]tf.Output) ([]tf.Output, error) {
	if len(replicaGrads) == 0 {
		return nil, fmt.Errorf("mean gradients: no replica")
	}
	n := len(replicaGrads[0])
	for r, gs := range replicaGrads {
		if len(gs) != n {
			return nil, fmt.Errorf("mean gradients: replica %d has %d gradients, replica 0 has %d", r, len(gs), n)
		}
	}
	if len(replicaGrads) == 1 {
		return replicaGrads[0], nil
	}
	out := make([]tf.Output, n)
	for i := range n {
		col := make([]tf.Output, len(replicaGrads))
		for r := range replicaGrads {
			col[r] = replicaGrads[r][i]
		}
		out[i] = meanOf(s.SubScope("mean"), col)
	}
	return out, s.Err()
}

// defaultReducer is the GradientReducer of Config.ReduceGradients nil for
// the replicas on devices: CollectiveMeanGradients on GPUs (NCCL where the
// build has it), MeanGradients on CPUs, where the all-reduce measured 2%
// slower than AddN (bench/NOTES.md, BenchmarkReduceGradients), and in a
// cluster model, whose task devices the in-process collective refuses.
func defaultReducer(devices []string, cluster bool) GradientReducer {
	if cluster || len(devices) == 0 || !strings.HasPrefix(devices[0], "/device:GPU:") {
		return MeanGradients
	}
	return CollectiveMeanGradients
}

// meanOf is AddN(xs)·(1/len(xs)).
func meanOf(s *op.Scope, xs []tf.Output) tf.Output {
	if len(xs) == 1 {
		return xs[0]
	}
	return op.Mul(s, op.AddN(s, xs), op.Const(s.SubScope("inv_replicas"), float32(1/float64(len(xs)))))
}

// parseDevices turns Config.Devices ("cpu:0", "gpu:1", …) into TensorFlow
// device names, refusing an empty entry, a duplicate and a mix of CPUs and
// GPUs (the replicas of one step would wait for the slowest).
func parseDevices(ds []string) ([]string, error) {
	var out []string
	for _, d := range ds {
		typ, idx, ok := strings.Cut(strings.ToLower(strings.TrimSpace(d)), ":")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || (typ != "cpu" && typ != "gpu") {
			return nil, fmt.Errorf("device %q: want cpu:N or gpu:N", d)
		}
		name := "/device:" + strings.ToUpper(typ) + ":" + strconv.Itoa(n)
		if slices.Contains(out, name) {
			return nil, fmt.Errorf("device %s given twice", d)
		}
		if len(out) > 0 && !strings.HasPrefix(name, out[0][:len("/device:CPU")]) {
			return nil, fmt.Errorf("devices %s: all CPUs or all GPUs, not both", strings.Join(ds, ","))
		}
		out = append(out, name)
	}
	return out, nil
}

// virtualCPUs is the number of CPU devices the session must create for
// devices (TensorFlow names CPU:0…CPU:n-1; ConfigProto.device_count), 0 when
// devices are not CPUs.
func virtualCPUs(devices []string) int {
	n := 0
	for _, d := range devices {
		if i, ok := strings.CutPrefix(d, "/device:CPU:"); ok {
			k, _ := strconv.Atoi(i)
			n = max(n, k+1)
		}
	}
	return n
}

// tensorRef names an output of the replica graph, found again after import.
type tensorRef struct {
	op  string
	idx int
}

func ref(o tf.Output) tensorRef { return tensorRef{o.Op.Name(), o.Index} }

// in returns the output ref names in the model graph g after an import under prefix.
func (t tensorRef) in(g *tf.Graph, prefix string) (tf.Output, error) {
	o := g.Operation(prefix + "/" + t.op)
	if o == nil {
		return tf.Output{}, fmt.Errorf("replica op %s/%s missing after import", prefix, t.op)
	}
	return o.Output(t.idx), nil
}

// replicaGraph is one replica's serialized training computation.
type replicaGraph struct {
	def            []byte
	images, labels tensorRef            // placeholders of the batch slice
	values         map[string]tensorRef // variable name → placeholder of its value
	loss, total    tensorRef
	scale          *tensorRef  // placeholder of the loss scale (fp16), nil otherwise
	grads          []tensorRef // one per trainable variable, in the model's order
	stats          []slim.Stat // Batch is unusable; Var, Decay as built
	statRefs       []tensorRef
}

// buildReplicaGraph builds replica r's forward, loss and gradients (with
// respect to the values of train, the model's trainable variables; of the
// loss times a fed loss scale with fp16) into a graph of its own on feed
// variables standing for vs's.
func (m *Model) buildReplicaGraph(vs *slim.Vars, train []*slim.Var, r int) (*replicaGraph, error) {
	s := op.NewScope()
	S := int64(m.cfg.InputSize)
	rm := *m // the same net and configuration on the replica's inputs
	rm.images = op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, S, S, 3)))
	rm.labels = op.Placeholder(s.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	fv := slim.NewFeedVars(s, m.cfg.Seed+int64(r), vs)
	loss, total, _, tb, err := rm.trainForward(s.SubScope("train"), fv)
	if err != nil {
		return nil, err
	}
	if err := fv.Err(); err != nil {
		return nil, err
	}
	reads := make([]tf.Output, len(train))
	for i, v := range train {
		f := fv.Lookup(v.Name)
		if f == nil {
			return nil, fmt.Errorf("trainable variable %s is not used by the training forward", v.Name)
		}
		reads[i] = f.Read
	}
	differentiated := total
	var scale tf.Output
	if m.cfg.Precision == PrecisionFP16 {
		scale = op.Placeholder(s.SubScope("loss_scale"), tf.Float, op.PlaceholderShape(tf.ScalarShape()))
		differentiated = op.Mul(s.SubScope("scaled_loss"), total, scale)
	}
	grads := op.Gradients(s.SubScope("gradients"), []tf.Output{differentiated}, reads)
	g, err := s.Finalize()
	if err != nil {
		return nil, err
	}
	rg := &replicaGraph{images: ref(rm.images), labels: ref(rm.labels), values: map[string]tensorRef{},
		loss: ref(loss), total: ref(total), stats: tb.Stats()}
	if scale != (tf.Output{}) {
		sr := ref(scale)
		rg.scale = &sr
	}
	for _, v := range fv.All() {
		rg.values[v.Name] = ref(v.Read)
	}
	for _, gr := range grads {
		rg.grads = append(rg.grads, ref(gr))
	}
	for _, st := range rg.stats {
		rg.statRefs = append(rg.statRefs, ref(st.Batch))
	}
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("serialize replica graph: %w", err)
	}
	rg.def = buf.Bytes()
	return rg, nil
}

// buildReplicas is buildTraining for Config.Devices (see the comment at the
// top of this file): the batch split into equal slices on the variables'
// device, one imported replica graph per device, the gradients reduced by
// Config.ReduceGradients (defaultReducer when nil; with fp16 the scaled
// gradients, unscaled and checked for overflow after), the reported losses the
// replicas' mean, and the moving statistics updated from the replicas' mean
// batch statistics.
func (m *Model) buildReplicas(root, ds *op.Scope, vs *slim.Vars) error {
	R := len(m.devices)
	s := ds.SubScope("train")
	train, _ := trainableReads(vs)
	sp := s.SubScope("split")
	axis := op.Const(sp.SubScope("axis"), int32(0))
	images := op.Split(sp.SubScope("images"), axis, m.images, int64(R))
	labels := op.Split(sp.SubScope("labels"), axis, m.labels, int64(R))
	ls := m.lossScaler(s, vs)
	if err := root.Err(); err != nil {
		return err
	}

	var losses, totals []tf.Output
	grads := make([][]tf.Output, R)
	var stats [][]tf.Output // [stat][replica]
	var statDefs []slim.Stat
	for r, dev := range m.devices {
		rg, err := m.buildReplicaGraph(vs, train, r)
		if err != nil {
			return fmt.Errorf("replica %d: %w", r, err)
		}
		prefix := fmt.Sprintf("tower_%d", r)
		opts := tf.GraphImportOptions{Prefix: prefix, Device: dev}
		opts.AddInputMapping(rg.images.op, rg.images.idx, images[r])
		opts.AddInputMapping(rg.labels.op, rg.labels.idx, labels[r])
		for name, t := range rg.values {
			opts.AddInputMapping(t.op, t.idx, vs.Lookup(name).Read)
		}
		if rg.scale != nil {
			opts.AddInputMapping(rg.scale.op, rg.scale.idx, ls.read)
		}
		if err := m.graph.ImportWithOptions(rg.def, opts); err != nil {
			return fmt.Errorf("import replica %d on %s: %w", r, dev, err)
		}
		get := func(ts ...tensorRef) ([]tf.Output, error) {
			out := make([]tf.Output, len(ts))
			for i, t := range ts {
				if out[i], err = t.in(m.graph, prefix); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		lt, err := get(rg.loss, rg.total)
		if err != nil {
			return err
		}
		losses, totals = append(losses, lt[0]), append(totals, lt[1])
		if grads[r], err = get(rg.grads...); err != nil {
			return err
		}
		st, err := get(rg.statRefs...)
		if err != nil {
			return err
		}
		if r == 0 {
			statDefs, stats = rg.stats, make([][]tf.Output, len(st))
		}
		for i := range st {
			stats[i] = append(stats[i], st[i])
		}
	}

	reduce := m.cfg.ReduceGradients
	if reduce == nil {
		reduce = defaultReducer(m.devices, m.cfg.Cluster != nil)
	}
	avg, err := reduce(s.SubScope("reduce_gradients"), grads)
	if err != nil {
		return fmt.Errorf("reduce gradients: %w", err)
	}
	if len(avg) != len(train) {
		return fmt.Errorf("reduce gradients: %d gradients for %d trainable variables", len(avg), len(train))
	}
	m.trainLoss = meanOf(s.SubScope("loss"), losses)
	m.totalLoss = meanOf(s.SubScope("total_loss"), totals)
	avg, across, noteSum := m.acrossTasks(s, train, avg, m.trainLoss, m.totalLoss)
	m.noteSum = noteSum
	m.trainLoss, m.totalLoss = across[0], across[1]
	bnUpdates := func(pred tf.Output) []*tf.Operation {
		var ups []*tf.Operation
		for i, st := range statDefs {
			ms := s.SubScope("moving_stats")
			ups = append(ups, slim.MovingAverageUpdate(ms, vs.Lookup(st.Var), meanOf(ms.SubScope("mean"), stats[i]), st.Decay, pred))
		}
		return ups
	}
	var reg tf.Output // the head phase (HeadSteps) runs the eval forward on the first device: its L2 term
	if m.cfg.HeadSteps > 0 {
		reg = m.l2Term(s.SubScope("head_phase_l2"), vs)
	}
	return m.buildUpdates(root, s, vs, train, avg, ls, bnUpdates, reg)
}
