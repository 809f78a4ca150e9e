package tfgraph

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	attrpb "github.com/wamuir/graft/tensorflow/core/framework/attr_value_go_proto"
	fnpb "github.com/wamuir/graft/tensorflow/core/framework/function_go_proto"
	graphpb "github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	nodepb "github.com/wamuir/graft/tensorflow/core/framework/node_def_go_proto"
	shapepb "github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	varpb "github.com/wamuir/graft/tensorflow/core/framework/variable_go_proto"
	verpb "github.com/wamuir/graft/tensorflow/core/framework/versions_go_proto"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"github.com/wamuir/graft/tensorflow/op"
	"google.golang.org/protobuf/proto"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/atomicfile"
	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/tfgraph/nets"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Names in an exported SavedModel: the contract between ExportSavedModel,
// OpenSavedModel and anyone serving the model (TF Serving, Python).
const (
	// ServeTag is the MetaGraph tag of the export (tf.saved_model.SERVING).
	ServeTag = "serve"
	// SignatureBytes is the default signature: encoded images in, with
	// decode, central square crop, resize and normalisation in the graph.
	SignatureBytes = "serving_default"
	// SignatureFloat takes images already preprocessed by the pipeline:
	// float32 [N,S,S,3], RGB 0..255 minus the VGG means.
	SignatureFloat = "serving_float"

	InputBytes          = "image_bytes"   // SignatureBytes input: string [N]
	InputImages         = "images"        // SignatureFloat input: float32 [N,S,S,3]
	OutputProbabilities = "probabilities" // float32 [N,C] softmax
	OutputClasses       = "classes"       // int64 [N] top-1 class index

	// ClassesAsset is the asset file holding the class names, one a line,
	// index = line number (as RUN_DIR/classes.txt).
	ClassesAsset = "classes.txt"

	// StyleFile, in assets.extra/ (SavedModel's place for files the graph does
	// not use), names the preprocessing style the float signature expects, so
	// `tlearn predict --model SAVEDMODEL` preprocesses as training did.
	StyleFile = "preprocess_style.txt"

	// NormFile, in assets.extra/ beside StyleFile, names the input
	// normalisation (imagenorm.Norm.Name) the float signature expects: the
	// net's. Exports from before it existed were all mean_subtract.
	NormFile = "preprocess_norm.txt"

	// Preprocessing styles of ExportOptions.Style (pipeline.StyleCrop and
	// pipeline.StyleVGG; tfgraph does not import pipeline).
	StyleCrop = "crop"
	StyleVGG  = "vgg"
)

// In-graph resize of the bytes signature: ScaleAndTranslate with this kernel
// and antialiasing is tf.image.resize(method="bilinear", antialias=True),
// which pipeline/resize.go reproduces in Go. Change both together.
const (
	resizeKernel    = "triangle"
	resizeAntialias = true
)

// ExportOptions says what ExportSavedModel writes besides the graph and the
// variables.
type ExportOptions struct {
	// Classes are the class names, index = class; written to
	// assets/classes.txt. Required, one per model output.
	Classes []string
	// Style is the pipeline's preprocessing style the bytes signature
	// reproduces in its evaluation form: "crop" (the default: central square
	// of side min(h,w), resized to S) or "vgg" (shorter side resized to
	// pipeline.VGGResizeRange(S), central S×S window), as pipeline.Preprocess.
	Style string
}

