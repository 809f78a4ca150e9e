package tfgraph

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/pipeline"
)

// TestDecodeExportMatchesPipeline: the serving graph's decode gives exactly
// pipeline.Decode's pixels (same size, every byte equal) for every image kind
// in pipeline/testdata the graph serves; see export/kinds_test.go for the
// whole signature.
func TestDecodeExportMatchesPipeline(t *testing.T) {
	s := op.NewScope()
	inT := op.Placeholder(s.SubScope("in"), tf.String, op.PlaceholderShape(tf.ScalarShape()))
	img, err := decodeExport(s, inT)
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
