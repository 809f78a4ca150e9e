package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfevents"
	"github.com/tlearn/tlearn/tfgraph"
)

// Result summarises a finished (or interrupted) run.
type Result struct {
	RunDir     string
	Step       int64 // global step reached
	TotalSteps int64
	Resumed    bool
	FinalLoss  float64
	Val        *ValResult // last validation, nil if none ran
	Best       *rundir.Best
	BadFiles   int
	Checkpoint string // latest checkpoint prefix
	// End is why the run ended: Finished, EarlyStopped (StopReason says
	// why), Interrupted or Failed.
	End        EndReason
	StopReason string
}

// ValResult is one pass over the validation split.
type ValResult struct {
	Step       int64
	N, Failed  int
	Loss       float64
	Top1, Top5 float64 // fractions in 0..1
}

// Run trains as configured (every field as given: start from DefaultOptions)
// and returns when the run is done, failed, or ctx
// was cancelled (then it saves a checkpoint and returns ErrInterrupted).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := inheritFromRunDir(&o); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Cluster.Distributed() {
		done, err := joinCluster(&o)
		if err != nil {
			return nil, err
		}
		defer done()
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	var status *statusLine
	if isTerminal(o.Progress) {
		status = newStatusLine(o.Progress)
	}
	if o.Log == nil {
		var w io.Writer = o.Progress
		if status != nil {
			w = status // log lines go above the progress bar
		}
		o.Log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	_, statErr := os.Stat(o.Out)
	created := errors.Is(statErr, fs.ErrNotExist)
	lock, err := rundir.Acquire(o.Out)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	removeStaleTemp(o.Out, o.Log)
	removeStaleTemp(filepath.Join(o.Out, rundir.BestDir), o.Log)

	l, err := setup(ctx, &o)
	if err != nil {
		if created {
			// Bad weights or data: leave no half-made RUN_DIR behind. LOCK
			// goes while still held (a racing run then fails to lock or
			// makes its own inode); Remove fails harmlessly if anything
			// else was written.
			os.Remove(filepath.Join(o.Out, rundir.LockFile))
			lock.Release()
			os.Remove(o.Out)
		}
		return nil, err
	}
	defer l.close()
	l.status = status
	return l.run(ctx)
}

// removeStaleTemp deletes the temp files a killed run left in dir while it
// was writing a checkpoint (TensorFlow's SaveV2 writes
// "PREFIX.data-*.tempstateN" and "PREFIX.index.tempstateN", then renames) or
// an atomic file (".NAME.tmp*"). Nothing reads them, and each orphaned
// checkpoint part is as large as the model (550 MB for VGG19), so repeated
// crashes would fill the disk. Only called while holding the run's LOCK, so
// no live writer owns them.
func removeStaleTemp(dir string, log *slog.Logger) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		stale := strings.HasPrefix(n, "model.ckpt-") && strings.Contains(n, ".tempstate") ||
			strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp")
		if !stale || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err == nil {
			log.Info("removed a temp file left by an interrupted save", "path", filepath.Join(dir, n))
		}
	}
}