// ExportSavedModel writes the model as a TensorFlow SavedModel (tag "serve")
// into dir: saved_model.pb, variables/ (the model's current weights under
// their TF-Slim names, written by SaveV2) and assets/classes.txt. It holds
// two signatures: SignatureBytes (encoded JPEG/PNG/GIF/BMP bytes → the eval
// preprocessing in the graph → probabilities and top-1 classes) and
// SignatureFloat (preprocessed float32 images → the same outputs). The export
// loads with tf.saved_model.load, saved_model_cli, TF Serving and
// OpenSavedModel.
//
// The directory is written as dir.tmp-* next to dir and renamed into place,
// so dir appears complete or not at all. ExportSavedModel fails, writing
// nothing, when dir exists and is not empty.
func (m *Model) ExportSavedModel(dir string, opts ExportOptions) (err error) {
	if m.sess == nil {
		return fmt.Errorf("export SavedModel: model is closed")
	}
	if len(opts.Classes) != m.cfg.NumClasses {
		return fmt.Errorf("export SavedModel: %d class names for a model with %d classes", len(opts.Classes), m.cfg.NumClasses)
	}
	for i, c := range opts.Classes {
		if c == "" || strings.ContainsAny(c, "\r\n") {
			return fmt.Errorf("export SavedModel: class %d name %q: must be non-empty and on one line", i, c)
		}
	}
	switch opts.Style {
	case "":
		opts.Style = StyleCrop
	case StyleCrop, StyleVGG:
	default:
		return fmt.Errorf("export SavedModel: preprocessing style %q: want %q or %q", opts.Style, StyleCrop, StyleVGG)
	}
	if err := checkExportDir(dir); err != nil {
		return err
	}

	eg, err := buildExportGraph(m.cfg, m.net, opts.Style)
	if err != nil {
		return fmt.Errorf("export SavedModel: build graph: %w", err)
	}
	// TF Serving's layout is export/NAME/VERSION: create missing parents.
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), filepath.Base(filepath.Clean(dir))+".tmp-")
	if err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := m.writeExportVariables(eg, filepath.Join(tmp, "variables")); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	smb, err := eg.savedModelProto()
	if err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, "saved_model.pb"), smb); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "assets"), 0o755); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	classes := []byte(strings.Join(opts.Classes, "\n") + "\n")
	if err := writeSynced(filepath.Join(tmp, "assets", ClassesAsset), classes); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	style := opts.Style
	if style == "" {
		style = StyleCrop
	}
	if err := os.Mkdir(filepath.Join(tmp, "assets.extra"), 0o755); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, "assets.extra", StyleFile), []byte(style+"\n")); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, "assets.extra", NormFile), []byte(m.net.Norm.Name+"\n")); err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	for _, d := range []string{filepath.Join(tmp, "variables"), filepath.Join(tmp, "assets"), filepath.Join(tmp, "assets.extra"), tmp} {
		atomicfile.SyncDir(d) // best effort: the data files are synced
	}
	if err := checkExportDir(dir); err != nil { // someone wrote there meanwhile
		return err
	}
	// An existing empty dir is fine: remove it (Remove fails on a non-empty
	// one) so the rename can take its place.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("export SavedModel: move into place: %w", err)
	}
	atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir)))
	return nil
}

// ErrExportDirNotEmpty is returned (wrapped) by ExportSavedModel when the
// target directory already holds files.
var ErrExportDirNotEmpty = errors.New("export directory exists and is not empty")

func checkExportDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export SavedModel: %s exists and is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("export SavedModel: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err == io.EOF {
		return nil
	}
	return fmt.Errorf("export SavedModel to %s: %w (remove it or choose a new --out)", dir, ErrExportDirNotEmpty)
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeExportVariables copies the model's current weights into a session on
// the export graph (feeding the export's restore outputs, as restore does)
// and writes them with the export's SaveV2 to prefix variables/variables.
func (m *Model) writeExportVariables(eg *exportGraph, dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	reads := make([]tf.Output, len(eg.vars))
	for i, v := range eg.vars {
		mv, ok := m.byName[v.Name]
		if !ok {
			return fmt.Errorf("model has no variable %s", v.Name)
		}
		reads[i] = mv.Read
	}
	vals, err := m.sess.Run(nil, reads, nil)
	if err != nil {
		return tfErr("read variables", err)
	}
	opts, err := sessionOptions(Config{Device: "cpu"})
	if err != nil {
		return err
	}
	sess, err := tf.NewSession(eg.graph, opts)
	if err != nil {
		return tfErr("export session", err)
	}
	defer sess.Close()
	feeds := make(map[tf.Output]*tf.Tensor, len(vals))
	for i, t := range vals {
		feeds[eg.vars[i].Restored] = t
	}
	if _, err := sess.Run(feeds, nil, []*tf.Operation{eg.restoreAll}); err != nil {
		return tfErr("assign export variables", err)
	}
	prefix := filepath.Join(dir, "variables")
	pt, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{eg.filename: pt}, []tf.Output{eg.saveTensor}, nil); err != nil {
		return tfErr("save export variables", err)
	}
	files, _ := filepath.Glob(prefix + ".data-*")
	for _, f := range append(files, prefix+".index") {
		if err := syncFile(f); err != nil {
			return err
		}
	}
	return nil
}

