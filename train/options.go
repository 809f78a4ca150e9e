// Package train runs the fine-tuning recipe end to end: it loads a dataset
// with pipeline, builds the model with tfgraph, restores pretrained weights or
// resumes a run, and drives the training loop whose logging, validation,
// TensorBoard events, checkpoints and progress are hooks (see Hook).
//
// A Go program trains exactly as `tlearn train` does:
//
//	res, err := train.Run(ctx, train.Options{Data: "photos/", Out: "runs/a", Arch: "vgg_19", Weights: "vgg_19.ckpt"})
package train

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/tfgraph"
)

// Options configures a training run. The zero value of a field means the
// classic recipe's default (see Defaults).
type Options struct {
	Data     string  // dataset: folder (Food-101 or folder-per-class) or list file
	Out      string  // RUN_DIR
	Arch     string  // vgg_19 (default), vgg_16, vgg_mini, resnet_v1_50/101/152, resnet_mini (tfgraph/nets)
	Weights  string  // TF-Slim checkpoint, tlearn RUN_DIR, or "none"; required unless resuming
	Layout   string  // auto|food101|folders|list
	ValSplit float64 // validation fraction per class; 0 means the default 0.2, negative means none
	Seed     int64

	Trainable string // all|head|last-N|scopes:P1,P2
	BatchNorm string // train (default) | frozen (tfgraph.Config.BatchNorm)
	Epochs    int
	Steps     int64 // if > 0, train this many steps instead of Epochs (LR decays over them)
	Batch     int
	ValBatch  int
	InputSize int
	Margin    int    // random-crop margin; 0 means the default 10, negative means none
	Style     string // preprocessing: crop (default) | vgg

	LR, LREnd, Momentum, WeightDecay float64
	ClassWeights                     string // "" or "balanced"
	// DropoutKeep is the keep probability after fc6 and fc7; 0 means the
	// recipe's 0.5, 1 disables dropout. Resume is bit-exact only with 1:
	// dropout masks come from TensorFlow's random state, which checkpoints
	// do not hold.
	DropoutKeep float64

	LogEvery        int           // steps between loss logs / TensorBoard scalars
	EvalEvery       int           // steps between validations (and one at the end)
	SaveEvery       time.Duration // wall time between checkpoints
	SaveEverySteps  int           // steps between checkpoints (0: time only)
	KeepCheckpoints int           // checkpoints kept in RUN_DIR, newest first (default 5; best/ is kept apart)

	Precision string // fp32 (default) or bf16 (tfgraph.Config.Precision)
	Conv      string // validation's 3×3 convs: auto (default), direct or winograd (tfgraph.Config.ConvAlgorithm)
	Device    string // cpu|gpu:N
	// SoftPlacement runs on the CPU when Device names a GPU that is not
	// there; without it Run refuses (a *UsageError).
	SoftPlacement bool
	Threads       int // TensorFlow intra-op threads (0: all cores)
	Workers       int // pipeline decode workers (0: all cores)

	// Where logs and progress go. Log defaults to a text logger on Progress's
	// writer; Progress (default os.Stderr) shows a bar when it is a terminal.
	Log      *slog.Logger
	Progress io.Writer
	// Hooks run after the built-in ones (progress, TensorBoard, validation,
	// checkpoint) at every step: a library user's own logging or early stop.
	Hooks []Hook
	// Versions recorded in config.json.
	TlearnVersion string
}

// Defaults fills unset fields with the classic recipe's values.
func (o *Options) Defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	if o.Arch == "" {
		o.Arch = "vgg_19"
	}
	if o.Layout == "" {
		o.Layout = "auto"
	}
	if o.Trainable == "" {
		o.Trainable = "all"
	}
	if o.Style == "" {
		o.Style = "crop"
	}
	def(&o.Epochs, 20)
	def(&o.Batch, 64)
	def(&o.ValBatch, 128)
	def(&o.InputSize, 224)
	def(&o.LogEvery, 10)
	def(&o.EvalEvery, 500)
	def(&o.KeepCheckpoints, 5)
	deff(&o.ValSplit, 0.2)
	deff(&o.LR, 1e-3)
	deff(&o.LREnd, 1e-7)
	deff(&o.Momentum, 0.9)
	deff(&o.WeightDecay, 5e-4)
	deff(&o.DropoutKeep, 0.5)
	if o.SaveEvery == 0 {
		o.SaveEvery = 600 * time.Second
	}
	switch {
	case o.Margin == 0 && o.Style == "crop":
		o.Margin = 10
	case o.Margin < 0:
		o.Margin = 0
	}
}

// Validate reports the first option that cannot work, as a usage error.
func (o *Options) Validate() error {
	switch {
	case o.Data == "":
		return usage("--data is required: a Food-101 folder, a folder with one sub-folder per class, or a list file")
	case o.Out == "":
		return usage("--out is required: the run directory to write (checkpoints, config.json, TensorBoard events)")
	case o.Batch < 1 || o.ValBatch < 1:
		return usage("--batch and --val-batch must be at least 1")
	case o.Epochs < 1 && o.Steps <= 0:
		return usage("--epochs must be at least 1")
	case o.LR <= 0 || o.LREnd < 0 || o.LREnd > o.LR:
		return usage(fmt.Sprintf("learning rates must satisfy 0 <= --lr-end <= --lr and --lr > 0 (got %g → %g)", o.LR, o.LREnd))
	case o.Momentum < 0 || o.Momentum >= 1:
		return usage(fmt.Sprintf("--momentum must be in [0, 1) (got %g)", o.Momentum))
	case o.WeightDecay < 0:
		return usage("--weight-decay must be >= 0")
	case o.DropoutKeep <= 0 || o.DropoutKeep > 1:
		return usage(fmt.Sprintf("--dropout-keep must be in (0, 1] (got %g)", o.DropoutKeep))
	case o.ValSplit >= 1:
		return usage(fmt.Sprintf("--val-split must be in [0, 1) (got %g)", o.ValSplit))
	case o.KeepCheckpoints < 1:
		return usage(fmt.Sprintf("--keep-checkpoints must be at least 1 (got %d)", o.KeepCheckpoints))
	case o.LogEvery < 1 || o.EvalEvery < 1:
		return usage("--log-every and --eval-every must be at least 1")
	case o.ClassWeights != "" && o.ClassWeights != "balanced" && o.ClassWeights != "none":
		return usage(fmt.Sprintf("--class-weights must be 'balanced' or 'none' (got %q)", o.ClassWeights))
	}
	if _, err := ParseTrainable(o.Trainable); err != nil {
		return err
	}
	if o.BatchNorm != "" && o.BatchNorm != tfgraph.BatchNormTrain && o.BatchNorm != tfgraph.BatchNormFrozen {
		return usage(fmt.Sprintf("--batch-norm must be %s or %s (got %q)", tfgraph.BatchNormTrain, tfgraph.BatchNormFrozen, o.BatchNorm))
	}
	p := pipeline.Preprocess{InputSize: o.InputSize, Margin: o.Margin, Style: pipeline.Style(o.Style)}
	if err := p.Validate(); err != nil {
		return usage(err.Error())
	}
	return nil
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
