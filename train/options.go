// Package train runs the fine-tuning recipe end to end: it loads a dataset
// with pipeline, builds the model with tfgraph, restores pretrained weights or
// resumes a run, and drives the training loop whose logging, validation,
// TensorBoard events, checkpoints and progress are hooks (see Hook).
//
// A Go program trains exactly as `tlearn train` does:
//
//	o := train.DefaultOptions()
//	o.Data, o.Out, o.Weights = "photos/", "runs/a", "vgg_19.ckpt"
//	res, err := train.Run(ctx, o)
package train

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/cluster"
	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// Options configures a training run. Every field is used as given: start
// from DefaultOptions for the classic recipe.
type Options struct {
	Data     string  // dataset: folder (Food-101 or folder-per-class) or list file
	Out      string  // RUN_DIR
	Arch     string  // vgg_19 (default), vgg_16, vgg_mini, resnet_v1_50/101/152, resnet_mini (tfgraph/nets); "" with a RUN_DIR Weights: the run's
	Weights  string  // TF-Slim checkpoint, tlearn RUN_DIR (its best/ if any, else its latest), or "none"; required unless resuming
	Layout   string  // auto|food101|folders|list
	ValSplit float64 // validation fraction per class in [0, 1); 0: no validation split
	Seed     int64

	// Recipe names the settings ApplyRecipe put over these defaults
	// (classic: none); recorded in config.json.
	Recipe string

	Trainable string // all|head|last-N|scopes:P1,P2
	// BatchNorm is auto (the default), train or frozen (tfgraph.Config.BatchNorm).
	// auto is frozen when fine-tuning from --weights and train from scratch
	// (--weights none), where frozen statistics (mean 0, variance 1) do not
	// normalise and resnet_mini diverged in 4 steps. Fine-tuning resnet_mini
	// on MNIST, frozen beat train by 0.02–0.20 validation top-1 at equal steps
	// on every seed (bench/NOTES.md, "Batch norm when fine-tuning").
	BatchNorm string
	Epochs    int
	Steps     int64 // if > 0, train this many steps instead of Epochs (LR decays over them)
	Batch     int
	ValBatch  int
	InputSize int     // 0 with a RUN_DIR Weights: the run's
	Margin    float64 // random-crop margin per side, a fraction of the shorter side in [0, 0.5) (crop style); 0: none
	Style     string  // preprocessing: crop (default) | vgg; "" with a RUN_DIR Weights: the run's
	// Augment is the training augmentation (pipeline.Augment): crop (the
	// default: the Style's random crop and flip), none (train on the eval
	// crop), flip (the eval crop, randomly mirrored) or inception
	// (RandomResizedCrop + flip, crop style only). ColorJitter is the
	// strength s of random brightness/contrast/saturation in [0, 1] (0: none;
	// not with none).
	Augment     string
	ColorJitter float64
	// LabelSmoothing ε in [0, 1) trains on targets onehot·(1−ε) + ε/K
	// (tf.losses.softmax_cross_entropy's label_smoothing); validation's loss
	// stays the plain cross-entropy. 0: none.
	LabelSmoothing float64
	// ClipNorm > 0 rescales the gradients before the optimizer so that
	// their global norm is at most ClipNorm (tf.clip_by_global_norm). 0: none.
	ClipNorm float64
	// Patience > 0 stops the run after that many validations in a row
	// without a better top-1 than best/'s (early stopping, EndReason
	// EarlyStopped); best/ keeps the best checkpoint. 0: never.
	Patience int

	LR, LREnd, Momentum, WeightDecay float64
	// Optimizer is momentum (the classic recipe), nesterov, adam, adamw or
	// rmsprop (tfgraph.Config.Optimizer: tf.compat.v1.train's, with its
	// slot names). Momentum is also RMSProp's; Beta1, Beta2 and Epsilon are
	// Adam's, Rho and Epsilon RMSProp's. With adamw, WeightDecay is
	// decoupled (w ← w − lr·wd·w) instead of L2 in the loss.
	Optimizer                  string
	Beta1, Beta2, Epsilon, Rho float64
	// Schedule is poly (LR → LREnd linearly over the run), cosine (to
	// LREnd), step (LR·StepGamma every StepEvery epochs) or constant, after
	// a linear warmup from 0 over WarmupSteps steps or WarmupEpochs epochs
	// (at most one of them non-zero). The LR is a function of the global step.
	Schedule     string
	WarmupSteps  int64
	WarmupEpochs float64
	StepEvery    float64 // epochs between step-schedule decays
	StepGamma    float64
	ClassWeights string // "" or "balanced"
	// DropoutKeep is the keep probability after fc6 and fc7, in (0, 1]; 1
	// disables dropout. Resume is bit-exact only with 1:
	// dropout masks come from TensorFlow's random state, which checkpoints
	// do not hold.
	DropoutKeep float64
	// HeadEpochs > 0 first trains only the new head for that many epochs
	// (may be fractional; rounded to steps), the body in inference mode,
	// then what Trainable names: Keras's and fastai's two-stage fine-tuning,
	// in one run (tfgraph.Config.HeadSteps).
	HeadEpochs float64
	// BodyLRMult scales the learning rate of every layer but the head
	// (discriminative learning rates; 1: the same, 0: body frozen).
	BodyLRMult float64
	// EMA > 0 keeps an exponential moving average of the weights with that
	// decay (e.g. 0.999; tfgraph.Config.EMADecay): validation, best/, eval,
	// predict and export use the averages; checkpoints hold both.
	EMA float64

	LogEvery        int           // steps between loss logs / TensorBoard scalars
	EvalEvery       int           // steps between validations (and one at the end)
	SaveEvery       time.Duration // wall time between checkpoints
	SaveEverySteps  int           // steps between checkpoints (0: time only)
	KeepCheckpoints int           // checkpoints kept in RUN_DIR, newest first (default 5; best/ is kept apart)

	Precision string // fp32 (default), bf16 or fp16 with dynamic loss scaling (tfgraph.Config.Precision)
	Conv      string // validation's 3×3 convs: auto (default), direct or winograd (tfgraph.Config.ConvAlgorithm)
	Device    string // cpu|gpu:N
	// Devices, when set, trains data-parallel on several devices of this
	// process: "cpu:0,cpu:1", "gpu:0,gpu:1", … or "all" (every GPU), one
	// replica per device on an equal slice of the Batch (which must divide),
	// gradients averaged into one update (tfgraph.ResolveDevices,
	// tfgraph.Config.Devices). Batch norm in training mode uses each
	// replica's own statistics. Not with Device.
	Devices string
	// SoftPlacement runs on the CPU when Device names a GPU that is not
	// there; without it Run refuses (a *UsageError).
	SoftPlacement bool
	Threads       int // TensorFlow intra-op threads (0: all cores)
	Workers       int // pipeline decode workers (0: all cores)
	// FullScaleJPEG decodes every training and validation JPEG at full
	// scale (pipeline.LoaderOptions.FullScaleJPEG), to measure what the
	// default DCT-scaled decoding changes; not recorded in config.json.
	FullScaleJPEG bool

	// Where logs and progress go. Log defaults to a text logger on Progress's
	// writer; Progress (default os.Stderr) shows a bar when it is a terminal.
	Log      *slog.Logger
	Progress io.Writer
	// Hooks run after the built-in ones (progress, TensorBoard, validation,
	// checkpoint) at every step: a library user's own logging or early stop.
	Hooks []Hook
	// Versions recorded in config.json.
	TlearnVersion string

	devices []string // Devices resolved by setup (tfgraph.ResolveDevices)
	// fromScratch is set by setup: --weights none at the run's start, or the
	// resumed run's record (rundir Train.FromScratch).
	fromScratch bool

	// Cluster, when set (TF_CONFIG or --cluster/--task), makes this process
	// one task of a data-parallel run: Batch is the global batch, split
	// evenly over the tasks; the chief (task 0) restores and broadcasts the
	// variables and alone writes Out; the others write nothing there.
	Cluster cluster.Spec
	// CollectiveTimeout bounds every collective of a cluster run (0:
	// tfgraph.DefaultCollectiveTimeout): a lost task stops the others
	// within it.
	CollectiveTimeout time.Duration

	server *tfgraph.Server // this task's server, started by Run
}

