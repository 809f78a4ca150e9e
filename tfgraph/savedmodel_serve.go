package tfgraph

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
)

// ServeOptions are the session settings of OpenSavedModel (the session
// fields of Config, with the same meaning).
type ServeOptions struct {
	Device          string // "cpu", "gpu:N", or "" to let TensorFlow choose
	IntraOpThreads  int    // 0 = TensorFlow's default
	InterOpThreads  int    // 0 = TensorFlow's default
	GPUMemoryGrowth bool
	Precision       string // PrecisionFP32 (default), PrecisionBF16 or PrecisionFP16, as Config.Precision
}

// Served is a SavedModel written by ExportSavedModel, loaded with
// TensorFlow's C++ SavedModel loader (the one TensorFlow Serving uses). It
// predicts from preprocessed float batches like Model.Predict, or from
// encoded images through the in-graph preprocessing. A Served is not safe
// for concurrent use.
type Served struct {
	dir       string
	sm        *tf.SavedModel
	inputSize int
	classes   []string
	style     string
	norm      imagenorm.Norm

	images, probs       tf.Output // SignatureFloat
	bytesIn, bytesProbs tf.Output // SignatureBytes
	hasBytes            bool
}

// IsSavedModel reports whether dir holds a saved_model.pb (any SavedModel,
// not necessarily tlearn's).
func IsSavedModel(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "saved_model.pb"))
	return err == nil && st.Mode().IsRegular()
}

// OpenSavedModel loads the "serve" MetaGraph of the SavedModel in dir and
// checks that it is a tlearn export: signature SignatureFloat with input
// InputImages float32 [-1,S,S,3] and output OutputProbabilities, and the
// class names in assets/classes.txt, one per output. A SavedModel from
// another tool fails with an error naming what is missing.
func OpenSavedModel(dir string, opts ServeOptions) (*Served, error) {
	if !IsSavedModel(dir) {
		return nil, fmt.Errorf("open SavedModel %s: no saved_model.pb (export one with `tlearn export --model RUN_DIR --out DIR`)", dir)
	}
	so, err := sessionOptions(Config{Device: opts.Device, IntraOpThreads: opts.IntraOpThreads,
		InterOpThreads: opts.InterOpThreads, GPUMemoryGrowth: opts.GPUMemoryGrowth, SoftPlacement: true,
		Precision: opts.Precision})
	if err != nil {
		return nil, err
	}
	sm, err := tf.LoadSavedModel(dir, []string{ServeTag}, so)
	if err != nil {
		return nil, tfErr("load SavedModel "+dir, err)
	}
	s := &Served{dir: dir, sm: sm}
	if err := s.bind(); err != nil {
		sm.Session.Close()
		return nil, fmt.Errorf("open SavedModel %s: %w", dir, err)
	}
	return s, nil
}

// bind finds the signatures' tensors and reads the classes asset.
func (s *Served) bind() error {
	var names []string
	for k := range s.sm.Signatures {
		names = append(names, k)
	}
	slices.Sort(names)
	have := "it has signatures " + strings.Join(names, ", ")
	if len(names) == 0 {
		have = "it has no signatures"
	}
	sig, ok := s.sm.Signatures[SignatureFloat]
	if !ok {
		return fmt.Errorf("not a tlearn export: no signature %q (%s); export it with `tlearn export`", SignatureFloat, have)
	}
	in, ok := sig.Inputs[InputImages]
	if !ok {
		return fmt.Errorf("not a tlearn export: signature %q has no input %q", SignatureFloat, InputImages)
	}
	dims, err := in.Shape.ToSlice()
	if err != nil || in.DType != tf.Float || len(dims) != 4 || dims[1] < 1 || dims[1] != dims[2] || dims[3] != 3 {
		return fmt.Errorf("not a tlearn export: input %q of %q is %v %v, want float32 [-1,S,S,3]", InputImages, SignatureFloat, in.DType, in.Shape)
	}
	s.inputSize = int(dims[1])
	out, ok := sig.Outputs[OutputProbabilities]
	if !ok {
		return fmt.Errorf("not a tlearn export: signature %q has no output %q", SignatureFloat, OutputProbabilities)
	}
	if s.images, err = s.output(in.Name); err != nil {
		return err
	}
	if s.probs, err = s.output(out.Name); err != nil {
		return err
	}
	if bs, ok := s.sm.Signatures[SignatureBytes]; ok {
		bi, ok1 := bs.Inputs[InputBytes]
		bo, ok2 := bs.Outputs[OutputProbabilities]
		if ok1 && ok2 {
			if s.bytesIn, err = s.output(bi.Name); err != nil {
				return err
			}
			if s.bytesProbs, err = s.output(bo.Name); err != nil {
				return err
			}
			s.hasBytes = true
		}
	}
	s.classes, err = readClassesAsset(filepath.Join(s.dir, "assets", ClassesAsset))
	if err != nil {
		return err
	}
	s.style = StyleCrop // exports before StyleFile existed were all crop
	if b, err := os.ReadFile(filepath.Join(s.dir, "assets.extra", StyleFile)); err == nil {
		switch st := strings.TrimSpace(string(b)); st {
		case StyleCrop, StyleVGG:
			s.style = st
		default:
			return fmt.Errorf("assets.extra/%s names an unknown preprocessing style %q", StyleFile, st)
		}
	}
	s.norm = imagenorm.MeanSubtract // exports before NormFile existed were all VGG-style
	if b, err := os.ReadFile(filepath.Join(s.dir, "assets.extra", NormFile)); err == nil {
		name := strings.TrimSpace(string(b))
		var ok bool
		if s.norm, ok = imagenorm.ByName(name); !ok {
			return fmt.Errorf("assets.extra/%s names an unknown input normalisation %q", NormFile, name)
		}
	}
	if c := out.Shape; c.NumDimensions() == 2 {
		if n := c.Size(1); n > 0 && int(n) != len(s.classes) {
			return fmt.Errorf("assets/%s lists %d classes, the model has %d outputs", ClassesAsset, len(s.classes), n)
		}
	}
	return nil
}

