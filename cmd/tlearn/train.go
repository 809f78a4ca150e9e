package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tlearn/tlearn/internal/cluster"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
	"github.com/tlearn/tlearn/train"
)

func trainCommand() *cli.Command {
	return withConfig(&cli.Command{
		Name:  "train",
		Usage: "fine-tune a pretrained VGG on your labelled images (resumes if --out has a checkpoint)",
		Description: `Trains --arch on --data and writes everything into --out (RUN_DIR): checkpoints,
best/ (best validation top-1), config.json, classes.txt, TensorBoard events, bad_files.txt.

--data may be a Food-101 folder (meta/classes.txt, meta/train.txt, meta/test.txt, images/),
a folder with one sub-folder per class (split by --val-split/--seed, or its own train/ and
val/ sub-folders), or a list file of "path<TAB>label" lines.

Run the same command again after a crash or Ctrl-C: it resumes at the last checkpoint.

Example (the classic recipe on a GPU box):
  tlearn train --data food-101 --out runs/food101 --arch vgg_19 --weights vgg_19.ckpt --device gpu:0
Watch it with:  tensorboard --logdir runs/`,
		Flags: trainFlags(train.DefaultOptions()),
		Action: func(c *cli.Context) error {
			opts, err := trainOptions(c)
			if err != nil {
				return usageError{err}
			}
			spec, err := cluster.Resolve(os.Getenv(cluster.EnvVar), c.String("cluster"), c.Int("task"), c.IsSet("task"))
			if err != nil {
				return usageError{err}
			}
			opts.Cluster = spec
			res, err := train.Run(c.Context, opts)
			var ue *train.UsageError
			switch {
			case errors.As(err, &ue):
				return usageError{err}
			case errors.Is(err, train.ErrInterrupted):
				return exitCodeError{code: exitInterrupted, err: fmt.Errorf("interrupted at step %d; checkpoint %s saved — run the same command to resume", res.Step, res.Checkpoint)}
			case err != nil:
				return err
			}
			w := c.App.Writer
			if res.End == train.EarlyStopped {
				fmt.Fprintf(w, "stopped early at step %d of %d: %s\n", res.Step, res.TotalSteps, res.StopReason)
			}
			fmt.Fprintf(w, "trained %s to step %d", opts.Out, res.Step)
			if res.Val != nil {
				fmt.Fprintf(w, ": validation top-1 %.4f, top-5 %.4f on %d images", res.Val.Top1, res.Val.Top5, res.Val.N)
			}
			fmt.Fprintln(w)
			if res.Best != nil {
				fmt.Fprintf(w, "best top-1 %.4f at step %d in %s/best\n", res.Best.Top1, res.Best.Step, opts.Out)
			}
			if res.BadFiles > 0 {
				fmt.Fprintf(w, "%d unreadable images skipped: see %s/bad_files.txt\n", res.BadFiles, opts.Out)
			}
			return nil
		},
	})
}

