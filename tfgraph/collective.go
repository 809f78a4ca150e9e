package tfgraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
	"google.golang.org/protobuf/proto"
)

// Collective ops across the tasks of a cluster, in graph mode: every op is
// placed on its task's CPU, the session runs on the task's own server, and
// the collective group leader (task 0) resolves groups and instances. Every
// task must build the same collectives in the same order: instance keys are
// handed out by a per-server counter, so that the tasks' keys agree.

// collectiveGroupKey is the group of all the tasks' CPUs (one member each).
const collectiveGroupKey = 1

// DefaultCollectiveTimeout bounds one collective op: a task that died or is
// unreachable makes the others fail within it instead of waiting forever.
const DefaultCollectiveTimeout = 30 * time.Second

// handshakeBytes is the fixed length of the chief's broadcast command-line
// record (receivers must know the shape).
const handshakeBytes = 8192

func (s *Server) nextInstance() int32 {
	s.instance++
	return s.instance
}

// collectiveArgs returns the group size, group key and a fresh instance key
// as constants of scope sc.
func (s *Server) collectiveArgs(sc *op.Scope) (size, group, instance tf.Output) {
	return op.Const(sc.SubScope("group_size"), int32(s.cluster.Size())),
		op.Const(sc.SubScope("group_key"), int32(collectiveGroupKey)),
		op.Const(sc.SubScope("instance_key"), s.nextInstance())
}

// AllReduceMean adds, in the scope's graph, the mean of x over every task
// (CollectiveReduceV2, merge Add, final Div). The scope must be placed on
// this task's device.
func (s *Server) AllReduceMean(sc *op.Scope, x tf.Output, timeout time.Duration) tf.Output {
	n, g, k := s.collectiveArgs(sc)
	return op.CollectiveReduceV2(sc, x, n, g, k, nil, "Add", "Div",
		op.CollectiveReduceV2TimeoutSeconds(float32(timeout.Seconds())))
}

// AllReduceMeanFused is AllReduceMean of every x of xs (float32, of the
// static shapes given) through one collective: they are flattened into one
// vector, reduced, and split back. A training step's gradients go through
// it: one round trip per step instead of one per tensor, and one timeout
// (TensorFlow starts a sleeping thread per timed collective that lives for
// the whole timeout, which per tensor and step adds up to thousands).
func (s *Server) AllReduceMeanFused(sc *op.Scope, xs []tf.Output, shapes [][]int64, timeout time.Duration) []tf.Output {
	flat := make([]tf.Output, len(xs))
	sizes := make([]int64, len(xs))
	for i, x := range xs {
		sizes[i] = 1
		for _, d := range shapes[i] {
			sizes[i] *= d
		}
		flat[i] = op.Reshape(sc.SubScope("flatten"), x, op.Const(sc.SubScope("flat_shape"), []int64{-1}))
	}
	all := op.ConcatV2(sc.SubScope("fuse"), flat, op.Const(sc.SubScope("fuse_axis"), int32(0)))
	mean := s.AllReduceMean(sc, all, timeout)
	parts := op.SplitV(sc.SubScope("unfuse"), mean, op.Const(sc.SubScope("sizes"), sizes), op.Const(sc.SubScope("unfuse_axis"), int32(0)), int64(len(xs)))
	out := make([]tf.Output, len(xs))
	for i, p := range parts {
		shape := shapes[i]
		if shape == nil {
			shape = []int64{}
		}
		out[i] = op.Reshape(sc.SubScope("unflatten"), p, op.Const(sc.SubScope("shape"), shape))
	}
	return out
}

// AllReduceSum is AllReduceMean without the division.
func (s *Server) AllReduceSum(sc *op.Scope, x tf.Output, timeout time.Duration) tf.Output {
	n, g, k := s.collectiveArgs(sc)
	return op.CollectiveReduceV2(sc, x, n, g, k, nil, "Add", "Id",
		op.CollectiveReduceV2TimeoutSeconds(float32(timeout.Seconds())))
}

// Broadcast adds the chief's x, sent to every task: on task 0 x is sent
// (and returned), elsewhere x only gives the shape and type of what is
// received.
func (s *Server) Broadcast(sc *op.Scope, x tf.Output, timeout time.Duration) tf.Output {
	n, g, k := s.collectiveArgs(sc)
	if s.cluster.Task == 0 {
		return op.CollectiveBcastSendV2(sc, x, n, g, k, op.CollectiveBcastSendV2TimeoutSeconds(float32(timeout.Seconds())))
	}
	return op.CollectiveBcastRecvV2(sc, n, g, k, op.Shape(sc, x), x.DataType(),
		op.CollectiveBcastRecvV2TimeoutSeconds(float32(timeout.Seconds())))
}

// Gather adds the concatenation along dimension 0 of every task's x, in
// task order (CollectiveGatherV2).
func (s *Server) Gather(sc *op.Scope, x tf.Output, timeout time.Duration) tf.Output {
	n, g, k := s.collectiveArgs(sc)
	return op.CollectiveGatherV2(sc, x, n, g, k, nil, op.CollectiveGatherV2TimeoutSeconds(float32(timeout.Seconds())))
}

