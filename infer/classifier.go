// Package infer runs trained models over images: the model behind `tlearn
// predict` and `tlearn eval`. A Classifier hides where the model comes from —
// a tlearn RUN_DIR, an exported SavedModel, or a TF-Slim checkpoint with its
// own labels — and always uses pipeline's evaluation preprocessing, the same
// code that trained it.
package infer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// Classifier maps preprocessed float32 NHWC batches to class probabilities.
type Classifier interface {
	Classes() []string
	Preprocess() pipeline.Preprocess
	// Predict returns softmax probabilities [n][len(Classes())] for the first
	// n images of a contiguous NHWC batch.
	Predict(images []float32, n int) ([][]float32, error)
	Close() error
}

// OpenOptions says which model to load. Model (a RUN_DIR or a SavedModel
// folder) or Arch+Weights+Labels (a pretrained checkpoint with its own head).
type OpenOptions struct {
	Model      string
	Checkpoint string // for a RUN_DIR: "best" (default: best/ if present, else latest) or "latest"
	Arch       string
	Weights    string
	Labels     string
	InputSize  int // for Arch+Weights (default 224)
	Device     string
	Threads    int
	Precision  string // fp32 (default) or bf16 (see tfgraph.Config.Precision)
	// Conv is how a RUN_DIR's or checkpoint's 3×3 convs are computed: auto
	// (default), direct or winograd (tfgraph.Config.ConvAlgorithm). A
	// SavedModel runs the direct convolutions it was exported with.
	Conv string
	// Signature is which signature of a SavedModel runs: SignatureFloat
	// (default) or SignatureBytes. Only for a SavedModel.
	Signature string
	// SoftPlacement runs on the CPU when Device names a GPU that is not
	// there; without it Open refuses (a *UsageError).
	SoftPlacement bool
}

// Open loads the classifier that opts describe.
func Open(opts OpenOptions) (Classifier, error) {
	if !opts.SoftPlacement {
		if err := tfgraph.CheckDevice(opts.Device); err != nil {
			return nil, &UsageError{err.Error() + ": use --device cpu, or --soft-placement to fall back to the CPU"}
		}
	}
	switch {
	case opts.Model != "" && (opts.Weights != "" || opts.Labels != ""):
		return nil, &UsageError{"give either --model, or --arch with --weights and --labels, not both"}
	case opts.Signature != "" && opts.Signature != SignatureFloat && opts.Signature != SignatureBytes:
		return nil, &UsageError{fmt.Sprintf("--signature must be %s or %s (got %q)", SignatureFloat, SignatureBytes, opts.Signature)}
	case opts.Signature == SignatureBytes && (opts.Model == "" || !tfgraph.IsSavedModel(opts.Model)):
		return nil, &UsageError{"--signature bytes runs an exported SavedModel's own serving_default: give --model EXPORT_DIR (a folder with saved_model.pb; make one with `tlearn export`)"}
	case opts.Model != "":
		if tfgraph.IsSavedModel(opts.Model) {
			if opts.Conv == tfgraph.ConvWinograd {
				return nil, &UsageError{fmt.Sprintf("--conv winograd needs a RUN_DIR or a checkpoint: the SavedModel %s runs the direct convolutions it was exported with", opts.Model)}
			}
			if opts.Signature == SignatureBytes {
				return openBytes(opts)
			}
			return openSavedModel(opts)
		}
		return openRunDir(opts)
	case opts.Weights != "" && opts.Labels != "":
		return openCheckpoint(opts)
	default:
		return nil, &UsageError{"which model? give --model RUN_DIR|SAVEDMODEL, or --arch A --weights CKPT --labels FILE"}
	}
}

// configUsage turns tfgraph's configuration errors (a bad --device,
// --input-size, …) into a UsageError and returns others unchanged.
func configUsage(err error) error {
	var ce *tfgraph.ConfigError
	if errors.As(err, &ce) {
		return &UsageError{ce.Error()}
	}
	return err
}

// UsageError is a mistake in how the model was named (the CLI exits 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// graphClassifier is a tfgraph.Model in inference mode.
type graphClassifier struct {
	m       *tfgraph.Model
	classes []string
	pre     pipeline.Preprocess
}

func (g *graphClassifier) Classes() []string               { return g.classes }
func (g *graphClassifier) Preprocess() pipeline.Preprocess { return g.pre }
func (g *graphClassifier) Predict(images []float32, n int) ([][]float32, error) {
	return g.m.Predict(images, n)
}
func (g *graphClassifier) Close() error { return g.m.Close() }

