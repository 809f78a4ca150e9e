package tfgraph

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/pipeline"
)

// TestDecodeExportMatchesPipeline: the serving graph's decode gives exactly
// pipeline.Decode's pixels (same size, every byte equal) for every image kind
// in pipeline/testdata the graph serves; see export/kinds_test.go for the
// whole signature.
func TestDecodeExportMatchesPipeline(t *testing.T) {
	s := op.NewScope()
	inT := op.Placeholder(s.SubScope("in"), tf.String, op.PlaceholderShape(tf.ScalarShape()))
	img, err := decodeExport(s, inT, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	type input struct {
		name string
		data []byte
	}
	var inputs []input
	for _, dir := range []string{"img", "exif", "kinds"} {
		files, _ := filepath.Glob(filepath.Join("..", "pipeline", "testdata", dir, "*"))
		for _, p := range files {
			if strings.HasSuffix(p, ".webp") {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, input{p, b})
		}
	}
	n := len(inputs)
	// Malformed EXIF in a decodable JPEG (orient6.jpg: APP0 at 2, APP1 at
	// 20, TIFF "MM" at 30, IFD0 offset at 34, entry count at 38, orientation value at 48): the
	// pipeline falls back to orientation 1 or skips the bad part; the graph
	// must do the same, never read out of bounds.
	o6, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", "exif", "orient6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if string(o6[30:32]) != "MM" {
		t.Fatalf("orient6.jpg layout changed: %q at 30", o6[30:32])
	}
	for name, edit := range map[string]func(b []byte){
		"bad byte order":   func(b []byte) { b[30], b[31] = 'X', 'X' },
		"IFD past the end": func(b []byte) { b[34], b[35] = 0x7f, 0xff },
		"huge entry count": func(b []byte) { b[38], b[39] = 0xff, 0xff },
		"not Exif":         func(b []byte) { b[24] = 'e' },
		"orientation 9":    func(b []byte) { b[49] = 9 },
	} {
		b := append([]byte(nil), o6...)
		edit(b)
		inputs = append(inputs, input{"orient6.jpg with " + name, b})
	}
	for _, in := range inputs {
		p, b := in.name, in.data
		want, err := pipeline.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		x, _ := tf.NewTensor(string(b))
		out, err := sess.Run(map[tf.Output]*tf.Tensor{inT: x}, []tf.Output{img}, nil)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		got := out[0].Value().([][][]uint8)
		if len(got) != want.H || len(got[0]) != want.W {
			t.Errorf("%s: graph %dx%d, pipeline %dx%d", p, len(got[0]), len(got), want.W, want.H)
			continue
		}
		diff, mx := 0, 0
		for y := range got {
			for x := range got[y] {
				for c := range 3 {
					d := int(got[y][x][c]) - int(want.Pix[3*(y*want.W+x)+c])
					if d != 0 {
						diff++
						mx = max(mx, d, -d)
					}
				}
			}
		}
		if diff > 0 {
			t.Errorf("%s: %d of %d values differ from pipeline.Decode (max %d levels)", p, diff, 3*want.W*want.H, mx)
		}
	}
	// A transparent GIF whose first image has its own (local) colour table:
	// refused with the message, not decoded with black where tlearn has white.
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 10, 10, 255}, color.RGBA{}, color.RGBA{9, 9, 9, 255}}
	fr := image.NewPaletted(image.Rect(0, 0, 8, 8), pal)
	for i := range fr.Pix {
		fr.Pix[i] = uint8(i % 3)
	}
	var gb bytes.Buffer
	if err := gif.EncodeAll(&gb, &gif.GIF{Image: []*image.Paletted{fr}, Delay: []int{0},
		Config: image.Config{ColorModel: color.Palette{color.Black, color.White}, Width: 8, Height: 8}}); err != nil {
		t.Fatal(err)
	}
	if gb.Bytes()[10]&0x80 == 0 || !bytes.Contains(gb.Bytes(), []byte{0x21, 0xF9}) {
		t.Fatalf("test GIF lacks a global table or a GCE: % x", gb.Bytes()[:40])
	}
	x, _ := tf.NewTensor(gb.String())
	if _, err := sess.Run(map[tf.Output]*tf.Tensor{inT: x}, []tf.Output{img}, nil); err == nil || !strings.Contains(err.Error(), ErrGIFTransparencyMsg) {
		t.Errorf("transparent GIF with a local colour table: %v, want the refusal %q", err, ErrGIFTransparencyMsg)
	}
	if n < 25 {
		t.Errorf("only %d fixtures", n)
	}
}