// exportGraph is the inference graph of a SavedModel: resource variables
// with TF-Slim names, a V2 saver, and the two signatures' tensors.
type exportGraph struct {
	graph      *tf.Graph
	inputSize  int
	numClasses int
	vars       []*slim.Var // with Restored: RestoreV2 outputs (feedable)
	filename   tf.Output   // saver's filename tensor (a Const the loader feeds)
	saveTensor tf.Output
	restoreAll *tf.Operation
	asset      tf.Output // Const "classes.txt", fed with the asset's path by loaders

	bytesIn, imagesIn        tf.Output
	probsBytes, classesBytes tf.Output
	probsFloat, classesFloat tf.Output
}

// buildExportGraph builds the net again on a fresh graph, forward only with
// Mode{} (moving statistics, no dropout, direct convs: portable to any
// device): once from the float placeholder and once from the in-graph
// preprocessing of encoded images, both getting the same variables by name.
func buildExportGraph(cfg Config, net nets.Net, style string) (*exportGraph, error) {
	S := cfg.InputSize
	eg := &exportGraph{inputSize: S, numClasses: cfg.NumClasses}
	pre, err := bytesPreprocessGraphDef(S, style, net.Norm)
	if err != nil {
		return nil, err
	}
	g := tf.NewGraph()
	if err := g.Import(pre, ""); err != nil {
		return nil, tfErr("import preprocessing", err)
	}
	eg.bytesIn = g.Operation(InputBytes).Output(0)
	pixels := g.Operation(preprocessNode).Output(0)

	s := op.NewScopeWithGraph(g)
	eg.imagesIn = s.AddOperation(tf.OpSpec{Type: "Placeholder", Name: InputImages,
		Attrs: map[string]any{"dtype": tf.Float, "shape": tf.MakeShape(-1, int64(S), int64(S), 3)}}).Output(0)

	vs := slim.NewVars(s, cfg.Seed)
	vs.HeadScopes = net.HeadScopeNames()
	head := func(sc *op.Scope, x tf.Output) (probs, classes tf.Output) {
		logits := net.Build(slim.New(sc, vs, slim.Mode{}), x, cfg.NumClasses).Logits
		probs = op.Softmax(sc.SubScope(OutputProbabilities), logits)
		classes = op.ArgMax(sc.SubScope(OutputClasses), logits, op.Const(sc.SubScope("axis"), int32(1)),
			op.ArgMaxOutputType(tf.Int64))
		return probs, classes
	}
	eg.probsFloat, eg.classesFloat = head(s.SubScope(SignatureFloat), eg.imagesIn)
	eg.probsBytes, eg.classesBytes = head(s.SubScope(SignatureBytes), pixels)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	eg.vars = vs.All()

	// V2 saver over the model variables, shaped like tf.compat.v1.train.Saver's.
	ss := s.SubScope("save")
	eg.filename = op.Const(ss.SubScope("Const"), "model")
	sv := slim.SaverOps(ss, eg.vars, eg.filename)
	eg.saveTensor, eg.restoreAll = sv.SaveTensor, sv.RestoreAll

	eg.asset = op.Const(s.SubScope("asset_path").SubScope("classes"), ClassesAsset)

	eg.graph, err = s.Finalize()
	if err != nil {
		return nil, err
	}
	return eg, nil
}

// Names inside the preprocessing GraphDef.
const (
	preprocessFunc = "tlearn_preprocess_image"
	preprocessNode = "preprocess/MapDefun"
)