// output resolves a TensorInfo name "op:index" in the loaded graph.
func (s *Served) output(name string) (tf.Output, error) {
	opName, idx, _ := strings.Cut(name, ":")
	i := 0
	if idx != "" {
		var err error
		if i, err = strconv.Atoi(idx); err != nil {
			return tf.Output{}, fmt.Errorf("bad tensor name %q in a signature", name)
		}
	}
	o := s.sm.Graph.Operation(opName)
	if o == nil || i >= o.NumOutputs() {
		return tf.Output{}, fmt.Errorf("signature tensor %q is not in the graph", name)
	}
	return o.Output(i), nil
}

func readClassesAsset(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("not a tlearn export: no class names (assets/%s is missing)", ClassesAsset)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var classes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			classes = append(classes, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s lists no classes", path)
	}
	return classes, nil
}

// InputSize is the side S of the float signature's [N,S,S,3] input.
func (s *Served) InputSize() int { return s.inputSize }

// Style returns the preprocessing style the float signature expects
// (StyleCrop or StyleVGG), as the export recorded it.
func (s *Served) Style() string { return s.style }

// Norm returns the input normalisation the float signature expects (the
// net's), as the export recorded it.
func (s *Served) Norm() imagenorm.Norm { return s.norm }

// Classes returns the class names, index = class.
func (s *Served) Classes() []string { return slices.Clone(s.classes) }

// NumClasses is the number of model outputs.
func (s *Served) NumClasses() int { return len(s.classes) }

// Dir is the SavedModel directory.
func (s *Served) Dir() string { return s.dir }

// Predict returns softmax probabilities [n][NumClasses] for the first n
// images of images (NHWC float32, preprocessed as by the pipeline: n·S·S·3
// values), through the SignatureFloat signature.
func (s *Served) Predict(images []float32, n int) ([][]float32, error) {
	if s.sm == nil {
		return nil, fmt.Errorf("predict: SavedModel is closed")
	}
	t, err := batchTensor(images, n, s.inputSize)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	out, err := s.sm.Session.Run(map[tf.Output]*tf.Tensor{s.images: t}, []tf.Output{s.probs}, nil)
	freeTensor(t)
	if err != nil {
		return nil, tfErr("predict", err)
	}
	defer freeTensors[int](nil, out...)
	return out[0].Value().([][]float32), nil
}

// PredictEncoded returns softmax probabilities for encoded images (JPEG,
// PNG, GIF, BMP bytes) through the SignatureBytes signature, whose graph
// decodes (as pipeline.Decode; see export_decode.go), crops, resizes and
// normalises each image. One undecodable or refused image (WebP; a
// transparent GIF with a local colour table) fails the whole batch.
func (s *Served) PredictEncoded(images [][]byte) ([][]float32, error) {
	if s.sm == nil {
		return nil, fmt.Errorf("predict: SavedModel is closed")
	}
	if !s.hasBytes {
		return nil, fmt.Errorf("predict: SavedModel %s has no %q signature taking %q", s.dir, SignatureBytes, InputBytes)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("predict: no images")
	}
	strs := make([]string, len(images))
	for i, b := range images {
		strs[i] = string(b)
	}
	t, err := tf.NewTensor(strs)
	if err != nil {
		return nil, err
	}
	out, err := s.sm.Session.Run(map[tf.Output]*tf.Tensor{s.bytesIn: t}, []tf.Output{s.bytesProbs}, nil)
	freeTensor(t)
	if err != nil {
		return nil, tfErr("predict encoded images", err)
	}
	defer freeTensors[int](nil, out...)
	return out[0].Value().([][]float32), nil
}

// HasBytesSignature reports whether the SavedModel has SignatureBytes
// (PredictEncoded works).
func (s *Served) HasBytesSignature() bool { return s.hasBytes }

// Close releases the session. The Served is unusable afterwards.
func (s *Served) Close() error {
	if s.sm == nil {
		return nil
	}
	err := s.sm.Session.Close()
	s.sm = nil
	return tfErr("close SavedModel session", err)
}