// DefaultOptions returns the classic recipe: the one table of training
// defaults (the CLI's flag defaults read it). Every field of Options is used
// as given, so a library caller starts from DefaultOptions and changes what it
// needs; an explicit 0 means 0 (or is refused by Validate), never "default".
func DefaultOptions() Options {
	return Options{
		Recipe: "classic",
		Arch:   "vgg_19", Layout: "auto", ValSplit: 0.2, Seed: 1,
		Trainable: "all", BatchNorm: BatchNormAuto, Epochs: 20, Batch: 64, ValBatch: 128, InputSize: 224,
		Margin: pipeline.DefaultMargin, Style: "crop", Augment: string(pipeline.AugmentCrop), ColorJitter: 0,
		LabelSmoothing: 0, ClipNorm: 0, Patience: 0,
		LR: 1e-3, LREnd: 1e-7, Momentum: 0.9, WeightDecay: 5e-4, DropoutKeep: 0.5, ClassWeights: "none", BodyLRMult: 1,
		Optimizer: tfgraph.OptMomentum, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Rho: 0.9,
		Schedule: tfgraph.SchedulePoly, StepEvery: 2, StepGamma: 0.94,
		LogEvery: 10, EvalEvery: 500, SaveEvery: 600 * time.Second, KeepCheckpoints: 5,
		Precision: "fp32", Conv: "auto",
	}
}