// setup loads the data, builds the model, and restores weights or the latest
// checkpoint; every input error surfaces here, before the first step.
func setup(ctx context.Context, o *Options) (*Loop, error) {
	log := o.Log
	if !o.SoftPlacement {
		if err := tfgraph.CheckDevice(o.Device); err != nil {
			return nil, usage(err.Error() + ": use --device cpu, or --soft-placement to fall back to the CPU")
		}
	}
	devices, err := tfgraph.ResolveDevices(o.Devices)
	if err != nil {
		return nil, usage("--devices: " + err.Error())
	}
	if n := len(devices); n > 0 && o.Batch%n != 0 {
		return nil, usage(fmt.Sprintf("--batch %d does not split evenly over the %d devices of --devices %s: --batch is the global batch, give a multiple of %d", o.Batch, n, o.Devices, n))
	}
	o.devices = devices
	ckpt, err := tfgraph.LatestCheckpoint(o.Out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("look for a checkpoint to resume in %s: %w", o.Out, err)
	}
	var prev *rundir.Config
	if ckpt != "" {
		c, err := rundir.ReadConfig(o.Out)
		if err != nil {
			return nil, fmt.Errorf("resume %s: %w", o.Out, err)
		}
		prev = c
	} else if o.Weights == "" {
		return nil, usage("--weights is required: a TF-Slim checkpoint (e.g. vgg_19.ckpt), a tlearn RUN_DIR, or 'none' to train from scratch")
	}

	if _, err := os.Stat(o.Data); errors.Is(err, fs.ErrNotExist) {
		return nil, usage(fmt.Sprintf("--data %s does not exist", o.Data))
	}
	var changes []rundir.Change // settings a resume changes
	var forceClasses []string
	if prev != nil {
		forceClasses = prev.Classes
	}
	ds, err := pipeline.Load(o.Data, pipeline.LoadOptions{Layout: o.Layout, ValSplit: o.ValSplit, Seed: o.Seed, Classes: forceClasses})
	if err != nil {
		return nil, err // pipeline's errors name the path
	}
	if len(ds.Classes) < 2 {
		return nil, usage(fmt.Sprintf("%s has %d class (%s): a classifier needs at least 2 — add a sub-folder (or labels) per class",
			o.Data, len(ds.Classes), strings.Join(ds.Classes, ", ")))
	}
	if len(ds.Train) < o.Batch {
		return nil, usage(fmt.Sprintf("the training split has %d images, fewer than one batch of %d: lower --batch or add images", len(ds.Train), o.Batch))
	}
	if prev != nil {
		if err := compatible(prev, o, ds); err != nil {
			return nil, fmt.Errorf("cannot resume %s: %w", o.Out, err)
		}
		if err := refuseSplitChange(prev, o); err != nil {
			return nil, err
		}
	}

	stepsPerEpoch := pipeline.StepsPerEpoch(len(ds.Train), o.Batch, true)
	total := int64(o.Epochs) * int64(stepsPerEpoch)
	if o.Steps > 0 {
		total = o.Steps
	}
	warmup, stepEvery := o.scheduleSteps(stepsPerEpoch)
	if warmup >= total {
		return nil, usage(fmt.Sprintf("the warmup (%d steps) must be shorter than the run (%d steps): lower --warmup-steps/--warmup-epochs", warmup, total))
	}
	headSteps := o.headSteps(stepsPerEpoch)
	if headSteps >= total {
		return nil, usage(fmt.Sprintf("the head-only phase (%d steps) must be shorter than the run (%d steps): lower --head-epochs", headSteps, total))
	}
	var classWeights []float32
	if o.ClassWeights == "balanced" {
		classWeights = balancedWeights(ds)
	}
	// From scratch: decided by the run's start, kept by its resumes. A
	// cluster's other tasks have no RUN_DIR: joinCluster took it from their
	// --weights, and the handshake checks that it agrees with the chief's.
	if o.server == nil || o.Cluster.Chief() {
		o.fromScratch = o.Weights == "none"
		if prev != nil {
			o.fromScratch = prev.Train.FromScratch
		}
	}
	if o.server != nil {
		// Every task must run the same command: the chief's record is
		// broadcast and compared before any weight moves.
		if err := o.server.Handshake(clusterRecord(o, ds, total), handshakeTimeout); err != nil {
			var me *tfgraph.MismatchError
			if errors.As(err, &me) {
				return nil, usage(err.Error())
			}
			return nil, err
		}
	}
	threads := o.Threads
	bn := batchNormMode(o, prev)
	if o.BatchNorm != bn {
		log.Info("batch norm", "mode", bn, "why", "--batch-norm "+o.BatchNorm+": "+map[string]string{
			tfgraph.BatchNormFrozen: "fine-tuning from weights (moving statistics, never updated)",
			tfgraph.BatchNormTrain:  "training from scratch, or a run that trained so (batch statistics)"}[bn])
	}
	o.BatchNorm = bn
	model, err := tfgraph.NewModel(tfgraph.Config{
		Cluster: o.server, CollectiveTimeout: o.CollectiveTimeout,
		Arch: o.Arch, NumClasses: len(ds.Classes), InputSize: o.InputSize, Trainable: o.Trainable,
		LearningRate: o.LR, LearningRateEnd: o.LREnd, LRPower: 1, DecaySteps: total,
		Schedule: o.Schedule, WarmupSteps: warmup, StepEvery: stepEvery, StepGamma: o.StepGamma,
		Optimizer: o.Optimizer, Momentum: o.Momentum, Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon, Rho: o.Rho,
		WeightDecay: o.WeightDecay, DropoutKeep: o.DropoutKeep, BatchNorm: o.BatchNorm, ClassWeights: classWeights,
		LabelSmoothing: o.LabelSmoothing, ClipNorm: o.ClipNorm,
		HeadSteps: headSteps, BodyLRMult: &o.BodyLRMult, EMADecay: o.EMA, FromScratch: o.fromScratch,
		Seed: o.Seed, Device: o.Device, Devices: o.devices, IntraOpThreads: threads, SoftPlacement: true, GPUMemoryGrowth: true,
		Precision: o.Precision, LossScale: tfgraph.DefaultLossScale, ConvAlgorithm: o.Conv,
	})
	if err != nil {
		var ce *tfgraph.ConfigError
		if errors.As(err, &ce) {
			return nil, usage(ce.Error())
		}
		return nil, err // tfgraph's errors name the arch
	}
	model.KeepCheckpoints = o.KeepCheckpoints
	dev0 := o.Device
	if len(o.devices) > 0 {
		dev0 = o.devices[0]
	}
	if o.Precision == tfgraph.PrecisionFP16 && !tfgraph.OnGPU(dev0) {
		log.Warn("fp16 on the CPU is TensorFlow's float16 emulation: float16 numerics at float32 speed or slower, for testing; on a CPU train in fp32 (or bf16 on CPUs with AMX/AVX512-BF16)")
	}
	l := &Loop{Opts: o, Model: model, Data: ds, StepsPerEpoch: stepsPerEpoch, TotalSteps: total, Log: log, bad: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			model.Close()
		}
	}()

	if ckpt != "" {
		if err := model.RestoreCheckpoint(ckpt); err != nil {
			return nil, fmt.Errorf("resume from %s: %w", ckpt, err)
		}
		if l.Step, err = model.GlobalStep(); err != nil {
			return nil, err
		}
		l.Resumed = true
		msg := fmt.Sprintf("resuming from %s at step %d (epoch %d, batch %d of %d)", filepath.Base(ckpt), l.Step, l.Step/int64(stepsPerEpoch)+1, l.Step%int64(stepsPerEpoch), stepsPerEpoch)
		if o.Weights != "" && o.Weights != "none" {
			msg += fmt.Sprintf("; --weights %s is ignored", o.Weights)
		}
		log.Info(msg)
		for _, ch := range settingChanges(prev, o, total) {
			ch.Step = l.Step
			log.Info("resume changes a setting (recorded in config.json)", "setting", "--"+ch.Key, "from", ch.From, "to", ch.To)
			changes = append(changes, ch)
		}
	} else if o.Weights != "none" {
		from, which, err := weightsCheckpoint(o.Weights)
		if err != nil {
			return nil, err
		}
		if err := model.LoadPretrained(from); err != nil {
			return nil, fmt.Errorf("pretrained weights: %w", err)
		}
		heads, err := tfgraph.ArchHeads(o.Arch)
		if err != nil {
			return nil, err
		}
		args := []any{"from", from, "head", fmt.Sprintf("%s → %d classes, fresh", strings.Join(heads, ", "), len(ds.Classes))}
		if which != "" {
			args = append(args, "checkpoint", which)
		}
		log.Info("restored pretrained weights (all but the head)", args...)
	} else {
		log.Info("training from scratch (--weights none)")
	}

	if o.server != nil {
		// The chief's restored (or pretrained) variables, global step
		// included, to every task.
		if err := model.BroadcastVariables(); err != nil {
			return nil, err
		}
		if l.Step, err = model.GlobalStep(); err != nil {
			return nil, err
		}
		l.Resumed = l.Step > 0
		log.Info("cluster task ready", "task", o.Cluster.Task, "tasks", len(o.Cluster.Workers), "step", l.Step,
			"batch_per_task", o.Batch/len(o.Cluster.Workers))
	}
	if err := writeRunFiles(o, ds, stepsPerEpoch, total, changes); err != nil {
		return nil, err
	}
	if best, found, err := rundir.ReadBest(o.Out); err != nil {
		return nil, err
	} else if found {
		l.Best = &best
	}

	norm, err := tfgraph.ArchNorm(o.Arch)
	if err != nil {
		return nil, err
	}
	pre := o.preprocess(norm)
	// In a cluster each task decodes and augments only its own shard of
	// every global batch (the positions its replica trains on), exactly as
	// one device would have them.
	shard := o.shard()
	if l.trainLoader, err = pipeline.NewLoader(pre, pipeline.LoaderOptions{BatchSize: o.Batch, Workers: o.Workers, Mode: pipeline.Train, Shuffle: true, DropRemainder: true, Seed: o.Seed, Shard: shard, FullScaleJPEG: o.FullScaleJPEG}); err != nil {
		return nil, err
	}
	if o.server != nil {
		lo, hi := shard.Span(o.Batch)
		log.Info("cluster task loads its shard", "task", o.Cluster.Task, "positions", fmt.Sprintf("%d..%d of every global batch of %d", lo, hi-1, o.Batch))
	}
	if l.valLoader, err = pipeline.NewLoader(pre, pipeline.LoaderOptions{BatchSize: o.ValBatch, Workers: o.Workers, Mode: pipeline.Eval, FullScaleJPEG: o.FullScaleJPEG}); err != nil {
		return nil, err
	}
	if l.Events, err = tfevents.NewWriter(o.Out); err != nil {
		return nil, err
	}
	if l.Resumed {
		l.Events.SessionStart(l.Step + 1)
	}
	log.Info("dataset", "layout", ds.Layout, "classes", len(ds.Classes), "train", len(ds.Train), "val", len(ds.Val),
		"steps_per_epoch", stepsPerEpoch, "total_steps", total, "arch", o.Arch, "input", o.InputSize, "trainable", o.Trainable,
		"workers", workersOrCPUs(o.Workers))
	_ = ctx
	ok = true
	return l, nil
}

