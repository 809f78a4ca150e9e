package infer

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tlearn/tlearn/pipeline"
)

// Class is one ranked prediction.
type Class struct {
	Label       string  `json:"label"`
	Index       int     `json:"index"`
	Probability float64 `json:"probability"`
}

// Prediction is the answer for one input file: its top classes, or why it
// could not be read. Every input gets exactly one.
type Prediction struct {
	Path        string  `json:"path"`
	Predictions []Class `json:"predictions,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// PredictOptions tunes a prediction run.
type PredictOptions struct {
	TopK     int // classes per image, at least 1 (capped at the number of classes)
	Batch    int // images per inference batch, at least 1
	Workers  int // decode workers (0: all cores)
	Prefetch int // batches decoded ahead of inference (default 2)
	// FullScaleJPEG decodes every JPEG at full scale
	// (pipeline.LoaderOptions.FullScaleJPEG).
	FullScaleJPEG bool
}

// Summary counts a prediction run's inputs.
type Summary struct {
	Images int // answered with predictions
	Failed int // answered with an error
	// InputWait is the time the model waited for batches after the first
	// one arrived, and Elapsed the wall time since then (the first batch's
	// wait is the pipeline's start-up, unavoidable); see InputWaitFraction.
	InputWait, Elapsed time.Duration
}

// InputWaitFraction is the share of the run (after the first batch) that
// inference spent waiting for the pipeline: near 0 when the model is the
// bottleneck; over 0.1 the run is input-bound (see
// pipeline.InputBoundAdvice).
func (s Summary) InputWaitFraction() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return min(max(s.InputWait.Seconds()/s.Elapsed.Seconds(), 0), 1)
}

// Predict classifies every image under paths (files or folders, recursive) and
// calls emit once per input, streaming: output starts with the first batch and
// memory stays flat however many files there are. Decoding of the next batch
// overlaps inference of the current one.
func Predict(ctx context.Context, clf Classifier, paths []string, opts PredictOptions, emit func(Prediction) error) (Summary, error) {
	if opts.TopK < 1 {
		return Summary{}, &UsageError{fmt.Sprintf("--top-k must be at least 1 (got %d)", opts.TopK)}
	}
	if opts.Batch < 1 {
		return Summary{}, &UsageError{fmt.Sprintf("--batch must be at least 1 (got %d)", opts.Batch)}
	}
	classes := clf.Classes()
	if opts.TopK > len(classes) {
		opts.TopK = len(classes)
	}
	if ec, ok := clf.(encodedClassifier); ok {
		return predictEncoded(ctx, ec, paths, opts, emit)
	}
	loader, err := pipeline.NewLoader(clf.Preprocess(), pipeline.LoaderOptions{
		BatchSize: opts.Batch, Workers: opts.Workers, Prefetch: opts.Prefetch, Mode: pipeline.Eval, FullScaleJPEG: opts.FullScaleJPEG})
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	first := true
	var started, waitFrom time.Time // first batch's arrival; when the loop last asked for a batch
	for b, err := range loader.Stream(ctx, pipeline.WalkImages(ctx, paths)) {
		if started.IsZero() {
			started = time.Now()
		} else {
			sum.InputWait += time.Since(waitFrom)
		}
		if err != nil {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			return sum, err
		}
		var probs [][]float32
		done := 0 // images of b already emitted
		if b.N > 1 && first {
			// Time to first answer: the very first image goes through the
			// network alone and is printed at once, instead of waiting for a
			// whole batch (VGG19 on 2 CPU cores: ~0.6 s instead of ~9 s at
			// batch 16); the rest of the batch follows as one run.
			p1, err := clf.Predict(b.Images, 1)
			if err != nil {
				loader.Release(b)
				return sum, fmt.Errorf("inference: %w", err)
			}
			sum.Images++
			if err := emit(Prediction{Path: b.Paths[0], Predictions: TopK(p1[0], classes, opts.TopK)}); err != nil {
				loader.Release(b)
				return sum, err
			}
			done = 1
		}
		if b.N > done {
			first = false
			per := len(b.Images) / b.Cap()
			if probs, err = clf.Predict(b.Images[done*per:], b.N-done); err != nil {
				loader.Release(b)
				return sum, fmt.Errorf("inference: %w", err)
			}
		}
		for i := done; i < b.N; i++ {
			p := probs[i-done]
			sum.Images++
			if err := emit(Prediction{Path: b.Paths[i], Predictions: TopK(p, classes, opts.TopK)}); err != nil {
				loader.Release(b)
				return sum, err
			}
		}
		for _, f := range b.Failed {
			sum.Failed++
			if err := emit(Prediction{Path: f.Path, Error: f.Reason}); err != nil {
				loader.Release(b)
				return sum, err
			}
		}
		loader.Release(b)
		waitFrom = time.Now()
	}
	if !started.IsZero() {
		sum.Elapsed = time.Since(started)
	}
	return sum, ctx.Err()
}

// TopK returns the k most probable classes, most probable first (ties: lower index first).
func TopK(probs []float32, classes []string, k int) []Class {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	if k > len(idx) {
		k = len(idx)
	}
	out := make([]Class, k)
	for r := 0; r < k; r++ {
		i := idx[r]
		label := fmt.Sprint(i)
		if i < len(classes) {
			label = classes[i]
		}
		out[r] = Class{Label: label, Index: i, Probability: float64(probs[i])}
	}
	return out
}
