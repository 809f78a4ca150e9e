package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tlearn/tlearn/infer"
	"github.com/tlearn/tlearn/pipeline"
)

func modelFlags() []cli.Flag {
	return []cli.Flag{
		strFlag("model", "", "a tlearn RUN_`DIR` or an exported SavedModel folder"),
		strFlag("checkpoint", "best", "for a RUN_DIR: best (best/ if present, else latest) or latest"),
		strFlag("device", "", "cpu or gpu:N (default: TensorFlow's choice)"),
		softPlacementFlag(),
		intFlag("threads", 0, "TensorFlow intra-op threads (0: all cores)"),
		intFlag("workers", 0, "image decoding workers (0: all cores)"),
		strFlag("precision", "fp32", "fp32; bf16: oneDNN mixed precision, several times faster on CPUs with AMX/AVX512-BF16 (not GPUs), ~3 significant digits; fp16: float16 on a GPU (emulated on a CPU: slower)"),
		convFlag(),
		strFlag("jpeg-scale", "auto", "auto: the libjpeg build decodes a JPEG at DCT scale 1/2, 1/4 or 1/8 when its region is at least 2, 4 or 8 times the input (faster; what serving_default does); full: always decode at full scale (to measure what the scaling changes; --signature float only)"),
		strFlag("signature", "float", "with a SavedModel: float (tlearn decodes and preprocesses in Go, then runs serving_float) or bytes (each file's bytes go unchanged into serving_default, which decodes in-graph: what a TF Serving or Python client gets)"),
	}
}

// softPlacementFlag is --soft-placement of train, predict and eval.
func softPlacementFlag() cli.Flag {
	return boolFlag("soft-placement", "when --device names a GPU that is not there, run on the CPU instead of refusing")
}

// convFlag is --conv of predict, eval and train (validation).
func convFlag() cli.Flag {
	return strFlag("conv", "auto", "3×3 convolutions of inference: auto (Winograd for layers with ≥128 channels on the CPU in fp32, ~1.5× faster on VGG19, ~1e-5 relative difference), direct (TensorFlow's own, bit-for-bit), or winograd (every 3×3 conv)")
}

// checkpointFlags are predict's and eval's way to run a pretrained TF-Slim
// checkpoint with its own head instead of a --model.
func checkpointFlags(verb string) []cli.Flag {
	return []cli.Flag{
		strFlag("arch", "vgg_19", "with --weights: the network of the checkpoint"),
		strFlag("weights", "", verb+" with a pretrained TF-Slim `CKPT` and its own head (needs --labels)"),
		strFlag("labels", "", "with --weights: class names, one per line, in the head's order. For a head with a background class 0 "+
			"(the 1001 outputs of the mobilenet_* and resnet_v2_* checkpoints) a 1001-line file is used as is, and a 1000-line file "+
			"names classes 1..1000: the background is dropped and the probabilities are the softmax over those 1000"),
		intFlag("input-size", 224, "with --weights: network input side"),
	}
}

// fullScaleJPEG reads --jpeg-scale of predict and eval.
func fullScaleJPEG(c *cli.Context) (bool, error) {
	switch v := c.String("jpeg-scale"); {
	case v == "auto":
		return false, nil
	case v != "full":
		return false, usageError{fmt.Errorf("--jpeg-scale must be auto or full (got %q)", v)}
	case c.String("signature") == "bytes":
		return false, usageError{errors.New("--jpeg-scale full needs --signature float: with bytes the SavedModel decodes")}
	}
	return true, nil
}

func openModel(c *cli.Context) (infer.Classifier, error) {
	clf, err := infer.Open(infer.OpenOptions{
		Model: c.String("model"), Checkpoint: c.String("checkpoint"),
		Arch: c.String("arch"), Weights: c.String("weights"), Labels: c.String("labels"), InputSize: c.Int("input-size"),
		Device: c.String("device"), Threads: c.Int("threads"), Precision: c.String("precision"),
		Conv: c.String("conv"), SoftPlacement: c.Bool("soft-placement"), Signature: c.String("signature"),
	})
	var ue *infer.UsageError
	if errors.As(err, &ue) {
		return nil, usageError{err}
	}
	return clf, err
}

