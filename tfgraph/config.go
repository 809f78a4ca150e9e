package tfgraph

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/nets"
)

// Config describes the graph NewModel builds. DefaultConfig holds the classic
// recipe's values; NewModel uses every number as given (a zero InputSize, or
// a zero DropoutKeep for a training graph, is an error, never a default) and
// reads only an empty Trainable as "all".
type Config struct {
	Arch       string // vgg_16, vgg_19 or vgg_mini
	NumClasses int    // width of the new head fc8
	InputSize  int    // square input side, e.g. 224

	// Trainable selects the layers that get updates, as TF-Slim's
	// --trainable_scopes: "all" (default), "head" (fc8 only) or "last-N"
	// (the last N of the conv+fc layers; last-1 == head).
	Trainable string

	// Learning rate, a pure function of the global step (so a resumed run
	// continues exactly): Schedule ScheduleConstant, ScheduleStep
	// (LearningRate·StepGamma^floor(step/StepEvery), TF's staircase
	// exponential_decay), SchedulePoly (polynomial_decay(LearningRate, step,
	// DecaySteps, LearningRateEnd, LRPower)) or ScheduleCosine
	// (cosine_decay with alpha = LearningRateEnd/LearningRate). "" is poly.
	// DecaySteps <= 0 keeps LearningRate constant. WarmupSteps > 0 ramps
	// linearly from 0 to LearningRate over the first WarmupSteps steps; the
	// schedule then runs from there, decaying over DecaySteps−WarmupSteps.
	LearningRate, LearningRateEnd, LRPower float64
	DecaySteps                             int64
	Schedule                               string
	WarmupSteps, StepEvery                 int64
	StepGamma                              float64

	// Optimizer is one of tf.compat.v1.train's, with its slot names:
	// OptMomentum ("" too; MomentumOptimizer), OptNesterov (use_nesterov),
	// OptAdam (AdamOptimizer(Beta1, Beta2, Epsilon)), OptAdamW (Adam with
	// decoupled weight decay, see optim.Adam) or OptRMSProp
	// (RMSPropOptimizer(decay=Rho, Momentum, Epsilon)).
	Optimizer                  string
	Momentum                   float64 // momentum, nesterov and rmsprop
	Beta1, Beta2, Epsilon, Rho float64
	// WeightDecay is slim.l2_regularizer's WeightDecay*sum(w²)/2 per conv/fc
	// weight (not biases) in the loss; with OptAdamW it is instead the
	// decoupled decay w ← w − lr·WeightDecay·w of the same weights.
	WeightDecay float64
	DropoutKeep float64 // keep probability after fc6 and fc7 in training, in (0, 1]; 1 disables dropout (unused ForInference)

	// LabelSmoothing ε in [0, 1) trains on onehot·(1−ε) + ε/K instead of
	// the one-hot labels (tf.compat.v1.losses.softmax_cross_entropy's
	// label_smoothing; the auxiliary head's loss and the head phase's too).
	// The eval loss is always the plain cross-entropy. 0: none.
	LabelSmoothing float64
	// ClipNorm > 0 scales all gradients by ClipNorm/max(‖g‖, ClipNorm),
	// ‖g‖ their global norm, before the optimizer (tf.clip_by_global_norm;
	// with fp16, after unscaling; in the head phase, of the head's gradients).
	// 0: no clipping.
	ClipNorm float64
	// BodyLRMult, when set, scales the learning rate of every trainable
	// variable outside the head (discriminative learning rates); nil is 1.
	// 0 freezes the body's weights (its batch-norm statistics still update
	// in BatchNormTrain). Must be >= 0.
	BodyLRMult *float64
	// FromScratch says that the weights start from their initialisers (no
	// pretrained checkpoint). The first layer of a net without batch norm
	// that reads 0..255 pixels minus the means (vgg_*, alexnet_v2: input
	// std s ≈ 58) then trains as on unit-variance inputs: its initial
	// weights are divided by s and its learning rate multiplied by 1/s² (SGD
	// and momentum) or 1/s (adam, adamw, rmsprop, whose steps do not scale
	// with the gradient) — the same steps as training conv1·s on pixels/s,
	// while the weights keep the slim convention of the checkpoints. Without
	// it He-initialised activations and gradients start s× too large and
	// such nets diverge at usual learning rates. A resumed run must keep the
	// value it started with.
	FromScratch bool
	// HeadSteps > 0 trains only the head for the first HeadSteps global
	// steps (the first stage of Keras's and fastai's fine-tuning): on the
	// eval forward, so the body runs in inference mode — batch norm on its
	// moving statistics, no dropout — and has no backward pass at all; then
	// the layers Trainable names, as usual. The phase is a function of the
	// global step, so a resume continues exactly across the switch. The head
	// phase does not scale the loss under fp16.
	HeadSteps int64

	// EMADecay > 0 keeps an exponential moving average of the weights, as
	// tf.train.ExponentialMovingAverage(EMADecay, num_updates=global_step):
	// after every step avg ← avg − (1−d)·(avg − w), d = min(EMADecay,
	// (1+step)/(10+step)), in "<var>/ExponentialMovingAverage" (checkpointed
	// with the weights) for every trainable or head weight, bias, beta and
	// gamma. SwapAverages puts them in the weights' place (validation).
	EMADecay float64
	// ReadAverages makes an inference model restore those variables from
	// their moving averages (a run trained with EMADecay; Trainable must be
	// the run's so that the same variables are read averaged).
	ReadAverages bool

	// ClassWeights, when set (len NumClasses), weights each example's
	// cross-entropy by its label's weight: loss = mean_i(w[y_i]·xent_i).
	ClassWeights []float32

	Seed int64 // graph-level seed for the initialisers and dropout

	Device string // "cpu", "gpu:N", or "" to let TensorFlow choose
	// Devices, when set, trains data-parallel (see replicas.go): one replica
	// per device ("cpu:N" or "gpu:N", all of one type), each computing the
	// gradients of its equal slice of the batch, averaged into one update;
	// batch norm in training mode uses each replica's own slice statistics.
	// CPUs are virtual devices (ConfigProto device_count), so "cpu:0",
	// "cpu:1" works on any machine. Device must then be "". Variables, the
	// eval forward and the update live on the first device. In a cluster
	// model they are this task's devices (virtual CPUs: Cluster.CPUs of its
	// server), the replicas' mean gradient then averaged across the tasks.
	Devices []string
	// ReduceGradients combines the replicas' gradients into the mean (nil:
	// CollectiveMeanGradients on GPUs, MeanGradients on CPUs and in a
	// cluster model; see replicas.go).
	ReduceGradients GradientReducer
	// Cluster, when set, makes the model one replica of a data-parallel
	// cluster: its ops run on this task's Device through the server's
	// session, each training step's gradients are averaged over every task
	// (all-reduce) before the update, and BroadcastVariables gives every
	// task the chief's variables. Every task must build the same model.
	Cluster *Server
	// CollectiveTimeout bounds each collective of a cluster model
	// (0: DefaultCollectiveTimeout).
	CollectiveTimeout time.Duration
	IntraOpThreads    int // 0 = TensorFlow's default
	InterOpThreads    int // 0 = 1 on the CPU (see cpuInterOpThreads), TensorFlow's default with a GPU
	GPUMemoryGrowth   bool
	SoftPlacement     bool // fall back to CPU for ops without a GPU kernel (DefaultConfig sets it)

	// Precision is "fp32" (the default, "" too), "bf16" or "fp16"; in every
	// case variables and checkpoints stay float32 (the master weights).
	//
	// bf16: TensorFlow's oneDNN auto mixed precision rewrites convs and
	// matmuls to bfloat16, several times faster on CPUs with AMX or
	// AVX512-BF16 (bench/NOTES.md) at bfloat16's ~3 significant digits.
	// TensorFlow has no bfloat16 graph rewrite for GPUs: refused there.
	//
	// fp16: TensorFlow's auto mixed precision rewrite (float16 on the GPU's
	// tensor cores; on the CPU its float16 emulation, auto_mixed_precision_cpu:
	// float16 numerics, float32 speed, for testing) with dynamic loss scaling
	// in the training graph (LossScale).
	Precision string

	// LossScale is the dynamic loss scaling of fp16 training (ignored for the
	// other precisions); DefaultLossScale is Keras's.
	LossScale LossScale

	// ConvAlgorithm chooses how the inference path (predict, eval,
	// validation) computes the 3×3 convs: ConvAuto ("" too), ConvDirect or
	// ConvWinograd; see winogradLayer. Training steps and exported
	// SavedModels always use direct convolution.
	ConvAlgorithm string

	// BatchNorm is how the training steps run batch norm: BatchNormTrain
	// ("" too: trainable layers normalise with the batch's statistics and
	// update the moving averages every step) or BatchNormFrozen (every
	// layer runs on its moving statistics, which never change; beta and
	// gamma may still train). Nets without batch norm ignore it.
	BatchNorm string

	// ForInference builds only the forward graph (no gradients, no momentum
	// slots): for predict and export.
	ForInference bool
}