// session opens a session on this server for graph g.
func (s *Server) session(g *tf.Graph, timeout time.Duration) (*tf.Session, error) {
	cp := s.cluster.sessionConfig()
	cp.OperationTimeoutInMs = 2 * timeout.Milliseconds()
	b, err := proto.Marshal(cp)
	if err != nil {
		return nil, err
	}
	return tf.NewSession(g, &tf.SessionOptions{Target: s.target, Config: b})
}

// CollectiveError is a collective that did not complete: a task died, is
// unreachable, or did not take part in time.
type CollectiveError struct {
	Op   string // what tlearn was doing
	Lost string // the tasks that do not answer ("" when all answer)
	Err  error  // TensorFlow's error
}

func (e *CollectiveError) Error() string {
	cause := e.Err.Error()
	var te *TFError
	if errors.As(e.Err, &te) {
		cause = te.Code + ": " + te.Msg // te.Op is e.Op
	}
	if e.Lost != "" {
		return fmt.Sprintf("%s: lost %s: %s", e.Op, e.Lost, cause)
	}
	return fmt.Sprintf("%s: a task did not take part in time: %s", e.Op, cause)
}

func (e *CollectiveError) Unwrap() error { return e.Err }

// collectiveErr turns a failed collective's error into a CollectiveError
// naming the tasks whose servers no longer accept connections. A task that
// was just killed may still hold its listening socket for a moment while
// its connections already reset, so the probe is repeated a few times; if
// every server still answers, the task TensorFlow's gRPC error names as
// the failing remote target is the lost one.
func (s *Server) collectiveErr(what string, err error) error {
	dial := func(addr string) error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	var lost []int
	for try := 0; try < lostProbes && len(lost) == 0; try++ {
		if try > 0 {
			time.Sleep(lostProbeGap)
		}
		lost = s.cluster.unreachable(dial)
	}
	if len(lost) == 0 {
		lost = remoteTargets(s.cluster, err.Error())
	}
	return &CollectiveError{Op: what, Lost: describeTasks(s.cluster, lost), Err: tfErr(what, err)}
}

// lostProbes and lostProbeGap bound the search for a lost task after a
// failed collective: about 3 s.
const (
	lostProbes   = 4
	lostProbeGap = time.Second
)

// remoteTargetRE matches the task gRPC names in "from remote target
// /job:worker/replica:0/task:N" when a call to it failed.
var remoteTargetRE = regexp.MustCompile(`remote target /job:` + ClusterJob + `/replica:0/task:(\d+)`)