// bytesPreprocessGraphDef returns a GraphDef holding the string [N]
// placeholder InputBytes and a MapDefun node that applies the single-image
// preprocessing function (in the GraphDef's library) to each element,
// giving float32 [N,S,S,3].
//
// MapDefun runs a function on every slice of its inputs along dimension 0 and
// stacks the results; it needs a fixed per-element output shape, which the
// resize guarantees. graft cannot set func-valued attrs, so the node and the
// library are composed as protos and imported.
func bytesPreprocessGraphDef(S int, style string, norm imagenorm.Norm) ([]byte, error) {
	body, versions, err := preprocessBody(S, style, norm)
	if err != nil {
		return nil, err
	}
	fdefBytes, err := graphToFunctionDef(body, preprocessFunc, "image", "pixels")
	if err != nil {
		return nil, err
	}
	fdef := new(fnpb.FunctionDef)
	if err := proto.Unmarshal(fdefBytes, fdef); err != nil {
		return nil, fmt.Errorf("parse FunctionDef: %w", err)
	}
	typeList := func(ts ...typespb.DataType) *attrpb.AttrValue {
		return &attrpb.AttrValue{Value: &attrpb.AttrValue_List{List: &attrpb.AttrValue_ListValue{Type: ts}}}
	}
	gd := &graphpb.GraphDef{
		Versions: versions,
		Library:  &fnpb.FunctionDefLibrary{Function: []*fnpb.FunctionDef{fdef}},
		Node: []*nodepb.NodeDef{
			{Name: InputBytes, Op: "Placeholder", Attr: map[string]*attrpb.AttrValue{
				"dtype": {Value: &attrpb.AttrValue_Type{Type: typespb.DataType_DT_STRING}},
				"shape": {Value: &attrpb.AttrValue_Shape{Shape: shapeProto(-1)}},
			}},
			{Name: preprocessNode, Op: "MapDefun", Input: []string{InputBytes}, Attr: map[string]*attrpb.AttrValue{
				"Targuments":    typeList(typespb.DataType_DT_STRING),
				"Tcaptured":     typeList(),
				"output_types":  typeList(typespb.DataType_DT_FLOAT),
				"output_shapes": {Value: &attrpb.AttrValue_List{List: &attrpb.AttrValue_ListValue{Shape: []*shapepb.TensorShapeProto{shapeProto(int64(S), int64(S), 3)}}}},
				"f":             {Value: &attrpb.AttrValue_Func{Func: &attrpb.NameAttrList{Name: preprocessFunc}}},
				// Images of one request decode in parallel on the inter-op pool.
				"max_intra_op_parallelism": {Value: &attrpb.AttrValue_I{I: 1}},
			}},
		},
	}
	return proto.Marshal(gd)
}

func shapeProto(dims ...int64) *shapepb.TensorShapeProto {
	sp := &shapepb.TensorShapeProto{}
	for _, d := range dims {
		sp.Dim = append(sp.Dim, &shapepb.TensorShapeProto_Dim{Size: d})
	}
	return sp
}

