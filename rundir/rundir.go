// Package rundir owns the layout of a tlearn run directory (RUN_DIR): the
// config.json that makes a run self-describing, classes.txt, bad_files.txt, and
// the LOCK that keeps two trainings from writing into one run. predict, eval
// and export need nothing but a RUN_DIR, so everything they need is written
// here (see ARCHITECTURE.md, "Run directory").
package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/atomicfile"
)

// File names inside a RUN_DIR.
const (
	ConfigFile   = "config.json"
	ClassesFile  = "classes.txt"
	BadFilesFile = "bad_files.txt"
	LockFile     = "LOCK"
	BestDir      = "best"
	BestFile     = "best.json"
)

// Config is config.json: everything needed to rebuild the model and its
// preprocessing without the training data.
type Config struct {
	Format     int      `json:"format"` // 2 (1: margin was in pixels)
	Arch       string   `json:"arch"`
	InputSize  int      `json:"input_size"`
	Classes    []string `json:"classes"`
	Preprocess struct {
		Style string `json:"style"` // crop | vgg
		// Margin is the random-crop margin for training per side, as a
		// fraction of the shorter side (format 2). A format-1 file's
		// "margin" was in pixels: ReadConfig moves it to MarginPixels.
		Margin       float64 `json:"margin"`
		MarginPixels int     `json:"margin_pixels,omitempty"`
		// Norm is the input normalisation's imagenorm.Norm.Name, the net's:
		// values are (RGB 0..255 − Means)·its scale. Runs from before it
		// was recorded (only VGG nets) are mean_subtract: ReadConfig fills it.
		Norm   string     `json:"norm"`
		Means  [3]float32 `json:"means"`  // subtracted from 0..255 RGB
		Resize string     `json:"resize"` // interpolation used by the pipeline
		// Augment is the training augmentation (pipeline.Augment: none,
		// flip, crop, inception; empty in runs from before it was a choice:
		// crop) and ColorJitter its colour-jitter strength (0: none).
		Augment     string  `json:"augment,omitempty"`
		ColorJitter float64 `json:"color_jitter"`
	} `json:"preprocess"`
	Train struct {
		Data        string  `json:"data"`
		Layout      string  `json:"layout"`
		ValSplit    float64 `json:"val_split"`
		Seed        int64   `json:"seed"`
		Weights     string  `json:"weights"`
		Trainable   string  `json:"trainable"`
		Epochs      int     `json:"epochs"`
		Batch       int     `json:"batch"`
		ValBatch    int     `json:"val_batch"`
		LR          float64 `json:"lr"`
		LREnd       float64 `json:"lr_end"`
		Momentum    float64 `json:"momentum"`
		WeightDecay float64 `json:"weight_decay"`
		DropoutKeep float64 `json:"dropout_keep"`
		// The optimizer (empty in runs from before it was a choice: momentum)
		// and its hyper-parameters, all recorded whichever it uses.
		Optimizer string  `json:"optimizer,omitempty"`
		Beta1     float64 `json:"beta1"`
		Beta2     float64 `json:"beta2"`
		Epsilon   float64 `json:"epsilon"`
		Rho       float64 `json:"rho"`
		// The learning-rate schedule as given, and resolved to steps:
		// WarmupTotal warmup steps, StepEverySteps between step decays.
		Schedule       string  `json:"schedule,omitempty"`
		WarmupSteps    int64   `json:"warmup_steps"`
		WarmupEpochs   float64 `json:"warmup_epochs"`
		StepEvery      float64 `json:"step_every"`
		StepGamma      float64 `json:"step_gamma"`
		WarmupTotal    int64   `json:"warmup_total_steps"`
		StepEverySteps int64   `json:"step_every_steps"`
		ClassWeights   string  `json:"class_weights,omitempty"`
		// BatchNorm is the batch-norm mode the run trains with, train or
		// frozen (--batch-norm auto resolved); empty in older runs.
		BatchNorm string `json:"batch_norm,omitempty"`
		// LabelSmoothing ε mixes the one-hot targets with the uniform
		// distribution, ClipNorm bounds the global gradient norm (0: no
		// clipping), Patience stops after that many validations without a
		// better top-1 (0: never). Zero in runs from before they existed.
		LabelSmoothing float64 `json:"label_smoothing"`
		ClipNorm       float64 `json:"clip_norm"`
		Patience       int     `json:"patience"`
		// Precision of the training steps: fp32, bf16 or fp16 (with dynamic
		// loss scaling); empty in runs from before it was recorded.
		Precision string `json:"precision,omitempty"`
		// Devices are the data-parallel replicas' devices as --devices
		// takes them ("cpu:0,cpu:1"; "all" resolved); empty for one device.
		// They change only the float summation order (and per-replica
		// batch-norm statistics), so a resume may use others (logged in
		// Changes).
		Devices string `json:"devices,omitempty"`
		// The head-only phase (HeadSteps = HeadEpochs in steps) and the
		// body's learning-rate multiplier; nil BodyLRMult: a run from before
		// they were recorded (no head phase, multiplier 1).
		HeadEpochs float64  `json:"head_epochs"`
		HeadSteps  int64    `json:"head_steps"`
		BodyLRMult *float64 `json:"body_lr_mult,omitempty"`
		// EMA is the decay of the weights' moving average (0: none); with it
		// eval, predict and export read the averages.
		EMA float64 `json:"ema"`
		// FromScratch: the weights started from their initialisers
		// (--weights none), and the first layer of a net without batch norm
		// trains as on unit-variance inputs (tfgraph.Config.FromScratch);
		// false in runs from before it existed. Resumes keep it.
		FromScratch bool `json:"from_scratch"`
		// Recipe is the --recipe the settings above came from (classic:
		// the defaults); empty in runs from before it existed.
		Recipe        string `json:"recipe,omitempty"`
		TrainImages   int    `json:"train_images"`
		ValImages     int    `json:"val_images"`
		StepsPerEpoch int    `json:"steps_per_epoch"`
		TotalSteps    int64  `json:"total_steps"`
	} `json:"train"`
	// Changes lists the settings a resume changed, oldest first: a run's
	// history is never silently rewritten.
	Changes  []Change `json:"changes,omitempty"`
	Versions struct {
		Tlearn     string `json:"tlearn"`
		TensorFlow string `json:"tensorflow"`
		Go         string `json:"go"`
	} `json:"versions"`
	Created time.Time `json:"created"`
}