// Optimizers of Config.Optimizer.
const (
	OptMomentum = "momentum"
	OptNesterov = "nesterov"
	OptAdam     = "adam"
	OptAdamW    = "adamw"
	OptRMSProp  = "rmsprop"
)

// Schedules of Config.Schedule.
const (
	SchedulePoly     = "poly"
	ScheduleCosine   = "cosine"
	ScheduleStep     = "step"
	ScheduleConstant = "constant"
)

// OptimizerNames and ScheduleNames list the accepted values, for flags and messages.
var (
	OptimizerNames = []string{OptMomentum, OptNesterov, OptAdam, OptAdamW, OptRMSProp}
	ScheduleNames  = []string{SchedulePoly, ScheduleCosine, ScheduleStep, ScheduleConstant}
)

// Batch-norm modes of Config.BatchNorm.
const (
	BatchNormTrain  = "train"
	BatchNormFrozen = "frozen"
)

// Precisions of Config.Precision.
const (
	PrecisionFP32 = "fp32"
	PrecisionBF16 = "bf16"
	PrecisionFP16 = "fp16"
)

// PrecisionNames lists the accepted precisions, for flags and messages.
var PrecisionNames = []string{PrecisionFP32, PrecisionBF16, PrecisionFP16}

// LossScale is dynamic loss scaling (as Keras's LossScaleOptimizer): the
// loss is multiplied by the scale before the gradients and the gradients
// divided by it after, so small float16 gradients do not flush to zero. A
// step whose gradients hold an Inf or NaN (float16 overflow) changes no
// variable and halves the scale; after GrowthSteps finite steps in a row the
// scale doubles. The scale and its counter are variables, checkpointed.
type LossScale struct {
	Initial     float64 // the starting scale, > 0
	GrowthSteps int     // finite steps before the scale doubles, > 0
}