// preprocessBody builds the single-image evaluation preprocessing, the
// in-graph twin of pipeline.Preprocess{Style: style}.DecodeApply in Eval mode (see
// "In-graph equivalent" in pipeline/preprocess.go), as a GraphDef with
// placeholder "image" (string scalar) and result "pixels" (float32 [S,S,3]):
//
//	img = pipeline.Decode(image)  # uint8 [h,w,3]; in-graph: decodeExport (export_decode.go),
//	                              # a JPEG at DCT scale 1/EvalJPEGScale(w,h) (DecodeJpeg ratio)
//	crop: s = min(h,w); x = resize(img[(h-s)/2 : +s, (w-s)/2 : +s], [S,S])
//	vgg:  k = side/min(h,w) (float32, side from pipeline.VGGResizeRange(S)); nh,nw = max(rint(h·k),S), max(rint(w·k),S)
//	      x = resize(img, [nh,nw])[(nh-S)/2 : +S, (nw-S)/2 : +S]
//	pixels = (x - norm.Mean) · norm.Scale
//
// where resize is tf.image.resize(bilinear, antialias=True) on float32:
// ScaleAndTranslate(scale = new/old in float32, translation 0).
func preprocessBody(S int, style string, norm imagenorm.Norm) ([]byte, *verpb.VersionDef, error) {
	s := op.NewScope()
	c := func(name string, v any) tf.Output { return op.Const(s.SubScope(name), v) }
	in := s.AddOperation(tf.OpSpec{Type: "Placeholder", Name: "image",
		Attrs: map[string]any{"dtype": tf.String, "shape": tf.ScalarShape()}}).Output(0)
	// DecodeApply's pixels: pipeline.Decode's, except that a JPEG at least
	// twice the output size decodes at DCT scale 1/2, 1/4 or 1/8 as in the
	// libjpeg build (EvalJPEGScale; export_decode.go).
	img, err := decodeExport(s, in, &pipeline.Preprocess{InputSize: S, Style: pipeline.Style(style), Norm: norm})
	if err != nil {
		return nil, nil, err
	}
	shape := op.Shape(s, img, op.ShapeOutType(tf.Int32))
	hw := op.Slice(s.SubScope("hw"), shape, c("hw_begin", []int32{0}), c("hw_size", []int32{2}))
	short := op.Min(s.SubScope("short"), hw, c("short_axis", int32(0)))
	resize := func(x, size tf.Output) tf.Output { // x uint8 [h,w,3] → float32 [1,size,3]
		batch := op.ExpandDims(s, op.Cast(s, x, tf.Float), c("batch_axis", int32(0)))
		inHW := op.Slice(s.SubScope("in_hw"), op.Shape(s.SubScope("in_shape"), batch, op.ShapeOutType(tf.Int32)),
			c("in_hw_begin", []int32{1}), c("in_hw_size", []int32{2}))
		scale := op.Div(s.SubScope("scale"), op.Cast(s.SubScope("size_f"), size, tf.Float), op.Cast(s.SubScope("in_hw_f"), inHW, tf.Float))
		return s.AddOperation(tf.OpSpec{Type: "ScaleAndTranslate", Name: "resize",
			Input: []tf.Input{batch, size, scale, c("translation", []float32{0, 0})},
			Attrs: map[string]any{"kernel_type": resizeKernel, "antialias": resizeAntialias}}).Output(0)
	}
	two := c("two", int32(2))
	var x tf.Output
	switch style {
	case StyleVGG:
		side, _ := pipeline.VGGResizeRange(S)
		k := op.Div(s.SubScope("k"), c("resize_side", float32(side)), op.Cast(s.SubScope("short_f"), short, tf.Float))
		nhw := op.Cast(s.SubScope("nhw"), op.Round(s, op.Mul(s.SubScope("hk"), op.Cast(s.SubScope("hw_f"), hw, tf.Float), k)), tf.Int32)
		nhw = op.Maximum(s.SubScope("at_least_S"), nhw, c("S2", []int32{int32(S), int32(S)}))
		r := resize(img, nhw)
		off := op.FloorDiv(s.SubScope("offset"), op.Sub(s.SubScope("excess"), nhw, c("S2b", []int32{int32(S), int32(S)})), two)
		begin := op.ConcatV2(s.SubScope("begin"), []tf.Output{c("zero0", []int32{0}), off, c("zero3", []int32{0})}, c("axis0", int32(0)))
		x = op.Slice(s.SubScope("window"), r, begin, c("window_size", []int32{1, int32(S), int32(S), 3}))
	default:
		// Offsets from each axis' own size (the classic recipe used the
		// height for both), floor division as the Go pipeline.
		off := op.FloorDiv(s.SubScope("offset"), op.Sub(s.SubScope("excess"), hw, short), two)
		begin := op.ConcatV2(s.SubScope("begin"), []tf.Output{off, c("zero2", []int32{0})}, c("axis0", int32(0)))
		size := op.Pack(s.SubScope("size"), []tf.Output{short, short, c("three", int32(3))})
		x = resize(op.Slice(s.SubScope("crop"), img, begin, size), c("out_size", []int32{int32(S), int32(S)}))
	}
	x = op.Sub(s.SubScope("normalize"), x, c("means", norm.Mean[:]))
	if norm.Scale != 1 {
		x = op.Mul(s.SubScope("scale"), x, c("norm_scale", norm.Scale))
	}
	s.AddOperation(tf.OpSpec{Type: "Squeeze", Name: "pixels", Input: []tf.Input{x},
		Attrs: map[string]any{"squeeze_dims": []int64{0}}})
	g, err := s.Finalize()
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		return nil, nil, tfErr("serialize preprocessing", err)
	}
	gd := new(graphpb.GraphDef)
	if err := proto.Unmarshal(buf.Bytes(), gd); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), gd.Versions, nil
}