func predictCommand() *cli.Command {
	flags := append(modelFlags(), checkpointFlags("predict")...)
	flags = append(flags,
		intFlag("top-k", 5, "how many classes to print per image"),
		strFlag("format", "", "jsonl, csv or table (default: table on a terminal, jsonl otherwise)"),
		intFlag("batch", 32, "images per inference batch"),
		strFlag("files-from", "", "also read input paths from `FILE`, one per line ('-': standard input); answers keep the input order"),
	)
	return withConfig(&cli.Command{
		Name:      "predict",
		Usage:     "classify images and folders (recursive) with a trained model",
		ArgsUsage: "PATH...",
		Description: `Every input file gets exactly one answer: its top-k classes, or an error (then
the run goes on, and tlearn exits 3 at the end). Output streams as batches finish.

Examples:
  tlearn predict --model runs/dishes photos/ > predictions.jsonl
  tlearn predict --model export/dishes --format table one.jpg two.png
  tlearn predict --model export/dishes --signature bytes photos/   # as a serving client sees it
  tlearn predict --arch vgg_19 --weights vgg_19.ckpt --labels imagenet.txt cat.jpg`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			paths := c.Args().Slice()
			if from := c.String("files-from"); from != "" {
				listed, err := readPathList(from, c.App.Reader)
				if err != nil {
					return usageError{err}
				}
				paths = append(paths, listed...)
			}
			if len(paths) == 0 {
				return usageError{errors.New("predict needs at least one PATH (an image or a folder), or --files-from FILE")}
			}
			format := outputFormat(c, "jsonl")
			if err := checkPredictionFormat(format); err != nil {
				return err
			}
			fullScale, err := fullScaleJPEG(c)
			if err != nil {
				return err
			}
			clf, err := openModel(c)
			if err != nil {
				return err
			}
			defer clf.Close()
			out, err := newPredictionWriter(c.App.Writer, format, clf.Classes())
			if err != nil {
				return err
			}
			start := time.Now()
			sum, err := infer.Predict(c.Context, clf, paths,
				infer.PredictOptions{TopK: c.Int("top-k"), Batch: c.Int("batch"), Workers: c.Int("workers"), FullScaleJPEG: fullScale}, out.Write)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			var ue *infer.UsageError
			if errors.As(err, &ue) {
				return usageError{err}
			}
			if err != nil {
				if c.Context.Err() != nil {
					return exitCodeError{code: exitInterrupted, err: fmt.Errorf("interrupted after %d images", sum.Images+sum.Failed)}
				}
				return err
			}
			if sum.Images+sum.Failed > 0 {
				printPredictSummary(c.App.ErrWriter, sum, time.Since(start), c.Int("workers"))
			}
			if sum.Failed > 0 {
				return exitCodeError{code: exitSomeFailed, err: fmt.Errorf("%d of %d inputs could not be read (see their error lines)", sum.Failed, sum.Images+sum.Failed)}
			}
			if sum.Images == 0 {
				return fmt.Errorf("no images found under %v", paths)
			}
			return nil
		},
	})
}

// printPredictSummary reports counts and, when images were classified, their
// rate: a rate over unreadable files alone (or a run too short to time) would
// be noise.
func printPredictSummary(w io.Writer, sum infer.Summary, took time.Duration, workers int) {
	fmt.Fprintf(w, "tlearn: predicted %d images (%d unreadable) in %.1fs", sum.Images, sum.Failed, took.Seconds())
	if sum.Images > 0 && took > 0 {
		fmt.Fprintf(w, ", %.1f images/s", float64(sum.Images)/took.Seconds())
	}
	iw := sum.InputWaitFraction()
	fmt.Fprintf(w, ", input_wait %.2f\n", iw)
	if iw > 0.1 {
		fmt.Fprintf(w, "tlearn: warning: prediction is input-bound (%.0f%% of the time the model waited for images): %s\n",
			100*iw, pipeline.InputBoundAdvice(workers))
	}
}

// readPathList reads --files-from: one path per line, from the file name or,
// for "-", from stdin; blank lines are skipped, other whitespace is kept
// (file names may have spaces). Each listed path gets its own answer, so a
// missing file is an error line in its place.
func readPathList(name string, stdin io.Reader) ([]string, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--files-from: %w", err)
		}
		defer f.Close()
		r = f
	}
	var paths []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if p := strings.TrimSuffix(sc.Text(), "\r"); strings.TrimSpace(p) != "" {
			paths = append(paths, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--files-from %s: %w", name, err)
	}
	return paths, nil
}
