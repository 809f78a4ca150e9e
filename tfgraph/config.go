package tfgraph

import (
	"fmt"
	"strconv"
	"strings"

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

	// Learning rate: tf.compat.v1.train.polynomial_decay(LearningRate,
	// global_step, DecaySteps, LearningRateEnd, LRPower, cycle=False).
	// DecaySteps <= 0 keeps LearningRate constant.
	LearningRate, LearningRateEnd, LRPower float64
	DecaySteps                             int64

	Momentum    float64 // tf.compat.v1.train.MomentumOptimizer, use_nesterov=false
	WeightDecay float64 // slim.l2_regularizer: WeightDecay*sum(w²)/2 per conv/fc weight (not biases)
	DropoutKeep float64 // keep probability after fc6 and fc7 in training, in (0, 1]; 1 disables dropout (unused ForInference)

	// ClassWeights, when set (len NumClasses), weights each example's
	// cross-entropy by its label's weight: loss = mean_i(w[y_i]·xent_i).
	ClassWeights []float32

	Seed int64 // graph-level seed for the initialisers and dropout

	Device          string // "cpu", "gpu:N", or "" to let TensorFlow choose
	IntraOpThreads  int    // 0 = TensorFlow's default
	InterOpThreads  int    // 0 = 1 on the CPU (see cpuInterOpThreads), TensorFlow's default with a GPU
	GPUMemoryGrowth bool
	SoftPlacement   bool // fall back to CPU for ops without a GPU kernel (DefaultConfig sets it)

	// Precision is "fp32" (the default, "" too) or "bf16": TensorFlow's oneDNN
	// auto mixed precision rewrites convs and matmuls to bfloat16, several
	// times faster on CPUs with AMX or AVX512-BF16 (measured: VGG19 predict
	// 4.5× on a Sapphire Rapids core pair) at bfloat16's ~3 significant
	// digits. Variables and checkpoints stay float32.
	Precision string

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

// Batch-norm modes of Config.BatchNorm.
const (
	BatchNormTrain  = "train"
	BatchNormFrozen = "frozen"
)

// Precisions of Config.Precision.
const (
	PrecisionFP32 = "fp32"
	PrecisionBF16 = "bf16"
)

// DefaultConfig returns the classic recipe's settings for arch with
// numClasses outputs: 224 px, all layers trainable, LR 1e-3 → 1e-7 (power 1;
// DecaySteps must still be set to the run's total steps), momentum 0.9,
// weight decay 5e-4, dropout keep 0.5, soft placement on.
func DefaultConfig(arch string, numClasses int) Config {
	return Config{
		Arch: arch, NumClasses: numClasses, InputSize: 224, Trainable: "all",
		LearningRate: 1e-3, LearningRateEnd: 1e-7, LRPower: 1,
		Momentum: 0.9, WeightDecay: 5e-4, DropoutKeep: 0.5,
		SoftPlacement: true,
	}
}

// withDefaults reads an empty Trainable as "all". It replaces no number: an
// explicit 0 is used or refused by validate, never swapped for a default.
func (c Config) withDefaults() Config {
	if c.Trainable == "" {
		c.Trainable = "all"
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
	case c.LearningRate < 0 || c.LearningRateEnd < 0:
		return fmt.Errorf("negative learning rate %v → %v", c.LearningRate, c.LearningRateEnd)
	}
	if err := net.CheckInput(c.InputSize); err != nil {
		return err
	}
	if _, err := parseDevice(c.Device); err != nil {
		return err
	}
	switch c.BatchNorm {
	case "", BatchNormTrain, BatchNormFrozen:
	default:
		return fmt.Errorf("batch norm %q: want %s or %s", c.BatchNorm, BatchNormTrain, BatchNormFrozen)
	}
	if _, err := convAlgorithm(c.ConvAlgorithm); err != nil {
		return err
	}
	return nil
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
// NewModel can build: for callers that validate flags before building.
func CheckArch(name string) error {
	_, err := nets.Lookup(name)
	return err
}

// ArchNames lists the networks NewModel can build, sorted.
func ArchNames() []string { return nets.Names() }
