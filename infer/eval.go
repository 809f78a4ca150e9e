package infer

import (
	"context"
	"fmt"

	"github.com/tlearn/tlearn/pipeline"
)

// ClassStats is one class's row of an evaluation report.
type ClassStats struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	N         int     `json:"n"` // images of this class evaluated
}

// Report is the result of `tlearn eval`, in ARCHITECTURE.md's JSON shape.
type Report struct {
	N        int                   `json:"n"`
	Top1     float64               `json:"top1"`
	Top5     float64               `json:"top5"`
	Failed   int                   `json:"failed"`
	PerClass map[string]ClassStats `json:"per_class"`

	Classes   []string           `json:"-"`
	Confusion [][]int            `json:"-"` // [true][predicted]
	BadFiles  []pipeline.BadFile `json:"-"`
	Split     string             `json:"-"` // which images were evaluated
}

// EvalOptions tunes an evaluation.
type EvalOptions struct {
	Layout  string // auto|food101|folders|list
	Batch   int    // images per inference batch, at least 1
	Workers int
	// FullScaleJPEG decodes every JPEG at full scale
	// (pipeline.LoaderOptions.FullScaleJPEG).
	FullScaleJPEG bool
}

// Evaluate runs clf over the evaluation images of the dataset at data: the
// test/validation split when the layout defines one (Food-101's test.txt,
// train/ + val/ sub-folders), otherwise every image. Class names must be
// among the model's classes.
func Evaluate(ctx context.Context, clf Classifier, data string, opts EvalOptions) (*Report, error) {
	if opts.Batch < 1 {
		return nil, &UsageError{fmt.Sprintf("--batch must be at least 1 (got %d)", opts.Batch)}
	}
	classes := clf.Classes()
	ds, err := pipeline.Load(data, pipeline.LoadOptions{Layout: opts.Layout, ValSplit: 0, Classes: classes})
	if err != nil {
		return nil, err // pipeline's errors name the path
	}
	samples, split := ds.Val, "test/validation split"
	if len(samples) == 0 {
		samples, split = ds.Train, "all images"
	}
	c := len(classes)
	conf := make([][]int, c)
	for i := range conf {
		conf[i] = make([]int, c)
	}
	r := &Report{Classes: classes, Confusion: conf, Split: split}
	if ec, ok := clf.(encodedClassifier); ok {
		top5, err := evaluateEncoded(ctx, ec, samples, opts.Batch, r)
		if err != nil {
			return nil, err
		}
		r.Failed = len(r.BadFiles)
		finishReport(r, top5)
		return r, nil
	}
	loader, err := pipeline.NewLoader(clf.Preprocess(), pipeline.LoaderOptions{BatchSize: opts.Batch, Workers: opts.Workers, Mode: pipeline.Eval, FullScaleJPEG: opts.FullScaleJPEG})
	if err != nil {
		return nil, err
	}
	var top5 int
	for b, err := range loader.Epoch(ctx, samples, 0, 0) {
		if err != nil {
			return nil, err
		}
		r.BadFiles = append(r.BadFiles, b.Failed...)
		if b.N > 0 {
			probs, err := clf.Predict(b.Images, b.N)
			if err != nil {
				loader.Release(b)
				return nil, fmt.Errorf("inference: %w", err)
			}
			for i := 0; i < b.N; i++ {
				truth := int(b.Labels[i])
				top := TopK(probs[i], classes, 5)
				conf[truth][top[0].Index]++
				for _, t := range top {
					if t.Index == truth {
						top5++
					}
				}
			}
		}
		loader.Release(b)
	}
	r.Failed = len(r.BadFiles)
	finishReport(r, top5)
	return r, nil
}

// finishReport derives the accuracies and per-class rows from the confusion matrix.
func finishReport(r *Report, top5 int) {
	c := len(r.Classes)
	r.PerClass = make(map[string]ClassStats, c)
	correct := 0
	for i := 0; i < c; i++ {
		correct += r.Confusion[i][i]
	}
	for i := 0; i < c; i++ {
		var row, col int
		for j := 0; j < c; j++ {
			row += r.Confusion[i][j]
			col += r.Confusion[j][i]
		}
		r.N += row
		if row == 0 {
			continue // classes absent from the evaluation data get no row
		}
		s := ClassStats{N: row, Recall: float64(r.Confusion[i][i]) / float64(row)}
		if col > 0 {
			s.Precision = float64(r.Confusion[i][i]) / float64(col)
		}
		r.PerClass[r.Classes[i]] = s
	}
	if r.N > 0 {
		r.Top1 = float64(correct) / float64(r.N)
		r.Top5 = float64(top5) / float64(r.N)
	}
}
