package train

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfevents"
	"github.com/tlearn/tlearn/tfgraph"
)

// Loop is the state of a training run that hooks see.
type Loop struct {
	Opts          *Options
	Model         *tfgraph.Model
	Data          *pipeline.Dataset
	Events        *tfevents.Writer
	Log           *slog.Logger
	StepsPerEpoch int
	TotalSteps    int64
	Step          int64 // global step: updates applied so far
	Resumed       bool
	Best          *rundir.Best
	LastVal       *ValResult
	LastLoss      float64
	Checkpoint    string // latest checkpoint prefix
	// StopReason is why a hook stopped the run early (Stop), "" otherwise.
	StopReason string

	status                 *statusLine // progress bar on a terminal, nil otherwise
	trainLoader, valLoader *pipeline.Loader
	bad                    map[string]bool // bad files already reported
	inputWait              *inputWaitHook
	headPhaseLogged        bool // the start of the head-only phase was logged
}

// StepInfo describes one finished training step.
type StepInfo struct {
	Step      int64
	Epoch     int     // 1-based
	Loss      float64 // cross-entropy of the batch
	TotalLoss float64 // plus weight decay
	LR        float64
	Images    int           // of the global batch (in a cluster, every task's shard)
	StepTime  time.Duration // wall time since the previous step ended (includes waiting for data)
	InputWait time.Duration // part of StepTime spent waiting for the batch (see inputwait.go)
	// LossScale is the step's loss scale (fp16 only, else 0); Skipped says
	// its gradients overflowed float16, so it changed no weight.
	LossScale float64
	Skipped   bool
	// HeadOnly marks a step of the head-only phase (--head-epochs); LRBody
	// is the learning rate of the layers but the head (0 in that phase).
	HeadOnly bool
	LRBody   float64
}

// EndReason says why the loop ended.
type EndReason int

const (
	Finished EndReason = iota
	Interrupted
	Failed
	// EarlyStopped: a hook called Stop (the validation hook, after
	// Options.Patience validations without a better top-1). The run saved a
	// checkpoint (the same options resume from it) but, unlike Finished,
	// runs no end-of-run validation; Result.StopReason says why.
	EarlyStopped
)

// Stop ends the run after the current step's hooks have run, with
// EndReason EarlyStopped: for early stopping, by the validation hook
// (Options.Patience) or a library user's own. reason is logged and returned
// in Result.StopReason; the first call wins.
func (l *Loop) Stop(reason string) {
	if l.StopReason == "" {
		l.StopReason = reason
	}
}

// Hook reacts to the loop's events. Hooks run in order; an error from one
// stops the run. OnEnd runs for every hook even if an earlier one failed.
type Hook interface {
	Name() string
	OnStart(l *Loop) error
	OnStep(l *Loop, s StepInfo) error
	OnEnd(l *Loop, why EndReason) error
}

func (l *Loop) hooks() []Hook {
	l.inputWait = &inputWaitHook{}
	return append([]Hook{
		l.inputWait,
		newProgressHook(l),
		&tensorboardHook{},
		&validationHook{},
		&checkpointHook{},
	}, l.Opts.Hooks...)
}

func (l *Loop) close() {
	if l.Events != nil {
		l.Events.Close()
	}
	l.Model.Close()
}

func (l *Loop) run(ctx context.Context) (*Result, error) {
	hooks := l.hooks()
	for _, h := range hooks {
		if err := h.OnStart(l); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name(), err)
		}
	}
	why, err := l.steps(ctx, hooks)
	for _, h := range hooks {
		if herr := h.OnEnd(l, why); herr != nil && err == nil {
			err = fmt.Errorf("%s: %w", h.Name(), herr)
		}
	}
	var nan *NonFiniteLossError
	if errors.As(err, &nan) {
		l.explainNonFinite(nan)
	}
	res := &Result{RunDir: l.Opts.Out, Step: l.Step, TotalSteps: l.TotalSteps, Resumed: l.Resumed,
		FinalLoss: l.LastLoss, Val: l.LastVal, Best: l.Best, BadFiles: len(l.bad), Checkpoint: l.Checkpoint, End: why}
	if why == EarlyStopped {
		res.StopReason = l.StopReason
	}
	if err == nil && why == Interrupted {
		err = ErrInterrupted
	}
	return res, err
}

// explainNonFinite tells a stopped run's error which checkpoint a rerun
// resumes from, and removes this run's event file when the run saved no
// checkpoint: its steps will be trained (and logged) again.
func (l *Loop) explainNonFinite(e *NonFiniteLossError) {
	e.Checkpoint, _ = tfgraph.LatestCheckpoint(l.Opts.Out)
	if l.Checkpoint != "" || l.Events == nil {
		return
	}
	path := l.Events.Path()
	l.Events.Close()
	l.Events = nil
	if err := os.Remove(path); err == nil {
		e.EventsRemoved = path
	}
}