// trainFlags are train's flags; their defaults come from d (the one table,
// train.DefaultOptions), and every value given is used as given.
func trainFlags(d train.Options) []cli.Flag {
	return []cli.Flag{
		strFlag("data", "", "dataset `DIR` (Food-101 or folder per class) or list FILE (required)"),
		strFlag("recipe", d.Recipe, "a named set of settings over the defaults, which flags given explicitly override: "+train.RecipeHelp()),
		strFlag("out", "", "run `DIR` to write: checkpoints, config.json, events (required)"),
		strFlag("arch", d.Arch, "network: "+strings.Join(tfgraph.ArchNames(), ", ")+" (vgg_mini and resnet_mini are small, 32-64 px, for tests and demos; README's table lists sizes and checkpoints); with --weights RUN_DIR, the run's"),
		strFlag("weights", "", "pretrained weights: a TF-Slim checkpoint (vgg_19.ckpt), a tlearn RUN_DIR (its best/ checkpoint if any, else its latest; its arch, input size and preprocessing unless given), or 'none' to train from scratch (vgg_* and alexnet_v2 then start and train their first conv as on unit-variance pixels: weights / 58, learning rate / 58²; recorded as from_scratch)"),
		strFlag("layout", d.Layout, "dataset layout: auto, food101, folders or list"),
		floatFlag("val-split", d.ValSplit, "fraction of each class held out for validation (folders and list layouts; 0: none)"),
		int64Flag("seed", d.Seed, "seed for the split, shuffling, augmentation and the new head's initial weights"),
		strFlag("trainable", d.Trainable, "which layers train: all (end-to-end), head (the net's logits layer, fc8 for VGG), last-N (the last N weight layers), or scopes:P1,P2 (variable scopes, e.g. scopes:fc7,fc8)"),
		strFlag("batch-norm", d.BatchNorm, "batch norm in training steps: train (batch statistics, moving averages updated), frozen (moving statistics, never updated; beta/gamma may still train), or auto: frozen when fine-tuning from --weights, train with --weights none (a resumed run keeps its mode); nets without batch norm ignore it"),
		intFlag("epochs", d.Epochs, "passes over the training split"),
		int64Flag("steps", d.Steps, "train exactly this many steps instead of --epochs (0: use --epochs)"),
		intFlag("batch", d.Batch, "training batch size"),
		intFlag("val-batch", d.ValBatch, "validation batch size"),
		intFlag("input-size", d.InputSize, "network input side in pixels; with --weights RUN_DIR, the run's"),
		floatFlag("margin", d.Margin, "random-crop margin for training, per side, as a fraction of the image's shorter side: crops of side min(h,w)·(1 - 2·margin), the same share of any image size (0: none; 0.02 is 10 px of a 512-px image)"),
		strFlag("preprocess", d.Style, "preprocessing: crop (tlearn's) or vgg (TF-Slim vgg_preprocessing, its 256/224 sizes scaled with --input-size); with --weights RUN_DIR, the run's"),
		strFlag("augment", d.Augment, "training augmentation: crop (the --preprocess style's random crop and flip, the classic recipe), none (train on the evaluation crop, unchanged: for exact comparisons), flip (the evaluation crop, mirrored half the time) or inception (a random rectangle of 8-100% of the image's area and aspect 3/4..4/3, resized to the input, and flip: torchvision's RandomResizedCrop, the recipe of most ImageNet training; --preprocess crop only)"),
		floatFlag("color-jitter", d.ColorJitter, "random brightness, contrast and saturation in training: each factor uniform in [1-S, 1+S] (torchvision's ColorJitter(S, S, S); 0.4 is common), with any --augment but none (0: off)"),
		floatFlag("lr", d.LR, "initial learning rate"),
		floatFlag("lr-end", d.LREnd, "final learning rate of the poly and cosine schedules (0 allowed)"),
		strFlag("optimizer", d.Optimizer, "optimizer, as tf.compat.v1.train's (same slot names, so TensorFlow can restore a checkpoint): momentum, nesterov, adam, adamw (Adam with decoupled weight decay) or rmsprop; a run resumes only with its own"),
		floatFlag("momentum", d.Momentum, "momentum of momentum, nesterov and rmsprop (0: plain SGD)"),
		floatFlag("beta1", d.Beta1, "adam/adamw: decay of the first-moment average"),
		floatFlag("beta2", d.Beta2, "adam/adamw: decay of the second-moment average"),
		floatFlag("epsilon", d.Epsilon, "adam/adamw/rmsprop: added to the denominator for stability"),
		floatFlag("rho", d.Rho, "rmsprop: decay of the mean square of the gradients"),
		floatFlag("weight-decay", d.WeightDecay, "weight decay on conv/fc weights: L2 in the loss, or with adamw decoupled (w -= lr·wd·w each step) (0: none)"),
		floatFlag("clip-norm", d.ClipNorm, "rescale the gradients so their global norm is at most C before each update (tf.clip_by_global_norm): guards against a diverging step, e.g. when training from scratch (0: no clipping)"),
		strFlag("schedule", d.Schedule, "learning-rate schedule over the run: poly (--lr to --lr-end linearly), cosine (to --lr-end), step (×--step-gamma every --step-every epochs) or constant"),
		int64Flag("warmup-steps", d.WarmupSteps, "ramp the learning rate linearly from 0 to --lr over the first N steps, then start the schedule (0: none)"),
		floatFlag("warmup-epochs", d.WarmupEpochs, "warmup as a number of epochs (may be fractional), instead of --warmup-steps"),
		floatFlag("step-every", d.StepEvery, "step schedule: epochs between decays (may be fractional)"),
		floatFlag("step-gamma", d.StepGamma, "step schedule: factor of each decay"),
		floatFlag("head-epochs", d.HeadEpochs, "first train only the new head for N epochs (may be fractional), the body in inference mode and without backward pass — cheap — then the layers --trainable names: the two-stage fine-tuning of Keras and fastai, in one run (0: none)"),
		floatFlag("body-lr-mult", d.BodyLRMult, "learning-rate multiplier of every layer but the head (discriminative learning rates, e.g. 0.1 to change a pretrained body gently; 0 freezes its weights)"),
		floatFlag("ema", d.EMA, "keep an exponential moving average of the weights with this decay (e.g. 0.999; warmed up as TensorFlow's with num_updates): validation, best/, eval, predict and export use the averaged weights (0: none)"),
		floatFlag("dropout-keep", d.DropoutKeep, "keep probability of dropout after fc6 and fc7, in (0, 1] (1 disables it; then resuming is bit-exact)"),
		floatFlag("label-smoothing", d.LabelSmoothing, "train on targets (1-ε)·one-hot + ε/classes instead of one-hot (tf.losses.softmax_cross_entropy's label_smoothing); 0.1 is usual; the validation loss stays plain cross-entropy (0: off)"),
		strFlag("class-weights", d.ClassWeights, "'balanced' weighs the loss by inverse class frequency, for imbalanced data"),
		intFlag("log-every", d.LogEvery, "steps between loss logs and TensorBoard scalars"),
		intFlag("eval-every", d.EvalEvery, "steps between validations over the whole validation split"),
		intFlag("patience", d.Patience, "early stopping: stop after K validations in a row without a better top-1 than best/ (which keeps the best checkpoint); the log and the summary say so (0: never)"),
		durationFlag("save-every", d.SaveEvery, "wall time between checkpoints"),
		intFlag("save-every-steps", d.SaveEverySteps, "also checkpoint every N steps (0: by time only)"),
		intFlag("keep-checkpoints", d.KeepCheckpoints, "how many of the newest checkpoints RUN_DIR keeps (best/ is kept apart, hard-linked)"),
		strFlag("device", d.Device, "cpu or gpu:N (default: TensorFlow's choice — the GPU when there is one)"),
		strFlag("devices", d.Devices, "data-parallel training on several devices of this machine: cpu:0,cpu:1 (virtual CPU devices, any machine), gpu:0,gpu:1,… or all (every GPU); one replica per device on an equal slice of --batch (the global batch; it must divide), gradients averaged into one update, so weights match one device up to float summation order. Batch norm in training uses each replica's own slice statistics (no sync BN; moving averages from the replicas' mean); validation runs on the first device. In a cluster, the devices of each task (--batch then divides by tasks × devices). Not with --device"),
		softPlacementFlag(),
		intFlag("threads", d.Threads, "TensorFlow intra-op threads (0: all cores)"),
		strFlag("precision", d.Precision, "fp32; bf16: oneDNN mixed precision, faster on CPUs with AMX/AVX512-BF16 (not GPUs); fp16: float16 on the GPU's tensor cores with dynamic loss scaling (on a CPU only emulated, slower). Weights stay float32"),
		convFlag(),
		intFlag("workers", d.Workers, "image decoding workers (0: all cores)"),
		strFlag("jpeg-scale", "auto", "auto: the libjpeg build decodes a JPEG at DCT scale 1/2, 1/4 or 1/8 when its crop is at least 2, 4 or 8 times the input (faster); full: always at full scale, in training and validation (to measure what the scaling changes; not recorded in config.json)"),
		strFlag("cluster", "", "data-parallel run over several processes or machines: every task's `HOST:PORT`, comma-separated, task 0 (the chief) first; each task runs the same command with its own --task (or TensorFlow's TF_CONFIG environment variable instead of both). --batch is the global batch, split evenly over the tasks, each of which decodes only its own shard of it and validates its part of the split; the chief restores, broadcasts the weights and alone writes --out"),
		intFlag("task", 0, "this process's index in --cluster (0: the chief)"),
	}
}