// Validate reports the first option that cannot work, as a usage error.
func (o *Options) Validate() error {
	switch {
	case o.Data == "":
		return usage("--data is required: a Food-101 folder, a folder with one sub-folder per class, or a list file")
	case o.Out == "":
		return usage("--out is required: the run directory to write (checkpoints, config.json, TensorBoard events)")
	case o.Batch < 1:
		return usage(fmt.Sprintf("--batch must be at least 1 (got %d)", o.Batch))
	case o.ValBatch < 1:
		return usage(fmt.Sprintf("--val-batch must be at least 1 (got %d)", o.ValBatch))
	case o.Steps < 0:
		return usage(fmt.Sprintf("--steps must be >= 0 (got %d; 0 trains for --epochs)", o.Steps))
	case o.Epochs < 1 && o.Steps == 0:
		return usage(fmt.Sprintf("--epochs must be at least 1 (got %d), or give --steps", o.Epochs))
	case !(o.LR > 0):
		return usage(fmt.Sprintf("--lr must be > 0 (got %g)", o.LR))
	case !(o.LREnd >= 0 && o.LREnd <= o.LR):
		return usage(fmt.Sprintf("--lr-end must be in [0, --lr] (got %g with --lr %g)", o.LREnd, o.LR))
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return usage(fmt.Sprintf("--momentum must be in [0, 1) (got %g)", o.Momentum))
	case !(o.WeightDecay >= 0):
		return usage(fmt.Sprintf("--weight-decay must be >= 0 (got %g)", o.WeightDecay))
	case !(o.DropoutKeep > 0 && o.DropoutKeep <= 1):
		return usage(fmt.Sprintf("--dropout-keep must be in (0, 1] (got %g)", o.DropoutKeep))
	case !(o.ValSplit >= 0 && o.ValSplit < 1):
		return usage(fmt.Sprintf("--val-split must be in [0, 1) (got %g; 0: no validation split)", o.ValSplit))
	case o.KeepCheckpoints < 1:
		return usage(fmt.Sprintf("--keep-checkpoints must be at least 1 (got %d)", o.KeepCheckpoints))
	case o.LogEvery < 1:
		return usage(fmt.Sprintf("--log-every must be at least 1 (got %d)", o.LogEvery))
	case o.EvalEvery < 1:
		return usage(fmt.Sprintf("--eval-every must be at least 1 (got %d)", o.EvalEvery))
	case o.SaveEvery <= 0:
		return usage(fmt.Sprintf("--save-every must be positive (got %v)", o.SaveEvery))
	case o.Device != "" && o.Devices != "":
		return usage(fmt.Sprintf("give --device or --devices, not both (got --device %s --devices %s)", o.Device, o.Devices))
	case o.SaveEverySteps < 0:
		return usage(fmt.Sprintf("--save-every-steps must be >= 0 (got %d; 0: by time only)", o.SaveEverySteps))
	case !slices.Contains(tfgraph.OptimizerNames, o.Optimizer):
		return usage(fmt.Sprintf("--optimizer must be one of %s (got %q)", strings.Join(tfgraph.OptimizerNames, ", "), o.Optimizer))
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return usage(fmt.Sprintf("--beta1 must be in [0, 1) (got %g)", o.Beta1))
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return usage(fmt.Sprintf("--beta2 must be in [0, 1) (got %g)", o.Beta2))
	case !(o.Epsilon > 0):
		return usage(fmt.Sprintf("--epsilon must be > 0 (got %g)", o.Epsilon))
	case !(o.Rho >= 0 && o.Rho < 1):
		return usage(fmt.Sprintf("--rho must be in [0, 1) (got %g)", o.Rho))
	case !slices.Contains(tfgraph.ScheduleNames, o.Schedule):
		return usage(fmt.Sprintf("--schedule must be one of %s (got %q)", strings.Join(tfgraph.ScheduleNames, ", "), o.Schedule))
	case o.WarmupSteps < 0 || !(o.WarmupEpochs >= 0):
		return usage(fmt.Sprintf("--warmup-steps and --warmup-epochs must be >= 0 (got %d, %g)", o.WarmupSteps, o.WarmupEpochs))
	case o.WarmupSteps > 0 && o.WarmupEpochs > 0:
		return usage("give --warmup-steps or --warmup-epochs, not both")
	case !(o.StepEvery > 0):
		return usage(fmt.Sprintf("--step-every must be > 0 epochs (got %g)", o.StepEvery))
	case !(o.StepGamma > 0):
		return usage(fmt.Sprintf("--step-gamma must be > 0 (got %g)", o.StepGamma))
	case !(o.HeadEpochs >= 0):
		return usage(fmt.Sprintf("--head-epochs must be >= 0 (got %g; 0: no head-only phase)", o.HeadEpochs))
	case !(o.EMA >= 0 && o.EMA < 1):
		return usage(fmt.Sprintf("--ema must be in [0, 1) (got %g; 0: none, 0.999 a usual decay)", o.EMA))
	case !(o.BodyLRMult >= 0):
		return usage(fmt.Sprintf("--body-lr-mult must be >= 0 (got %g; 1: the head's learning rate, 0: body frozen)", o.BodyLRMult))
	case o.Arch == "":
		return usage("--arch is required: one of " + strings.Join(tfgraph.ArchNames(), ", "))
	case !(o.LabelSmoothing >= 0 && o.LabelSmoothing < 1):
		return usage(fmt.Sprintf("--label-smoothing must be in [0, 1) (got %g; 0.1 is the usual value, 0: none)", o.LabelSmoothing))
	case !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0):
		return usage(fmt.Sprintf("--clip-norm must be a finite number >= 0 (got %g; 0: no clipping)", o.ClipNorm))
	case o.Patience < 0:
		return usage(fmt.Sprintf("--patience must be >= 0 validations (got %d; 0: never stop early)", o.Patience))
	case o.Patience > 0 && o.ValSplit == 0:
		return usage(fmt.Sprintf("--patience %d needs validations, but --val-split is 0: give --val-split, or --patience 0", o.Patience))
	case o.ClassWeights != "" && o.ClassWeights != "balanced" && o.ClassWeights != "none":
		return usage(fmt.Sprintf("--class-weights must be 'balanced' or 'none' (got %q)", o.ClassWeights))
	}
	if _, err := ParseTrainable(o.Trainable); err != nil {
		return err
	}
	if o.BatchNorm != "" && o.BatchNorm != BatchNormAuto && o.BatchNorm != tfgraph.BatchNormTrain && o.BatchNorm != tfgraph.BatchNormFrozen {
		return usage(fmt.Sprintf("--batch-norm must be %s, %s or %s (got %q)", BatchNormAuto, tfgraph.BatchNormTrain, tfgraph.BatchNormFrozen, o.BatchNorm))
	}
	norm, err := tfgraph.ArchNorm(o.Arch)
	if err != nil {
		return usage("--arch: " + err.Error())
	}
	if err := o.preprocess(norm).Validate(); err != nil {
		return usage(err.Error())
	}
	return nil
}