// remoteTargets returns the tasks other than this one that msg names as
// failing remote targets, in order, each once.
func remoteTargets(c Cluster, msg string) []int {
	var out []int
	for _, m := range remoteTargetRE.FindAllStringSubmatch(msg, -1) {
		i, err := strconv.Atoi(m[1])
		if err != nil || i == c.Task || i < 0 || i >= len(c.Workers) || slices.Contains(out, i) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// AllReduce returns the mean (or sum) over every task of values, which must
// have the same length everywhere. It runs a graph of its own: it is for
// seldom-averaged numbers (validation counts), not the training step.
func (s *Server) AllReduce(values []float32, mean bool, timeout time.Duration) ([]float32, error) {
	return runCollective[[]float32](s, "all-reduce", timeout, func(dev *op.Scope) tf.Output {
		x := op.Const(dev.SubScope("x"), values)
		if mean {
			return s.AllReduceMean(dev.SubScope("allreduce"), x, timeout)
		}
		return s.AllReduceSum(dev.SubScope("allreduce"), x, timeout)
	})
}

// runCollective builds the collective that build returns (its ops on this
// task's CPU, given as dev) in a graph of its own, runs it once in a
// session of its own and returns its value, a T. what names it in errors.
func runCollective[T any](s *Server, what string, timeout time.Duration, build func(dev *op.Scope) tf.Output) (T, error) {
	var zero T
	sc := op.NewScope()
	y := build(sc.WithDevice(s.cluster.Device(s.cluster.Task, "CPU:0")))
	g, err := sc.Finalize()
	if err != nil {
		return zero, fmt.Errorf("%s: build graph: %w", what, err)
	}
	sess, err := s.session(g, timeout)
	if err != nil {
		return zero, fmt.Errorf("%s: session on %s: %w", what, s.target, err)
	}
	defer sess.Close()
	out, err := sess.Run(nil, []tf.Output{y}, nil)
	if err != nil {
		return zero, s.collectiveErr(what, err)
	}
	defer freeTensors[tf.Output](nil, out...)
	v, ok := out[0].Value().(T)
	if !ok {
		return zero, fmt.Errorf("%s: result is %T, want %T", what, out[0].Value(), zero)
	}
	return v, nil
}

// GatherBytes returns every task's b, in task order (this task's own
// included). The lengths go first, then every b padded to the longest:
// two collectives, each of its own graph, so it is for seldom-shared data
// (the bad files a task met), not for every step.
func (s *Server) GatherBytes(b []byte, timeout time.Duration) ([][]byte, error) {
	lens, err := s.gatherInt32([]int32{int32(len(b))}, timeout)
	if err != nil {
		return nil, err
	}
	longest := int32(0)
	for _, n := range lens {
		if n < 0 {
			return nil, errors.New("gather: corrupt length")
		}
		longest = max(longest, n)
	}
	out := make([][]byte, len(lens))
	if longest == 0 {
		return out, nil
	}
	buf := make([]int32, longest) // one byte per element, as Handshake
	for i, c := range b {
		buf[i] = int32(c)
	}
	all, err := s.gatherInt32(buf, timeout)
	if err != nil {
		return nil, err
	}
	for t, n := range lens {
		out[t] = make([]byte, n)
		for i := range out[t] {
			out[t][i] = byte(all[t*int(longest)+i])
		}
	}
	return out, nil
}

// gatherInt32 runs Gather of x (the same length on every task) in a graph
// of its own.
func (s *Server) gatherInt32(x []int32, timeout time.Duration) ([]int32, error) {
	return runCollective[[]int32](s, fmt.Sprintf("gather of task %d", s.cluster.Task), timeout, func(dev *op.Scope) tf.Output {
		return s.Gather(dev.SubScope("gather"), op.Const(dev.SubScope("x"), x), timeout)
	})
}

// Handshake checks that every task runs the same command: the chief
// broadcasts its record (name → value of every setting that must agree,
// e.g. arch, global batch, classes, seed), each task compares it with its
// own, and the tasks gather who differs. A task that differs gets an error
// saying which settings differ from the chief's; the chief gets an error
// naming the tasks that differ. It is also the first contact: a task that
// never comes makes it fail within timeout.
func (s *Server) Handshake(record map[string]string, timeout time.Duration) error {
	own, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if len(own) > handshakeBytes {
		return fmt.Errorf("handshake: command record of %d bytes, at most %d", len(own), handshakeBytes)
	}
	buf := make([]int32, handshakeBytes+1) // length first, then one byte per element
	buf[0] = int32(len(own))
	for i, b := range own {
		buf[i+1] = int32(b)
	}

	// Phase 1: the chief's record to everyone.
	got, err := runCollective[[]int32](s, fmt.Sprintf("handshake of task %d with the chief", s.cluster.Task), timeout, func(dev *op.Scope) tf.Output {
		return s.Broadcast(dev.SubScope("bcast"), op.Const(dev.SubScope("record"), buf), timeout)
	})
	if err != nil {
		return err
	}
	if got[0] < 0 || int(got[0]) > handshakeBytes {
		return errors.New("handshake: corrupt record from the chief")
	}
	cb := make([]byte, got[0])
	for i := range cb {
		cb[i] = byte(got[i+1])
	}
	var theirs map[string]string
	if err := json.Unmarshal(cb, &theirs); err != nil {
		return fmt.Errorf("handshake: chief's record: %w", err)
	}
	diff := recordDiff(record, theirs)

	// Phase 2: everyone learns who differs.
	flag := int32(0)
	if diff != "" {
		flag = 1
	}
	all, err := runCollective[[]int32](s, fmt.Sprintf("handshake of task %d", s.cluster.Task), timeout, func(dev *op.Scope) tf.Output {
		return s.Gather(dev.SubScope("gather"), op.Const(dev.SubScope("flag"), []int32{flag}), timeout)
	})
	if err != nil {
		return err
	}
	if diff != "" {
		return &MismatchError{Task: s.cluster.Task, Diff: diff}
	}
	var bad []int
	for i, f := range all {
		if f != 0 {
			bad = append(bad, i)
		}
	}
	if len(bad) > 0 {
		return &MismatchError{Task: s.cluster.Task, Others: describeTasks(s.cluster, bad)}
	}
	return nil
}

// MismatchError is a handshake that found tasks started with different
// commands.
type MismatchError struct {
	Task   int    // this task
	Diff   string // this task's settings that differ from the chief's ("" if none)
	Others string // the other tasks that differ from the chief
}

func (e *MismatchError) Error() string {
	if e.Diff != "" {
		return fmt.Sprintf("task %d was started with a different command than the chief (task 0): %s", e.Task, e.Diff)
	}
	return fmt.Sprintf("%s started with a different command than task %d; see their messages", e.Others, e.Task)
}

// recordDiff lists the keys whose values differ, "key: here X, chief Y".
func recordDiff(mine, chief map[string]string) string {
	keys := map[string]bool{}
	for k := range mine {
		keys[k] = true
	}
	for k := range chief {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var parts []string
	for _, k := range sorted {
		a, okA := mine[k]
		b, okB := chief[k]
		if a != b || okA != okB {
			parts = append(parts, fmt.Sprintf("%s: here %q, chief %q", k, a, b))
		}
	}
	return strings.Join(parts, "; ")
}