// trainOptions reads train's flags into Options, exactly as given.
func trainOptions(c *cli.Context) (train.Options, error) {
	o := train.DefaultOptions()
	o.Data, o.Out, o.Arch, o.Weights = c.String("data"), c.String("out"), c.String("arch"), c.String("weights")
	o.Layout, o.ValSplit, o.Seed = c.String("layout"), c.Float64("val-split"), c.Int64("seed")
	o.Trainable, o.Epochs, o.Steps = c.String("trainable"), c.Int("epochs"), c.Int64("steps")
	o.Batch, o.ValBatch, o.InputSize = c.Int("batch"), c.Int("val-batch"), c.Int("input-size")
	o.Margin, o.Style = c.Float64("margin"), c.String("preprocess")
	o.Augment, o.ColorJitter = c.String("augment"), c.Float64("color-jitter")
	o.LabelSmoothing, o.ClipNorm, o.Patience = c.Float64("label-smoothing"), c.Float64("clip-norm"), c.Int("patience")
	o.LR, o.LREnd, o.Momentum, o.WeightDecay = c.Float64("lr"), c.Float64("lr-end"), c.Float64("momentum"), c.Float64("weight-decay")
	o.Optimizer, o.Beta1, o.Beta2, o.Epsilon, o.Rho = c.String("optimizer"), c.Float64("beta1"), c.Float64("beta2"), c.Float64("epsilon"), c.Float64("rho")
	o.Schedule, o.WarmupSteps, o.WarmupEpochs = c.String("schedule"), c.Int64("warmup-steps"), c.Float64("warmup-epochs")
	o.StepEvery, o.StepGamma = c.Float64("step-every"), c.Float64("step-gamma")
	o.DropoutKeep, o.ClassWeights = c.Float64("dropout-keep"), c.String("class-weights")
	o.HeadEpochs, o.BodyLRMult, o.EMA = c.Float64("head-epochs"), c.Float64("body-lr-mult"), c.Float64("ema")
	o.BatchNorm = c.String("batch-norm")
	o.LogEvery, o.EvalEvery = c.Int("log-every"), c.Int("eval-every")
	o.SaveEvery, o.SaveEverySteps, o.KeepCheckpoints = c.Duration("save-every"), c.Int("save-every-steps"), c.Int("keep-checkpoints")
	o.Devices = c.String("devices")
	o.Device, o.SoftPlacement, o.Threads, o.Workers = c.String("device"), c.Bool("soft-placement"), c.Int("threads"), c.Int("workers")
	o.Precision, o.Conv = c.String("precision"), c.String("conv")
	switch v := c.String("jpeg-scale"); v {
	case "auto", "full":
		o.FullScaleJPEG = v == "full"
	default:
		return o, fmt.Errorf("--jpeg-scale must be auto or full (got %q)", v)
	}
	o.Progress, o.TlearnVersion = c.App.ErrWriter, version
	if err := train.ApplyRecipe(c.String("recipe"), &o, c.IsSet); err != nil {
		return o, err
	}
	// Fine-tuning from a RUN_DIR: what was not given comes from its config.json.
	if rundir.Exists(o.Weights) {
		if !c.IsSet("arch") {
			o.Arch = ""
		}
		if !c.IsSet("input-size") {
			o.InputSize = 0
		}
		if !c.IsSet("preprocess") {
			o.Style = ""
		}
	}
	return o, nil
}