// DefaultLossScale is Keras's dynamic loss scale: 2^15, doubled after 2000
// finite steps.
var DefaultLossScale = LossScale{Initial: 1 << 15, GrowthSteps: 2000}

// DefaultConfig returns the classic recipe's settings for arch with
// numClasses outputs: 224 px, all layers trainable, LR 1e-3 → 1e-7 (power 1;
// DecaySteps must still be set to the run's total steps), momentum 0.9
// (Adam's betas 0.9/0.999, epsilon 1e-8, RMSProp's rho 0.9 for the other
// optimizers), weight decay 5e-4, dropout keep 0.5, soft placement on.
func DefaultConfig(arch string, numClasses int) Config {
	return Config{
		Arch: arch, NumClasses: numClasses, InputSize: 224, Trainable: "all",
		LearningRate: 1e-3, LearningRateEnd: 1e-7, LRPower: 1,
		Schedule: SchedulePoly, Optimizer: OptMomentum,
		Momentum: 0.9, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Rho: 0.9,
		WeightDecay: 5e-4, DropoutKeep: 0.5,
		SoftPlacement: true, LossScale: DefaultLossScale,
	}
}

// withDefaults reads an empty Trainable as "all", an empty Optimizer as
// momentum and an empty Schedule as poly. It replaces no number: an
// explicit 0 is used or refused by validate, never swapped for a default.
func (c Config) withDefaults() Config {
	if c.Trainable == "" {
		c.Trainable = "all"
	}
	if c.Optimizer == "" {
		c.Optimizer = OptMomentum
	}
	if c.Schedule == "" {
		c.Schedule = SchedulePoly
	}
	return c
}

// ConfigError is a Config that cannot build a model (a bad Trainable,
// InputSize, Device, …): the caller's mistake, not a TensorFlow failure.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// validate reports the first unusable setting as a *ConfigError.
func (c Config) validate(net nets.Net) error {
	if err := c.check(net); err != nil {
		return &ConfigError{Err: err}
	}
	return nil
}