// TestPreprocessBodyMatchesDecodeApply: the bytes signature's per-image
// preprocessing (decode at the DCT scale EvalJPEGScale picks, then the Eval
// crop/resize on the scaled image) gives Preprocess.DecodeApply's Eval
// pixels — what `tlearn predict` feeds the network — for JPEGs decoded at
// scales 1, 2, 4 and 8 (odd sizes, EXIF 6, grey, 4:4:4 progressive), in both
// styles, and for a CMYK JPEG, which the pipeline decodes at full scale
// whatever its size. Only the libjpeg build of the pipeline scales; the
// pure-Go build's difference is logged.
func TestPreprocessBodyMatchesDecodeApply(t *testing.T) {
	kinds := filepath.Join("..", "pipeline", "testdata", "kinds")
	type tcase struct {
		file      string
		size      int
		crop, vgg int // the DCT scale the libjpeg pipeline decodes at
	}
	cases := []tcase{
		{filepath.Join(kinds, "scale2_odd420.jpg"), 32, 2, 1},
		{filepath.Join(kinds, "scale4_exif6.jpg"), 32, 4, 2},
		{filepath.Join(kinds, "scale8_grey.jpg"), 32, 8, 4},
		{filepath.Join(kinds, "scale8_444_progressive.jpg"), 32, 8, 4},
		{filepath.Join(kinds, "exif_le6.jpg"), 32, 1, 1},
		{filepath.Join("..", "pipeline", "testdata", "img", "cmyk.jpg"), 8, 1, 1}, // 32×24: EvalJPEGScale says 2
	}
	libjpeg := pipeline.JPEGDecoder() != "image/jpeg"
	sessions := map[[2]string]*tf.Session{}
	graphs := map[[2]string]*tf.Graph{}
	for _, tc := range cases {
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, style := range []string{StyleCrop, StyleVGG} {
			p := pipeline.Preprocess{InputSize: tc.size, Style: pipeline.Style(style), Norm: imagenorm.MeanSubtract}
			key := [2]string{style, fmt.Sprint(tc.size)}
			if sessions[key] == nil {
				body, _, err := preprocessBody(p.InputSize, style, imagenorm.MeanSubtract)
				if err != nil {
					t.Fatal(err)
				}
				g := tf.NewGraph()
				if err := g.Import(body, ""); err != nil {
					t.Fatal(err)
				}
				sess, err := tf.NewSession(g, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer sess.Close()
				sessions[key], graphs[key] = sess, g
			}
			g := graphs[key]
			cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			scale := map[string]int{StyleCrop: tc.crop, StyleVGG: tc.vgg}[style]
			if d := p.EvalJPEGScale(cfg.Width, cfg.Height); libjpeg && d != scale && cfg.ColorModel != color.CMYKModel {
				t.Fatalf("%s %s: EvalJPEGScale %d, the fixture is meant for %d", style, tc.file, d, scale)
			}
			want := make([]float32, p.Size())
			if err := p.DecodeApply(b, pipeline.Eval, nil, want); err != nil {
				t.Fatal(err)
			}
			x, _ := tf.NewTensor(string(b))
			out, err := sessions[key].Run(map[tf.Output]*tf.Tensor{g.Operation("image").Output(0): x},
				[]tf.Output{g.Operation("pixels").Output(0)}, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", style, tc.file, err)
			}
			got := out[0].Value().([][][]float32)
			mx := 0.0
			for y := range got {
				for x := range got[y] {
					for c := range 3 {
						mx = max(mx, math.Abs(float64(got[y][x][c]-want[3*(y*p.InputSize+x)+c])))
					}
				}
			}
			name := filepath.Base(tc.file)
			t.Logf("%s S=%d %s (%dx%d, scale 1/%d, %s): max |Δ| %.3g", style, tc.size, name, cfg.Width, cfg.Height, scale, pipeline.JPEGDecoder(), mx)
			if libjpeg && mx > 1e-3 {
				t.Errorf("%s %s: graph vs DecodeApply max |Δ| %.3g, want ≤ 1e-3", style, name, mx)
			}
		}
	}
}