// Change is one setting a resumed run changed, from the step it resumed at.
type Change struct {
	Step int64     `json:"step"`
	Key  string    `json:"key"` // the flag's name, e.g. "lr"
	From string    `json:"from"`
	To   string    `json:"to"`
	Time time.Time `json:"time"`
}

// Exists reports whether dir looks like a RUN_DIR (has config.json).
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil
}

// ReadConfig reads RUN_DIR/config.json and checks it is complete.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a tlearn run directory: no %s (train one with `tlearn train --out %s`)", dir, ConfigFile, dir)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if c.Format < 2 && c.Preprocess.Margin != 0 {
		c.Preprocess.MarginPixels, c.Preprocess.Margin = int(c.Preprocess.Margin), 0
	}
	if c.Preprocess.Norm == "" {
		c.Preprocess.Norm = imagenorm.MeanSubtract.Name
	}
	switch {
	case c.Arch == "":
		return nil, fmt.Errorf("%s: no arch", path)
	case c.InputSize <= 0:
		return nil, fmt.Errorf("%s: bad input_size %d", path, c.InputSize)
	case len(c.Classes) == 0:
		return nil, fmt.Errorf("%s: empty class list", path)
	}
	if _, err := c.ImageNorm(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// ImageNorm is the recorded input normalisation (Preprocess.Norm).
func (c *Config) ImageNorm() (imagenorm.Norm, error) {
	n, ok := imagenorm.ByName(c.Preprocess.Norm)
	if !ok {
		return imagenorm.Norm{}, fmt.Errorf("unknown preprocess norm %q (want %s or %s)", c.Preprocess.Norm, imagenorm.MeanSubtract.Name, imagenorm.PlusMinusOne.Name)
	}
	return n, nil
}

// WriteConfig writes RUN_DIR/config.json atomically.
func WriteConfig(dir string, c *Config) error {
	if c.Format == 0 {
		c.Format = 2
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644)
}

// Best is best.json inside RUN_DIR/best: which checkpoint scored best.
type Best struct {
	Step int64   `json:"step"`
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
}

// ReadBest reads RUN_DIR/best/best.json; ok is false when there is none yet.
func ReadBest(dir string) (b Best, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, BestDir, BestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Best{}, false, nil
	}
	if err != nil {
		return Best{}, false, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return Best{}, false, fmt.Errorf("parse %s: %w", filepath.Join(dir, BestDir, BestFile), err)
	}
	return b, true, nil
}

// WriteBest writes RUN_DIR/best/best.json atomically.
func WriteBest(dir string, b Best) error {
	data, _ := json.MarshalIndent(b, "", "  ")
	return atomicfile.Write(filepath.Join(dir, BestDir, BestFile), append(data, '\n'), 0o644)
}

// Lock is an exclusive hold on a RUN_DIR for one training process. It is an
// flock(2) on RUN_DIR/LOCK, so the kernel releases it when the process dies,
// even by kill -9: a crashed run never leaves the directory stuck.
type Lock struct{ f *os.File }

// ErrLocked is returned (wrapped) when another process trains into the RUN_DIR.
var ErrLocked = errors.New("run directory is in use")

// Acquire takes the lock on dir (created if needed) without waiting.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("%w: %s is being written by %s; wait for it to finish or stop it, or choose another --out", ErrLocked, dir, who)
	}
	host, _ := os.Hostname()
	f.Truncate(0)
	f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" on "+host+" since "+time.Now().Format(time.RFC3339)+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release empties the LOCK file and drops the lock. The file itself stays:
// removing it would let two later processes lock two different inodes.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}