func openRunDir(opts OpenOptions) (Classifier, error) {
	dir := opts.Model
	cfg, err := rundir.ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	ckpt, err := RunCheckpoint(dir, opts.Checkpoint)
	if err != nil {
		return nil, err
	}
	m, err := tfgraph.NewModel(tfgraph.Config{Arch: cfg.Arch, NumClasses: len(cfg.Classes), InputSize: cfg.InputSize,
		ForInference: true, Device: opts.Device, IntraOpThreads: opts.Threads, SoftPlacement: true, GPUMemoryGrowth: true,
		Precision: opts.Precision, ConvAlgorithm: opts.Conv, ReadAverages: cfg.Train.EMA > 0, Trainable: cfg.Train.Trainable})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, configUsage(err))
	}
	if err := m.RestoreCheckpoint(ckpt); err != nil {
		m.Close()
		return nil, fmt.Errorf("restore %s: %w", ckpt, err)
	}
	norm, err := cfg.ImageNorm()
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	pre := pipeline.Preprocess{InputSize: cfg.InputSize, Margin: cfg.Preprocess.Margin, Style: pipeline.Style(cfg.Preprocess.Style), Norm: norm}
	return &graphClassifier{m: m, classes: cfg.Classes, pre: pre}, nil
}

// RunCheckpoint picks the checkpoint of a RUN_DIR: which = "best" prefers
// best/ and falls back to the latest; "latest" takes the latest.
func RunCheckpoint(dir, which string) (string, error) {
	switch which {
	case "", "best":
		if p, err := tfgraph.LatestCheckpoint(filepath.Join(dir, rundir.BestDir)); err == nil && p != "" {
			return p, nil
		}
	case "latest":
	default:
		return "", &UsageError{fmt.Sprintf("--checkpoint must be best or latest (got %q)", which)}
	}
	p, err := tfgraph.LatestCheckpoint(dir)
	if err != nil || p == "" {
		return "", fmt.Errorf("%s has no checkpoint yet: train it first (tlearn train --out %s)", dir, dir)
	}
	return p, nil
}

func openCheckpoint(opts OpenOptions) (Classifier, error) {
	labels, err := pipeline.ReadClasses(opts.Labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	arch, size := opts.Arch, opts.InputSize
	if arch == "" {
		return nil, &UsageError{"--arch is required with --weights: one of " + strings.Join(tfgraph.ArchNames(), ", ")}
	}
	if size < 1 {
		return nil, &UsageError{fmt.Sprintf("--input-size must be at least 1 (got %d)", size)}
	}
	norm, err := tfgraph.ArchNorm(arch)
	if err != nil {
		return nil, &UsageError{"--arch: " + err.Error()}
	}
	m, err := tfgraph.NewModel(tfgraph.Config{Arch: arch, NumClasses: len(labels), InputSize: size, ForInference: true,
		Device: opts.Device, IntraOpThreads: opts.Threads, SoftPlacement: true, GPUMemoryGrowth: true, Precision: opts.Precision,
		ConvAlgorithm: opts.Conv})
	if err != nil {
		return nil, configUsage(err)
	}
	if err := m.LoadAll(opts.Weights); err != nil {
		m.Close()
		return nil, fmt.Errorf("weights (with %d labels from %s): %w", len(labels), opts.Labels, err)
	}
	pre := pipeline.Preprocess{InputSize: size, Style: pipeline.StyleCrop, Norm: norm}
	return &graphClassifier{m: m, classes: labels, pre: pre}, nil
}

// savedClassifier serves an exported SavedModel through its float signature.
type savedClassifier struct {
	s   *tfgraph.Served
	pre pipeline.Preprocess
}

func (s *savedClassifier) Classes() []string               { return s.s.Classes() }
func (s *savedClassifier) Preprocess() pipeline.Preprocess { return s.pre }
func (s *savedClassifier) Predict(images []float32, n int) ([][]float32, error) {
	return s.s.Predict(images, n)
}
func (s *savedClassifier) Close() error { return s.s.Close() }

func openSavedModel(opts OpenOptions) (Classifier, error) {
	s, err := tfgraph.OpenSavedModel(opts.Model, tfgraph.ServeOptions{Device: opts.Device, IntraOpThreads: opts.Threads, GPUMemoryGrowth: true, Precision: opts.Precision})
	if err != nil {
		return nil, err
	}
	return &savedClassifier{s: s, pre: pipeline.Preprocess{InputSize: s.InputSize(), Style: pipeline.Style(s.Style()), Norm: s.Norm()}}, nil
}