func (c Config) check(net nets.Net) error {
	switch {
	case c.NumClasses < 1:
		return fmt.Errorf("NumClasses %d: need at least 1", c.NumClasses)
	case c.InputSize < 1:
		return fmt.Errorf("InputSize %d: want at least 1 (VGG uses 224)", c.InputSize)
	case !c.ForInference && !(c.DropoutKeep > 0 && c.DropoutKeep <= 1):
		return fmt.Errorf("DropoutKeep %v: want 0 < keep <= 1", c.DropoutKeep)
	case c.ClassWeights != nil && len(c.ClassWeights) != c.NumClasses:
		return fmt.Errorf("ClassWeights has %d entries for %d classes", len(c.ClassWeights), c.NumClasses)
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1):
		return fmt.Errorf("LabelSmoothing %v: want 0 <= ε < 1", c.LabelSmoothing)
	case !(c.ClipNorm >= 0) || math.IsInf(c.ClipNorm, 0):
		return fmt.Errorf("ClipNorm %v: want a finite value >= 0 (0: no clipping)", c.ClipNorm)
	case c.LearningRate < 0 || c.LearningRateEnd < 0:
		return fmt.Errorf("negative learning rate %v → %v", c.LearningRate, c.LearningRateEnd)
	case !slices.Contains(OptimizerNames, c.Optimizer):
		return fmt.Errorf("optimizer %q: want one of %s", c.Optimizer, strings.Join(OptimizerNames, ", "))
	case !slices.Contains(ScheduleNames, c.Schedule):
		return fmt.Errorf("schedule %q: want one of %s", c.Schedule, strings.Join(ScheduleNames, ", "))
	case c.Schedule == ScheduleStep && !(c.StepEvery > 0 && c.StepGamma > 0):
		return fmt.Errorf("step schedule: StepEvery %d and StepGamma %v must be > 0", c.StepEvery, c.StepGamma)
	case c.WarmupSteps < 0 || (c.WarmupSteps > 0 && c.DecaySteps > 0 && c.WarmupSteps >= c.DecaySteps):
		return fmt.Errorf("WarmupSteps %d: want 0 <= warmup < DecaySteps %d", c.WarmupSteps, c.DecaySteps)
	case c.BodyLRMult != nil && *c.BodyLRMult < 0:
		return fmt.Errorf("BodyLRMult %v: must be >= 0", *c.BodyLRMult)
	case c.HeadSteps < 0:
		return fmt.Errorf("HeadSteps %d: must be >= 0", c.HeadSteps)
	case !(c.EMADecay >= 0 && c.EMADecay < 1):
		return fmt.Errorf("EMADecay %v: want 0 (none) or in (0, 1)", c.EMADecay)
	case c.ReadAverages && !c.ForInference:
		return fmt.Errorf("ReadAverages is for inference models")
	case (c.Optimizer == OptAdam || c.Optimizer == OptAdamW) && !(c.Beta1 >= 0 && c.Beta1 < 1 && c.Beta2 >= 0 && c.Beta2 < 1 && c.Epsilon > 0):
		return fmt.Errorf("adam: want beta1, beta2 in [0, 1) and epsilon > 0 (got %v, %v, %v)", c.Beta1, c.Beta2, c.Epsilon)
	case c.Optimizer == OptRMSProp && !(c.Rho >= 0 && c.Rho < 1 && c.Epsilon > 0):
		return fmt.Errorf("rmsprop: want rho in [0, 1) and epsilon > 0 (got %v, %v)", c.Rho, c.Epsilon)
	}
	if err := net.CheckInput(c.InputSize); err != nil {
		return err
	}
	if _, err := parseDevice(c.Device); err != nil {
		return err
	}
	devs, err := parseDevices(c.Devices)
	if err != nil {
		return err
	}
	if cl := c.Cluster; cl != nil && virtualCPUs(devs) > max(1, cl.cluster.CPUs) {
		return fmt.Errorf("devices %s: this task's server has %d CPU device(s): start it with Cluster.CPUs %d", strings.Join(c.Devices, ","), max(1, cl.cluster.CPUs), virtualCPUs(devs))
	}
	if len(c.Devices) > 0 && c.Device != "" {
		return fmt.Errorf("device %q and devices %s: give one", c.Device, strings.Join(c.Devices, ","))
	}
	switch c.BatchNorm {
	case "", BatchNormTrain, BatchNormFrozen:
	default:
		return fmt.Errorf("batch norm %q: want %s or %s", c.BatchNorm, BatchNormTrain, BatchNormFrozen)
	}
	if _, err := convAlgorithm(c.ConvAlgorithm); err != nil {
		return err
	}
	return c.checkPrecision()
}

