package tfgraph

import (
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
	in := op.Placeholder(s.SubScope("in"), tf.String, op.PlaceholderShape(tf.ScalarShape()))
	img, err := decodeExport(s, in)
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
	n := 0
	for _, dir := range []string{"img", "exif", "kinds"} {
		files, _ := filepath.Glob(filepath.Join("..", "pipeline", "testdata", dir, "*"))
		for _, p := range files {
			if strings.HasSuffix(p, ".webp") || strings.HasSuffix(p, "trns.gif") {
				continue
			}
			n++
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pipeline.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			x, _ := tf.NewTensor(string(b))
			out, err := sess.Run(map[tf.Output]*tf.Tensor{in: x}, []tf.Output{img}, nil)
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
	}
	if n < 25 {
		t.Errorf("only %d fixtures", n)
	}
}
