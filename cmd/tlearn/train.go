package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

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
		Flags: []cli.Flag{
			strFlag("data", "", "dataset `DIR` (Food-101 or folder per class) or list FILE (required)"),
			strFlag("out", "", "run `DIR` to write: checkpoints, config.json, events (required)"),
			strFlag("arch", "vgg_19", "network: vgg_19, vgg_16, resnet_v1_50, resnet_v1_101, resnet_v1_152, or vgg_mini / resnet_mini (small, 32-64 px, for tests and demos)"),
			strFlag("weights", "", "pretrained weights: a TF-Slim checkpoint (vgg_19.ckpt), a tlearn RUN_DIR, or 'none' to train from scratch"),
			strFlag("layout", "auto", "dataset layout: auto, food101, folders or list"),
			floatFlag("val-split", 0.2, "fraction of each class held out for validation (folders and list layouts)"),
			int64Flag("seed", 1, "seed for the split, shuffling, augmentation and the new head's initial weights"),
			strFlag("trainable", "all", "which layers train: all (end-to-end), head (the net's logits layer, fc8 for VGG), last-N (the last N weight layers), or scopes:P1,P2 (variable scopes, e.g. scopes:fc7,fc8)"),
			strFlag("batch-norm", "train", "batch norm in training steps: train (batch statistics, moving averages updated) or frozen (moving statistics, never updated; beta/gamma may still train); nets without batch norm ignore it"),
			intFlag("epochs", 20, "passes over the training split"),
			int64Flag("steps", 0, "train exactly this many steps instead of --epochs (0: use --epochs)"),
			intFlag("batch", 64, "training batch size"),
			intFlag("val-batch", 128, "validation batch size"),
			intFlag("input-size", 224, "network input side in pixels"),
			intFlag("margin", 10, "random-crop margin for training: crops of side min(h,w) - 2*margin"),
			strFlag("preprocess", "crop", "preprocessing: crop (tlearn's) or vgg (TF-Slim vgg_preprocessing)"),
			floatFlag("lr", 1e-3, "initial learning rate"),
			floatFlag("lr-end", 1e-7, "final learning rate (polynomial decay, power 1, over the run)"),
			floatFlag("momentum", 0.9, "SGD momentum"),
			floatFlag("weight-decay", 5e-4, "L2 weight decay on conv/fc weights"),
			floatFlag("dropout-keep", 0.5, "keep probability of dropout after fc6 and fc7 (1 disables it; then resuming is bit-exact)"),
			strFlag("class-weights", "none", "'balanced' weighs the loss by inverse class frequency, for imbalanced data"),
			intFlag("log-every", 10, "steps between loss logs and TensorBoard scalars"),
			intFlag("eval-every", 500, "steps between validations over the whole validation split"),
			altsrcDuration("save-every", "600s", "wall time between checkpoints"),
			intFlag("save-every-steps", 0, "also checkpoint every N steps (0: by time only)"),
			intFlag("keep-checkpoints", 5, "how many of the newest checkpoints RUN_DIR keeps (best/ is kept apart, hard-linked)"),
			strFlag("device", "", "cpu or gpu:N (default: TensorFlow's choice — the GPU when there is one)"),
			softPlacementFlag(),
			intFlag("threads", 0, "TensorFlow intra-op threads (0: all cores)"),
			strFlag("precision", "fp32", "fp32, or bf16: oneDNN mixed precision (AMX/AVX512-BF16 CPUs), faster, weights stay float32"),
			convFlag(),
			intFlag("workers", 0, "image decoding workers (0: all cores)"),
		},
		Action: func(c *cli.Context) error {
			opts := train.Options{
				Data: c.String("data"), Out: c.String("out"), Arch: c.String("arch"), Weights: c.String("weights"),
				Layout: c.String("layout"), ValSplit: c.Float64("val-split"), Seed: c.Int64("seed"),
				Trainable: c.String("trainable"), Epochs: c.Int("epochs"), Steps: c.Int64("steps"),
				Batch: c.Int("batch"), ValBatch: c.Int("val-batch"), InputSize: c.Int("input-size"),
				Margin: c.Int("margin"), Style: c.String("preprocess"),
				LR: c.Float64("lr"), LREnd: c.Float64("lr-end"), Momentum: c.Float64("momentum"), WeightDecay: c.Float64("weight-decay"),
				DropoutKeep: c.Float64("dropout-keep"), BatchNorm: c.String("batch-norm"),
				ClassWeights: c.String("class-weights"), LogEvery: c.Int("log-every"), EvalEvery: c.Int("eval-every"),
				SaveEvery: c.Duration("save-every"), SaveEverySteps: c.Int("save-every-steps"), KeepCheckpoints: c.Int("keep-checkpoints"),
				Device: c.String("device"), SoftPlacement: c.Bool("soft-placement"), Threads: c.Int("threads"), Workers: c.Int("workers"), Precision: c.String("precision"), Conv: c.String("conv"),
				Progress: c.App.ErrWriter, TlearnVersion: version,
			}
			if opts.ValSplit == 0 {
				opts.ValSplit = -1 // an explicit 0: no validation split
			}
			if opts.Margin == 0 {
				opts.Margin = -1 // an explicit 0: train.Options reads 0 as "default"
			}
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