// preprocess is the training pipeline's preprocessing for the net's norm.
func (o *Options) preprocess(norm imagenorm.Norm) pipeline.Preprocess {
	return pipeline.Preprocess{InputSize: o.InputSize, Margin: o.Margin, Style: pipeline.Style(o.Style), Norm: norm,
		Augment: pipeline.Augment(o.Augment), ColorJitter: o.ColorJitter}
}

// ParseTrainable checks an --trainable value: all, head, last-N with N >= 1,
// or scopes:P1,P2 (variable scopes, with or without the net's own).
func ParseTrainable(s string) (string, error) {
	switch {
	case s == "all" || s == "head":
		return s, nil
	case strings.HasPrefix(s, "scopes:") && strings.Trim(strings.TrimPrefix(s, "scopes:"), ", ") != "":
		return s, nil
	case strings.HasPrefix(s, "last-"):
		if n, err := strconv.Atoi(strings.TrimPrefix(s, "last-")); err == nil && n >= 1 {
			return s, nil
		}
	}
	return "", usage(fmt.Sprintf("--trainable must be all, head, last-N with N >= 1 or scopes:P1,P2 (got %q)", s))
}

// UsageError is an error in the options themselves (the CLI exits 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usage(msg string) error { return &UsageError{Msg: msg} }