// savedModelProto serialises the SavedModel: one MetaGraphDef tagged
// "serve" with the graph, a V2 SaverDef, the variable collections (so
// Python's import_meta_graph rebuilds ResourceVariables and
// tf.saved_model.load can lift them), the classes asset and the signatures.
func (eg *exportGraph) savedModelProto() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := eg.graph.WriteTo(&buf); err != nil {
		return nil, tfErr("serialize graph", err)
	}
	gd := new(graphpb.GraphDef)
	if err := proto.Unmarshal(buf.Bytes(), gd); err != nil {
		return nil, fmt.Errorf("parse GraphDef: %w", err)
	}
	var varDefs [][]byte
	for _, v := range eg.vars {
		b, err := proto.Marshal(&varpb.VariableDef{
			VariableName:    outName(v.Handle),
			InitializerName: v.Init.Name(),
			SnapshotName:    outName(v.Read),
			IsResource:      true,
			Trainable:       true,
		})
		if err != nil {
			return nil, err
		}
		varDefs = append(varDefs, b)
	}
	bytesList := func(v [][]byte) *pb.CollectionDef {
		return &pb.CollectionDef{Kind: &pb.CollectionDef_BytesList_{BytesList: &pb.CollectionDef_BytesList{Value: v}}}
	}
	S, C := int64(eg.inputSize), int64(eg.numClasses)
	info := func(t tf.Output, dt typespb.DataType, dims ...int64) *pb.TensorInfo {
		return &pb.TensorInfo{Encoding: &pb.TensorInfo_Name{Name: outName(t)}, Dtype: dt, TensorShape: shapeProto(dims...)}
	}
	sig := func(inKey string, in *pb.TensorInfo, probs, classes tf.Output) *pb.SignatureDef {
		return &pb.SignatureDef{
			MethodName: "tensorflow/serving/predict",
			Inputs:     map[string]*pb.TensorInfo{inKey: in},
			Outputs: map[string]*pb.TensorInfo{
				OutputProbabilities: info(probs, typespb.DataType_DT_FLOAT, -1, C),
				OutputClasses:       info(classes, typespb.DataType_DT_INT64, -1),
			},
		}
	}
	mg := &pb.MetaGraphDef{
		MetaInfoDef: &pb.MetaGraphDef_MetaInfoDef{
			Tags:              []string{ServeTag},
			TensorflowVersion: tf.Version(),
		},
		GraphDef: gd,
		SaverDef: &pb.SaverDef{
			FilenameTensorName:        outName(eg.filename),
			SaveTensorName:            outName(eg.saveTensor),
			RestoreOpName:             eg.restoreAll.Name(),
			MaxToKeep:                 5,
			KeepCheckpointEveryNHours: 10000,
			Version:                   pb.SaverDef_V2,
		},
		CollectionDef: map[string]*pb.CollectionDef{
			"variables":           bytesList(varDefs),
			"trainable_variables": bytesList(varDefs),
			"asset_filepaths": {Kind: &pb.CollectionDef_NodeList_{NodeList: &pb.CollectionDef_NodeList{
				Value: []string{outName(eg.asset)}}}},
		},
		AssetFileDef: []*pb.AssetFileDef{{
			TensorInfo: &pb.TensorInfo{Encoding: &pb.TensorInfo_Name{Name: outName(eg.asset)}, Dtype: typespb.DataType_DT_STRING},
			Filename:   ClassesAsset,
		}},
		SignatureDef: map[string]*pb.SignatureDef{
			SignatureBytes: sig(InputBytes, info(eg.bytesIn, typespb.DataType_DT_STRING, -1), eg.probsBytes, eg.classesBytes),
			SignatureFloat: sig(InputImages, info(eg.imagesIn, typespb.DataType_DT_FLOAT, -1, S, S, 3), eg.probsFloat, eg.classesFloat),
		},
	}
	return proto.Marshal(&pb.SavedModel{SavedModelSchemaVersion: 1, MetaGraphs: []*pb.MetaGraphDef{mg}})
}

func outName(o tf.Output) string { return fmt.Sprintf("%s:%d", o.Op.Name(), o.Index) }