func (c Config) checkPrecision() error {
	switch c.Precision {
	case "", PrecisionFP32:
	case PrecisionBF16:
		if c.onGPUs() {
			return fmt.Errorf("precision bf16: TensorFlow's bfloat16 rewrite is for oneDNN CPUs only, not GPUs; use fp16 (tensor cores) or fp32 (TF32 on Ampere and later)")
		}
	case PrecisionFP16:
		if !c.ForInference && !(c.LossScale.Initial > 0 && c.LossScale.GrowthSteps > 0) {
			return fmt.Errorf("precision fp16: loss scale %v and growth steps %d must be > 0", c.LossScale.Initial, c.LossScale.GrowthSteps)
		}
	default:
		return fmt.Errorf("precision %q: want one of %s", c.Precision, strings.Join(PrecisionNames, ", "))
	}
	return nil
}

// OnGPU reports whether a model on device d ("cpu", "gpu:N", "") runs on a
// GPU: "gpu:N", or no device on a GPU build.
func OnGPU(d string) bool { return onGPU(d) }

func onGPU(d string) bool {
	dev, _ := parseDevice(d)
	return strings.HasPrefix(dev, "/device:GPU") || dev == "" && gpuBuild()
}

// onGPUs is onGPU for a configuration: its Devices when set, else its Device.
func (c Config) onGPUs() bool {
	if len(c.Devices) > 0 {
		devs, _ := parseDevices(c.Devices)
		return len(devs) > 0 && strings.HasPrefix(devs[0], "/device:GPU")
	}
	return onGPU(c.Device)
}

// parseDevice turns "cpu"/"gpu:N" into a TensorFlow device string.
func parseDevice(d string) (string, error) {
	switch {
	case d == "":
		return "", nil
	case strings.EqualFold(d, "cpu"):
		return "/device:CPU:0", nil
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(d), "gpu:"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
			return "/device:GPU:" + rest, nil
		}
	}
	if strings.EqualFold(d, "gpu") {
		return "/device:GPU:0", nil
	}
	return "", fmt.Errorf("device %q: want cpu or gpu:N", d)
}

// CheckArch reports an error naming the known networks when name is not one
// the train and infer paths can use: for callers that validate flags before
// building.
func CheckArch(name string) error {
	_, err := nets.Lookup(name)
	return err
}

// ArchNames lists the networks CheckArch accepts, sorted.
func ArchNames() []string { return nets.Names() }

// ArchNorm is the input normalisation the network name expects (its
// pretrained checkpoints were trained on it): what pipeline.Preprocess.Norm
// must be for training and prediction, and what the export's bytes signature
// applies in-graph.
func ArchNorm(name string) (imagenorm.Norm, error) {
	net, err := nets.Lookup(name)
	if err != nil {
		return imagenorm.Norm{}, err
	}
	return net.Norm, nil
}

// ArchCheckpointClasses is the width of the head of the network's published
// TF-Slim checkpoints: 1000, or 1001 when class 0 is a background class
// (the MobileNets, resnet_v2_*).
func ArchCheckpointClasses(name string) (int, error) {
	net, err := nets.Lookup(name)
	if err != nil {
		return 0, err
	}
	return net.CheckpointClasses, nil
}

// ArchHeads are the scopes of the network name that a new head replaces
// ("fc8"; "logits"; "Logits", "AuxLogits"), for messages.
func ArchHeads(name string) ([]string, error) {
	net, err := nets.Lookup(name)
	if err != nil {
		return nil, err
	}
	return net.HeadScopes, nil
}

func (c Config) collectiveTimeout() time.Duration {
	if c.CollectiveTimeout > 0 {
		return c.CollectiveTimeout
	}
	return DefaultCollectiveTimeout
}