// steps runs training steps until TotalSteps, cancellation or failure. One
// Loader.Epochs iteration feeds every epoch, so the pipeline prepares the
// next epoch's first batches while the current epoch's last steps run.
func (l *Loop) steps(ctx context.Context, hooks []Hook) (EndReason, error) {
	if l.Step >= l.TotalSteps {
		return Finished, nil
	}
	if l.StopReason != "" { // a hook's OnStart stopped it
		return EarlyStopped, nil
	}
	spe := int64(l.StepsPerEpoch)
	last := time.Now()
	waitFrom := last // when the loop last asked the pipeline for a batch
	for b, err := range l.trainLoader.Epochs(ctx, l.Data.Train, int(l.Step/spe), int(l.Step%spe)) {
		wait := time.Since(waitFrom)
		if err != nil {
			if ctx.Err() != nil {
				return Interrupted, nil
			}
			return Failed, fmt.Errorf("input pipeline: %w", err)
		}
		fresh, err := l.reportBad(b.Failed)
		if err != nil {
			return Failed, err
		}
		epoch := b.Epoch
		// In a cluster the step also tells every task how many bad files
		// the tasks met for the first time (each loads only its shard).
		r, err := l.Model.TrainStepNote(b.Images, b.Labels, b.N, float32(len(fresh)))
		n := b.N * max(1, l.Opts.shard().Count) // the global batch: every shard is full
		l.trainLoader.Release(b)
		if err != nil {
			return Failed, fmt.Errorf("train step %d: %w", l.Step+1, err)
		}
		if r.NoteSum > 0 {
			if err := l.shareBad(fresh); err != nil {
				return Failed, err
			}
		}
		if !finite(float64(r.TotalLoss)) {
			return Failed, &NonFiniteLossError{Step: r.Step, Loss: float64(r.TotalLoss), LR: float64(r.LearningRate)}
		}
		now := time.Now()
		l.Step = r.Step
		l.LastLoss = float64(r.Loss)
		info := StepInfo{Step: r.Step, Epoch: epoch + 1, Loss: float64(r.Loss), TotalLoss: float64(r.TotalLoss),
			LR: float64(r.LearningRate), Images: n, StepTime: now.Sub(last), InputWait: min(wait, now.Sub(last)),
			LossScale: float64(r.LossScale), Skipped: r.Skipped, HeadOnly: r.HeadOnly, LRBody: float64(r.LearningRateBody)}
		if r.HeadOnly && !l.headPhaseLogged {
			l.headPhaseLogged = true
			l.Log.Info("training only the head first (--head-epochs), the body in inference mode", "until_step", l.Model.Config().HeadSteps)
		}
		if hs := l.Model.Config().HeadSteps; hs > 0 && !r.HeadOnly && r.Step == hs+1 {
			l.Log.Info("head-only phase done: now training the layers --trainable names", "trainable", l.Opts.Trainable, "step", r.Step)
		}
		last = now
		for _, h := range hooks {
			if err := h.OnStep(l, info); err != nil {
				return Failed, fmt.Errorf("%s: %w", h.Name(), err)
			}
		}
		waitFrom = time.Now()
		if ctx.Err() != nil {
			return Interrupted, nil
		}
		if l.Step >= l.TotalSteps {
			return Finished, nil
		}
		if l.StopReason != "" {
			return EarlyStopped, nil
		}
	}
	if ctx.Err() != nil {
		return Interrupted, nil
	}
	// Epochs ends only with an error or when we stop it: an end here is a bug.
	return Failed, fmt.Errorf("input pipeline ended at step %d of %d", l.Step, l.TotalSteps)
}