func workersOrCPUs(n int) int {
	if n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// inheritFromRunDir fills Arch, InputSize and Style left empty from the
// config.json of a RUN_DIR given as Weights, and refuses a given Arch or
// InputSize that disagrees with it (its weights would not fit) or a run whose
// normalisation is not the pipeline's. Other weights leave o unchanged.
func inheritFromRunDir(o *Options) error {
	if o.Weights == "" || o.Weights == "none" || !rundir.Exists(o.Weights) {
		return nil
	}
	prev, err := rundir.ReadConfig(o.Weights)
	if err != nil {
		return err
	}
	switch {
	case o.Arch == "":
		o.Arch = prev.Arch
	case o.Arch != prev.Arch:
		return usage(fmt.Sprintf("--weights %s was trained as %s, not --arch %s: drop --arch or give --arch %s", o.Weights, prev.Arch, o.Arch, prev.Arch))
	}
	switch {
	case o.InputSize == 0:
		o.InputSize = prev.InputSize
	case o.InputSize != prev.InputSize:
		return usage(fmt.Sprintf("--weights %s was trained at --input-size %d, not %d: drop --input-size or give --input-size %d", o.Weights, prev.InputSize, o.InputSize, prev.InputSize))
	}
	if o.Style == "" {
		o.Style = prev.Preprocess.Style
	}
	prevNorm, err := prev.ImageNorm()
	if err != nil {
		return err
	}
	if norm, err := tfgraph.ArchNorm(o.Arch); err == nil && (prevNorm.Name != norm.Name || prev.Preprocess.Means != norm.Mean) {
		return usage(fmt.Sprintf("--weights %s was trained on %s inputs minus the means %v; %s takes %s minus %v", o.Weights, prevNorm.Name, prev.Preprocess.Means, o.Arch, norm.Name, norm.Mean))
	}
	return nil
}

// weightsCheckpoint resolves --weights to a checkpoint prefix: a RUN_DIR's
// best/ when it has one, else its latest (which says which, for the log);
// anything else as given.
func weightsCheckpoint(weights string) (prefix, which string, err error) {
	if !rundir.Exists(weights) {
		return weights, "", nil
	}
	if p, err := tfgraph.LatestCheckpoint(filepath.Join(weights, rundir.BestDir)); err == nil && p != "" {
		return p, "best (best validation top-1 of " + weights + ")", nil
	}
	p, err := tfgraph.LatestCheckpoint(weights)
	if err != nil || p == "" {
		return "", "", usage(fmt.Sprintf("--weights %s is a run directory without a checkpoint: train it first, or give another", weights))
	}
	return p, "latest (" + weights + " has no best/)", nil
}

// refuseSplitChange refuses a resume with another --val-split or --seed: the
// split would change, and images the run trained on would be validated on.
func refuseSplitChange(prev *rundir.Config, o *Options) error {
	switch {
	case prev.Train.ValSplit != o.ValSplit:
		return usage(fmt.Sprintf("cannot resume %s with --val-split %g: it was trained with %g, and another split would validate on images it trained on (give --val-split %g, or train into a new --out)", o.Out, o.ValSplit, prev.Train.ValSplit, prev.Train.ValSplit))
	case prev.Train.Seed != o.Seed:
		return usage(fmt.Sprintf("cannot resume %s with --seed %d: it was trained with %d, and another split would validate on images it trained on (give --seed %d, or train into a new --out)", o.Out, o.Seed, prev.Train.Seed, prev.Train.Seed))
	}
	return nil
}

// settingChanges lists the training settings o changes from the resumed
// run's config.json (Step is left to the caller).
func settingChanges(prev *rundir.Config, o *Options, total int64) []rundir.Change {
	p := prev.Train
	pairs := []struct {
		key      string
		from, to any
	}{
		{"lr", p.LR, o.LR}, {"lr-end", p.LREnd, o.LREnd}, {"momentum", p.Momentum, o.Momentum},
		{"weight-decay", p.WeightDecay, o.WeightDecay}, {"dropout-keep", p.DropoutKeep, o.DropoutKeep},
		{"batch", p.Batch, o.Batch}, {"val-batch", p.ValBatch, o.ValBatch}, {"epochs", p.Epochs, o.Epochs},
		{"steps", p.TotalSteps, total}, {"trainable", p.Trainable, o.Trainable}, {"class-weights", p.ClassWeights, o.ClassWeights},
		{"margin", prev.Preprocess.Margin, o.Margin}, {"preprocess", prev.Preprocess.Style, o.Style},
		// Zero (crop for augment) in runs from before these options: their value then.
		{"augment", cmp.Or(prev.Preprocess.Augment, string(pipeline.AugmentCrop)), cmp.Or(o.Augment, string(pipeline.AugmentCrop))},
		{"color-jitter", prev.Preprocess.ColorJitter, o.ColorJitter}, {"label-smoothing", p.LabelSmoothing, o.LabelSmoothing},
		{"clip-norm", p.ClipNorm, o.ClipNorm}, {"patience", p.Patience, o.Patience},
		// Devices change only the float summation order (and batch norm's
		// per-replica statistics): a resume may change them, as it may the batch.
		{"devices", devicesRecord(p.Devices), devicesRecord(strings.Join(o.devices, ","))},
	}
	if p.BatchNorm != "" { // recorded since --batch-norm auto
		pairs = append(pairs, struct {
			key      string
			from, to any
		}{"batch-norm", p.BatchNorm, o.BatchNorm})
	}
	if p.Optimizer != "" { // runs from before these options record none of them
		pairs = append(pairs, []struct {
			key      string
			from, to any
		}{
			{"beta1", p.Beta1, o.Beta1}, {"beta2", p.Beta2, o.Beta2}, {"epsilon", p.Epsilon, o.Epsilon}, {"rho", p.Rho, o.Rho},
			{"schedule", p.Schedule, o.Schedule}, {"warmup-steps", p.WarmupSteps, o.WarmupSteps}, {"warmup-epochs", p.WarmupEpochs, o.WarmupEpochs},
			{"step-every", p.StepEvery, o.StepEvery}, {"step-gamma", p.StepGamma, o.StepGamma},
		}...)
	}
	if p.Precision != "" {
		pairs = append(pairs, struct {
			key      string
			from, to any
		}{"precision", p.Precision, o.Precision})
	}
	if p.BodyLRMult != nil { // recorded since --head-epochs and --body-lr-mult exist
		pairs = append(pairs, []struct {
			key      string
			from, to any
		}{{"head-epochs", p.HeadEpochs, o.HeadEpochs}, {"body-lr-mult", *p.BodyLRMult, o.BodyLRMult}, {"ema", p.EMA, o.EMA}}...)
	}
	now := time.Now().UTC()
	var out []rundir.Change
	for _, c := range pairs {
		from, to := fmt.Sprint(c.from), fmt.Sprint(c.to)
		if from != to {
			out = append(out, rundir.Change{Key: c.key, From: from, To: to, Time: now})
		}
	}
	return out
}

// devicesRecord is how a change of devices is logged: "one device" for none.
func devicesRecord(ds string) string {
	if ds == "" {
		return "one device"
	}
	return ds
}

// compatible checks that a resumed run trains the same model on the same classes.
func compatible(prev *rundir.Config, o *Options, ds *pipeline.Dataset) error {
	switch {
	case prev.Arch != o.Arch:
		return fmt.Errorf("it was trained as %s, not --arch %s", prev.Arch, o.Arch)
	case prev.InputSize != o.InputSize:
		return fmt.Errorf("it was trained at --input-size %d, not %d", prev.InputSize, o.InputSize)
	case prevOptimizer(prev) != o.Optimizer:
		return fmt.Errorf("it was trained with --optimizer %s, not %s (its checkpoints hold that optimizer's slots; train into a new --out, or fine-tune from it with --weights)", prevOptimizer(prev), o.Optimizer)
	case len(prev.Classes) != len(ds.Classes):
		return fmt.Errorf("it has %d classes, the data has %d", len(prev.Classes), len(ds.Classes))
	}
	return nil
}

// prevOptimizer is the optimizer a run was trained with (runs from before
// --optimizer record none: momentum).
func prevOptimizer(prev *rundir.Config) string {
	if prev.Train.Optimizer == "" {
		return tfgraph.OptMomentum
	}
	return prev.Train.Optimizer
}

func balancedWeights(ds *pipeline.Dataset) []float32 {
	counts := make([]int, len(ds.Classes))
	for _, s := range ds.Train {
		counts[s.Label]++
	}
	w := make([]float32, len(counts))
	for c, n := range counts {
		if n > 0 {
			// sklearn's "balanced": n_samples / (n_classes * count_c)
			w[c] = float32(float64(len(ds.Train)) / float64(len(counts)*n))
		}
	}
	return w
}

func writeRunFiles(o *Options, ds *pipeline.Dataset, stepsPerEpoch int, total int64, changes []rundir.Change) error {
	c := &rundir.Config{Arch: o.Arch, InputSize: o.InputSize, Classes: ds.Classes, Created: time.Now().UTC()}
	c.Preprocess.Style = o.Style
	c.Preprocess.Margin = o.Margin
	norm, err := tfgraph.ArchNorm(o.Arch)
	if err != nil {
		return err
	}
	c.Preprocess.Norm, c.Preprocess.Means = norm.Name, norm.Mean
	c.Preprocess.Resize = resizeMethod
	c.Preprocess.Augment, c.Preprocess.ColorJitter = cmp.Or(o.Augment, string(pipeline.AugmentCrop)), o.ColorJitter
	t := &c.Train
	abs, _ := filepath.Abs(o.Data)
	t.Data, t.Layout, t.ValSplit, t.Seed, t.Weights = abs, ds.Layout, o.ValSplit, o.Seed, o.Weights
	t.Trainable, t.Epochs, t.Batch, t.ValBatch = o.Trainable, o.Epochs, o.Batch, o.ValBatch
	t.LR, t.LREnd, t.Momentum, t.WeightDecay, t.ClassWeights = o.LR, o.LREnd, o.Momentum, o.WeightDecay, o.ClassWeights
	t.DropoutKeep, t.Precision, t.BatchNorm, t.Devices = o.DropoutKeep, o.Precision, o.BatchNorm, strings.Join(o.devices, ",")
	t.LabelSmoothing, t.ClipNorm, t.Patience = o.LabelSmoothing, o.ClipNorm, o.Patience
	t.HeadEpochs, t.HeadSteps, t.BodyLRMult, t.EMA = o.HeadEpochs, o.headSteps(stepsPerEpoch), &o.BodyLRMult, o.EMA
	t.Recipe, t.FromScratch = o.Recipe, o.fromScratch
	t.Optimizer, t.Beta1, t.Beta2, t.Epsilon, t.Rho = o.Optimizer, o.Beta1, o.Beta2, o.Epsilon, o.Rho
	t.Schedule, t.WarmupSteps, t.WarmupEpochs, t.StepEvery, t.StepGamma = o.Schedule, o.WarmupSteps, o.WarmupEpochs, o.StepEvery, o.StepGamma
	t.WarmupTotal, t.StepEverySteps = o.scheduleSteps(stepsPerEpoch)
	t.TrainImages, t.ValImages, t.StepsPerEpoch, t.TotalSteps = len(ds.Train), len(ds.Val), stepsPerEpoch, total
	c.Versions.Tlearn, c.Versions.TensorFlow, c.Versions.Go = o.TlearnVersion, tfgraph.Version(), runtime.Version()
	if prev, err := rundir.ReadConfig(o.Out); err == nil {
		c.Created = prev.Created // a resumed run keeps its birth date and history
		c.Changes = append(prev.Changes, changes...)
	}
	if err := rundir.WriteConfig(o.Out, c); err != nil {
		return err
	}
	return pipeline.WriteClasses(filepath.Join(o.Out, rundir.ClassesFile), ds.Classes)
}

// resizeMethod names pipeline's interpolation in config.json (see pipeline/resize.go).
const resizeMethod = "bilinear, antialiased (tf.image.resize method=bilinear antialias=True)"

// finite reports whether the loss can be trusted.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// NonFiniteLossError stops a run whose loss became NaN or Inf; nothing is
// checkpointed after it, so the last checkpoint stays good.
type NonFiniteLossError struct {
	Step int64
	Loss float64
	LR   float64
	// Checkpoint is the RUN_DIR's latest checkpoint, the one a rerun resumes
	// from; "" when none was ever saved.
	Checkpoint string
	// EventsRemoved is this run's TensorBoard event file, removed because the
	// run saved nothing (a rerun would log the same steps again); "" if kept.
	EventsRemoved string
}

func (e *NonFiniteLossError) Error() string {
	msg := fmt.Sprintf("loss became %v at step %d (learning rate %.3g): the run stopped without saving this state; ", e.Loss, e.Step, e.LR)
	if e.Checkpoint == "" {
		msg += "no checkpoint was ever saved, so there is nothing to resume: lower --lr or check the data, and start again"
	} else {
		msg += fmt.Sprintf("lower --lr or check the data, and run again to resume from the last checkpoint, %s", filepath.Base(e.Checkpoint))
	}
	if e.EventsRemoved != "" {
		msg += fmt.Sprintf(" (this run's TensorBoard events, %s, were removed)", filepath.Base(e.EventsRemoved))
	}
	return msg
}

// handshakeTimeout bounds the first contact of the tasks: they may start a
// little apart.
const handshakeTimeout = 2 * time.Minute

// joinCluster starts this task's TensorFlow server. A task other than the
// chief trains into a private temporary directory, removed by done, and
// takes its weights from the chief's broadcast: it writes nothing in the
// RUN_DIR and needs neither the weights file nor the RUN_DIR.
func joinCluster(o *Options) (done func(), err error) {
	n := len(o.Cluster.Workers)
	devices, err := tfgraph.ResolveDevices(o.Devices)
	if err != nil {
		return nil, usage("--devices: " + err.Error())
	}
	if o.Batch%n != 0 {
		return nil, usage(fmt.Sprintf("--batch %d is the global batch: it must split evenly over the %d tasks", o.Batch, n))
	}
	if d := len(devices); d > 0 && o.Batch%(n*d) != 0 {
		return nil, usage(fmt.Sprintf("--batch %d is the global batch: it must split evenly over the %d tasks × %d devices of --devices %s; give a multiple of %d", o.Batch, n, d, o.Devices, n*d))
	}
	// A server's devices are fixed when it starts: the virtual CPUs of
	// --devices cpu:0,cpu:1,… are created with it.
	srv, err := tfgraph.StartServer(tfgraph.Cluster{Workers: o.Cluster.Workers, Task: o.Cluster.Task, CPUs: tfgraph.VirtualCPUs(devices)})
	if err != nil {
		return nil, usage(err.Error())
	}
	o.server = srv
	if o.Cluster.Chief() {
		return func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "tlearn-task-*")
	if err != nil {
		return nil, fmt.Errorf("task %d: scratch directory: %w", o.Cluster.Task, err)
	}
	// The chief broadcasts the weights: this task starts from anything,
	// but trains as the chief's --weights say (see setup).
	o.fromScratch = o.Weights == "none"
	o.Out, o.Weights = filepath.Join(tmp, "run"), "none"
	return func() { os.RemoveAll(tmp) }, nil
}

// shard is the part of every global batch this process loads and trains
// on: its task's in a cluster, else the whole batch.
func (o *Options) shard() pipeline.Shard {
	if o.server == nil {
		return pipeline.Shard{}
	}
	return pipeline.Shard{Index: o.Cluster.Task, Count: len(o.Cluster.Workers)}
}

// clusterRecord is what every task of a cluster must agree on: the
// settings that change the graph, the batches or the updates.
func clusterRecord(o *Options, ds *pipeline.Dataset, total int64) map[string]string {
	f := func(v any) string { return fmt.Sprint(v) }
	return map[string]string{
		"arch": o.Arch, "input-size": f(o.InputSize), "batch": f(o.Batch), "classes": classesDigest(ds.Classes),
		"train images": f(len(ds.Train)), "val images": f(len(ds.Val)), "seed": f(o.Seed), "steps": f(total), "trainable": o.Trainable,
		"batch-norm": o.BatchNorm, "optimizer": o.Optimizer, "lr": f(o.LR), "lr-end": f(o.LREnd), "schedule": o.Schedule,
		"momentum": f(o.Momentum), "weight-decay": f(o.WeightDecay), "dropout-keep": f(o.DropoutKeep),
		"margin": f(o.Margin), "preprocess": o.Style, "precision": o.Precision, "ema": f(o.EMA),
		"class-weights": o.ClassWeights, "tasks": f(len(o.Cluster.Workers)),
		"from-scratch": f(o.fromScratch), "head-epochs": f(o.HeadEpochs), "body-lr-mult": f(o.BodyLRMult), "clip-norm": f(o.ClipNorm), "label-smoothing": f(o.LabelSmoothing),
	}
}

// classesDigest names a class list briefly: its size and a hash of the names.
func classesDigest(classes []string) string {
	h := fnv.New64a()
	for _, c := range classes {
		h.Write([]byte(c + "\n"))
	}
	return fmt.Sprintf("%d classes (hash %016x)", len(classes), h.Sum64())
}