// ErrInterrupted is returned when the context was cancelled (Ctrl-C): the run
// saved a checkpoint and can be resumed with the same command.
var ErrInterrupted = errors.New("training interrupted")

// scheduleSteps turns the epoch-based schedule options into steps: the
// warmup (WarmupSteps, or WarmupEpochs·stepsPerEpoch rounded) and the
// step schedule's period (StepEvery·stepsPerEpoch rounded, at least 1).
func (o *Options) scheduleSteps(stepsPerEpoch int) (warmup, every int64) {
	warmup = o.WarmupSteps
	if o.WarmupEpochs > 0 {
		warmup = int64(math.Round(o.WarmupEpochs * float64(stepsPerEpoch)))
	}
	every = max(1, int64(math.Round(o.StepEvery*float64(stepsPerEpoch))))
	return warmup, every
}

// BatchNormAuto is the default --batch-norm: see Options.BatchNorm and
// batchNormMode.
const BatchNormAuto = "auto"

// batchNormMode resolves --batch-norm for a run: an explicit train or frozen
// as given; auto, for a resumed run (prev), the mode it recorded (train if it
// recorded none: tlearn's default before auto), else frozen when fine-tuning
// from weights and train from scratch.
func batchNormMode(o *Options, prev *rundir.Config) string {
	switch {
	case o.BatchNorm != BatchNormAuto && o.BatchNorm != "":
		return o.BatchNorm
	case prev != nil && prev.Train.BatchNorm != "":
		return prev.Train.BatchNorm
	case prev != nil || o.Weights == "none":
		return tfgraph.BatchNormTrain
	}
	return tfgraph.BatchNormFrozen
}

// headSteps is HeadEpochs in steps (rounded).
func (o *Options) headSteps(stepsPerEpoch int) int64 {
	return int64(math.Round(o.HeadEpochs * float64(stepsPerEpoch)))
}