// reportBad appends newly seen bad files to RUN_DIR/bad_files.txt at once, so
// a crash loses none, logs each once (with attrs, e.g. the task that met
// it), and returns them.
func (l *Loop) reportBad(failed []pipeline.BadFile, attrs ...any) ([]pipeline.BadFile, error) {
	var fresh []pipeline.BadFile
	for _, f := range failed {
		if !l.bad[f.Path] {
			l.bad[f.Path] = true
			fresh = append(fresh, f)
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	for _, f := range fresh {
		l.Log.Warn("skipping unreadable image", append([]any{"path", f.Path, "reason", f.Reason}, attrs...)...)
	}
	return fresh, appendBadFiles(l.Opts.Out, fresh)
}

// shareBad gathers the bad files every task of a cluster met for the first
// time in this step (or validation), called on every task when the step's
// note says some task met any: each task loads only its own shard, and the
// chief records the others' so that RUN_DIR/bad_files.txt (and
// Result.BadFiles) list every bad file of the run, as on one device.
func (l *Loop) shareBad(fresh []pipeline.BadFile) error {
	srv := l.Opts.server
	mine, err := json.Marshal(fresh)
	if err != nil {
		return fmt.Errorf("share bad files: %w", err)
	}
	all, err := srv.GatherBytes(mine, l.collectiveTimeout())
	if err != nil {
		return fmt.Errorf("share bad files: %w", err)
	}
	if !l.Opts.Cluster.Chief() {
		return nil
	}
	for task, data := range all {
		if task == l.Opts.Cluster.Task || len(data) == 0 {
			continue
		}
		var theirs []pipeline.BadFile
		if err := json.Unmarshal(data, &theirs); err != nil {
			return fmt.Errorf("share bad files: task %d's list: %w", task, err)
		}
		if _, err := l.reportBad(theirs, "task", task); err != nil {
			return err
		}
	}
	return nil
}

// collectiveTimeout bounds the loop's own collectives (validation sums, bad
// files) as the training step's.
func (l *Loop) collectiveTimeout() time.Duration {
	return cmp.Or(l.Opts.CollectiveTimeout, tfgraph.DefaultCollectiveTimeout)
}

// Validate runs the model over the whole validation split, with the
// weights' moving averages when the run keeps them (--ema). In a cluster
// each task evaluates its own contiguous block of the split and the sums
// (loss, top-1, top-5, images, failures) are all-reduced, so every task
// gets the whole split's numbers, the ones one device computes (the loss up
// to float summation order), in 1/tasks of the time.
func (l *Loop) Validate(ctx context.Context) (_ *ValResult, err error) {
	if len(l.Data.Val) == 0 {
		return nil, nil
	}
	if l.Model.KeepsAverages() { // validate the weights' moving averages
		if err := l.Model.SwapAverages(); err != nil {
			return nil, err
		}
		defer func() {
			if e := l.Model.SwapAverages(); e != nil && err == nil {
				err = fmt.Errorf("validation: the weights are left swapped with their averages: %w", e)
			}
		}()
	}
	res := &ValResult{Step: l.Step}
	var lossSum float64
	var top1, top5 int
	var freshBad []pipeline.BadFile // met for the first time, to share in a cluster
	val := l.Data.Val
	if sh := l.Opts.shard(); sh.Count > 1 {
		val = val[len(val)*sh.Index/sh.Count : len(val)*(sh.Index+1)/sh.Count]
	}
	for b, err := range l.valLoader.Epoch(ctx, val, 0, 0) {
		if err != nil {
			return nil, err
		}
		fresh, err := l.reportBad(b.Failed)
		if err != nil {
			return nil, err
		}
		freshBad = append(freshBad, fresh...)
		res.Failed += len(b.Failed)
		if b.N > 0 {
			r, err := l.Model.Evaluate(b.Images, b.Labels, b.N)
			if err != nil {
				l.valLoader.Release(b)
				return nil, fmt.Errorf("validation: %w", err)
			}
			lossSum += float64(r.Loss) * float64(b.N)
			top1 += r.Top1
			top5 += r.Top5
			res.N += b.N
		}
		l.valLoader.Release(b)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if srv := l.Opts.server; srv != nil {
		anyBad, err := l.reduceValidation(srv, res, &lossSum, &top1, &top5, len(freshBad))
		if err != nil {
			return nil, err
		}
		if anyBad {
			if err := l.shareBad(freshBad); err != nil {
				return nil, err
			}
		}
	}
	if res.N == 0 {
		return nil, errors.New("validation: no readable image in the validation split")
	}
	res.Loss = lossSum / float64(res.N)
	res.Top1 = float64(top1) / float64(res.N)
	res.Top5 = float64(top5) / float64(res.N)
	return res, nil
}

// reduceValidation sums one task's validation counts and loss over the
// cluster's tasks, in place, and says whether any task met bad files for
// the first time (fresh: this task's count). The counts travel as float32,
// exact up to 2²⁴ images; the loss sum as two float32 (its value and its
// rounding error), so it keeps about float64's precision.
func (l *Loop) reduceValidation(srv *tfgraph.Server, res *ValResult, lossSum *float64, top1, top5 *int, fresh int) (anyBad bool, err error) {
	hi := float32(*lossSum)
	lo := float32(*lossSum - float64(hi))
	sums, err := srv.AllReduce([]float32{hi, lo, float32(*top1), float32(*top5), float32(res.N), float32(res.Failed), float32(fresh)}, false,
		l.collectiveTimeout())
	if err != nil {
		return false, fmt.Errorf("validation: %w", err)
	}
	*lossSum = float64(sums[0]) + float64(sums[1])
	*top1, *top5, res.N, res.Failed = int(sums[2]), int(sums[3]), int(sums[4]), int(sums[5])
	return sums[6] > 0, nil
}
