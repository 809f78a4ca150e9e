package infer

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/tfgraph"
)

// Signatures of a SavedModel that predict and eval can run (OpenOptions.Signature).
const (
	// SignatureFloat: tlearn decodes and preprocesses in Go (the pipeline
	// that trained the model) and runs the float signature.
	SignatureFloat = "float"
	// SignatureBytes: each file's bytes go unchanged into the SavedModel's
	// serving_default, which decodes and preprocesses in-graph — exactly
	// what a TF Serving or Python client gets. No Go decoding.
	SignatureBytes = "bytes"
)

// maxEncodedBytes bounds a file sent to the bytes signature, as the
// pipeline bounds what it decodes.
const maxEncodedBytes = 256 << 20

// encodedClassifier is a Classifier that takes encoded files instead of
// preprocessed pixels: a SavedModel opened with SignatureBytes. Predict and
// Evaluate hand it the files' bytes and never call the pipeline.
type encodedClassifier interface {
	Classifier
	PredictEncoded(files [][]byte) ([][]float32, error)
}

// bytesClassifier is a SavedModel run through its bytes signature.
type bytesClassifier struct{ savedClassifier }

func (b *bytesClassifier) PredictEncoded(files [][]byte) ([][]float32, error) {
	return b.s.PredictEncoded(files)
}

// encodedResult is the answer for one file of a batch: probabilities or why
// there are none.
type encodedResult struct {
	probs  []float32
	reason string
}

// predictFiles reads paths and runs them through clf's bytes signature in one
// batch. The signature fails a whole batch on one bad image, so on an error
// the batch is re-run image by image, and each file gets its own answer.
func predictFiles(clf encodedClassifier, paths []string) ([]encodedResult, error) {
	res := make([]encodedResult, len(paths))
	var data [][]byte
	var idx []int
	for i, p := range paths {
		b, err := readEncoded(p)
		if err != nil {
			res[i].reason = err.Error()
			continue
		}
		data = append(data, b)
		idx = append(idx, i)
	}
	if len(data) == 0 {
		return res, nil
	}
	probs, err := clf.PredictEncoded(data)
	if err == nil {
		for k, i := range idx {
			res[i].probs = probs[k]
		}
		return res, nil
	}
	if len(data) == 1 {
		res[idx[0]].reason = servingReason(err)
		return res, nil
	}
	for k, i := range idx {
		p, err := clf.PredictEncoded(data[k : k+1])
		if err != nil {
			res[i].reason = servingReason(err)
			continue
		}
		res[i].probs = p[0]
	}
	return res, nil
}

func readEncoded(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("is a directory, not an image")
	}
	if st.Size() > maxEncodedBytes {
		return nil, fmt.Errorf("file is %d bytes, more than the %d allowed for one image", st.Size(), maxEncodedBytes)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("empty file (0 bytes)")
	}
	return os.ReadFile(path)
}

var (
	tfFuncNode = regexp.MustCompile(`\{\{function_node [^}]*\}\}\s*`)
	tfNodeRef  = regexp.MustCompile(`\s*\[\[[^\]]*\]\]`)
)

// servingReason is a TensorFlow error of the bytes signature on one image,
// without the graph's node names.
func servingReason(err error) string {
	msg := tfNodeRef.ReplaceAllString(tfFuncNode.ReplaceAllString(err.Error(), ""), "")
	msg = strings.Join(strings.Fields(msg), " ")
	return "serving_default: " + msg
}

// predictEncoded is Predict for an encodedClassifier.
func predictEncoded(ctx context.Context, clf encodedClassifier, paths []string, opts PredictOptions, emit func(Prediction) error) (Summary, error) {
	classes := clf.Classes()
	var sum Summary
	var batch []string
	flush := func() error {
		res, err := predictFiles(clf, batch)
		if err != nil {
			return err
		}
		for i, r := range res {
			p := Prediction{Path: batch[i], Error: r.reason}
			if r.reason == "" {
				p.Predictions = TopK(r.probs, classes, opts.TopK)
				sum.Images++
			} else {
				sum.Failed++
			}
			if err := emit(p); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	for s, err := range pipeline.WalkImages(ctx, paths) {
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		if err != nil {
			if err := flush(); err != nil {
				return sum, err
			}
			sum.Failed++
			if err := emit(Prediction{Path: s.Path, Error: err.Error()}); err != nil {
				return sum, err
			}
			continue
		}
		batch = append(batch, s.Path)
		// The first image alone, for a prompt first answer (as Predict).
		if len(batch) == opts.Batch || sum.Images+sum.Failed == 0 {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	return sum, ctx.Err()
}

// evaluateEncoded is Evaluate's loop for an encodedClassifier.
func evaluateEncoded(ctx context.Context, clf encodedClassifier, samples []pipeline.Sample, batch int, r *Report) (top5 int, err error) {
	classes := clf.Classes()
	for start := 0; start < len(samples); start += batch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		part := samples[start:min(start+batch, len(samples))]
		paths := make([]string, len(part))
		for i, s := range part {
			paths[i] = s.Path
		}
		res, err := predictFiles(clf, paths)
		if err != nil {
			return 0, err
		}
		for i, x := range res {
			if x.reason != "" {
				r.BadFiles = append(r.BadFiles, pipeline.BadFile{Path: paths[i], Reason: x.reason})
				continue
			}
			truth := int(part[i].Label)
			top := TopK(x.probs, classes, 5)
			r.Confusion[truth][top[0].Index]++
			for _, t := range top {
				if t.Index == truth {
					top5++
				}
			}
		}
	}
	return top5, nil
}

// openBytes opens a SavedModel for SignatureBytes.
func openBytes(opts OpenOptions) (Classifier, error) {
	c, err := openSavedModel(opts)
	if err != nil {
		return nil, err
	}
	sc := c.(*savedClassifier)
	if !sc.s.HasBytesSignature() {
		sc.Close()
		return nil, fmt.Errorf("--signature bytes: SavedModel %s has no %q signature taking %q", opts.Model, tfgraph.SignatureBytes, tfgraph.InputBytes)
	}
	return &bytesClassifier{*sc}, nil
}
