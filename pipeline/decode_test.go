package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// quadrant colours of the generated fixtures (scripts/gen_pipeline_testdata.py).
var (
	qRed   = [3]uint8{255, 0, 0}
	qGreen = [3]uint8{0, 255, 0}
	qBlue  = [3]uint8{0, 0, 255}
	qWhite = [3]uint8{255, 255, 255}
)

func pixel(img *RGB, x, y int) [3]uint8 {
	i := 3 * (y*img.W + x)
	return [3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}
}

func near(a, b [3]uint8, tol int) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

// checkQuadrants checks the centre of each quadrant of a 32×24 fixture.
func checkQuadrants(t *testing.T, img *RGB, want [4][3]uint8, tol int) {
	t.Helper()
	if img.W != 32 || img.H != 24 {
		t.Fatalf("size %dx%d, want 32x24", img.W, img.H)
	}
	pts := [4][2]int{{8, 6}, {24, 6}, {8, 18}, {24, 18}}
	for i, p := range pts {
		if got := pixel(img, p[0], p[1]); !near(got, want[i], tol) {
			t.Errorf("quadrant %d at %v: got %v, want %v ±%d", i, p, got, want[i], tol)
		}
	}
}

func TestDecodeFormats(t *testing.T) {
	std := [4][3]uint8{qRed, qGreen, qBlue, qWhite}
	gray := func(c [3]uint8) [3]uint8 { // PIL's L conversion: ITU-R 601-2 luma
		v := uint8(math.Round((float64(c[0])*299 + float64(c[1])*587 + float64(c[2])*114) / 1000))
		return [3]uint8{v, v, v}
	}
	tests := []struct {
		file string
		want [4][3]uint8
		tol  int
	}{
		{"baseline.jpg", std, 12},
		{"progressive.jpg", std, 12},
		{"q444.jpg", std, 12},
		{"upper.JPEG", std, 12},
		{"gray.jpg", [4][3]uint8{gray(qRed), gray(qGreen), gray(qBlue), qWhite}, 6},
		{"cmyk.jpg", std, 12},
		{"rgb.png", std, 0},
		{"palette.png", std, 0},
		{"rgb16.png", std, 0},
		// Alpha composited on white: half-transparent green → (127,255,127);
		// fully transparent (stored as (10,20,30)) → white.
		{"rgba.png", [4][3]uint8{qRed, {128, 255, 128}, qBlue, qWhite}, 1},
		{"rgba_lossy.webp", [4][3]uint8{qRed, {128, 255, 128}, qBlue, qWhite}, 16},
		{"gray16.png", [4][3]uint8{gray(qRed), gray(qGreen), gray(qBlue), qWhite}, 0},
		{"palette_trns.png", std, 0}, // white quadrant is a transparent entry → white
		{"anim.gif", std, 0},
		{"rgb.bmp", std, 0},
		{"lossless.webp", std, 0},
		{"lossy.webp", std, 16},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join("testdata", "img", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(img.Pix) != 3*img.W*img.H {
				t.Fatalf("len(Pix)=%d, want %d", len(img.Pix), 3*img.W*img.H)
			}
			checkQuadrants(t, img, tc.want, tc.tol)
		})
	}
}

func TestDecodeEXIFOrientation(t *testing.T) {
	for o := 1; o <= 8; o++ {
		p := filepath.Join("testdata", "exif", "orient"+string(rune('0'+o))+".jpg")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := jpegOrientation(data); got != o {
			t.Errorf("%s: orientation %d, want %d", p, got, o)
		}
		img, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(p), func(t *testing.T) {
			checkQuadrants(t, img, [4][3]uint8{qRed, qGreen, qBlue, qWhite}, 12)
		})
	}
}

func TestDecodeBadFiles(t *testing.T) {
	tests := []struct {
		file string
		is   error // nil: any error
	}{
		{"zero.jpg", nil},
		{"truncated.jpg", nil},
		{"text.jpg", ErrUnsupported},
		{"bomb.png", ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p := filepath.Join("testdata", "bad", tc.file)
			_, err := DecodeFile(p)
			if err == nil {
				t.Fatal("decoded a bad file without error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(p)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := DecodeFile(filepath.Join("testdata", "no-such-file.jpg")); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := DecodeFile("testdata"); err == nil {
		t.Error("directory: no error")
	}
}

// TestDecodeVsTensorFlow measures Go's JPEG decoder against TF's decode_jpeg
// (libjpeg-turbo, fast IDCT, fancy upsampling) on a 4:2:0 photo: the train
// (Go) / serve (graph) skew of decoding.
func TestDecodeVsTensorFlow(t *testing.T) {
	for _, name := range []string{"photo", "photo_odd420", "photo_odd422"} {
		img, err := DecodeFile(filepath.Join("testdata", "golden", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "golden", name+"_tfdecode.rgb"))
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(img.Pix) {
			t.Fatalf("%s: got %d bytes, TF %d", name, len(img.Pix), len(want))
		}
		var sum, maxd float64
		for i := range want {
			d := math.Abs(float64(img.Pix[i]) - float64(want[i]))
			sum += d
			maxd = max(maxd, d)
		}
		mean := sum / float64(len(want))
		t.Logf("%s: %s vs TF decode_jpeg: mean |Δ| %.2f levels, max %.0f", name, JPEGDecoder(), mean, maxd)
		// Fancy upsampling and libjpeg's colour tables leave only IDCT rounding.
		if mean > 1.5 || maxd > 8 {
			t.Errorf("%s: mean difference %.2f levels (max %.0f), want ≤ 1.5 (≤ 8)", name, mean, maxd)
		}
	}
}

// TestEXIFParser covers what PIL does not write: big-endian TIFF, LONG
// values, EXIF after other APPn segments, and malformed segments.
func TestEXIFParser(t *testing.T) {
	ifd := func(order string, typ uint16, v uint32) []byte {
		var bo binary.AppendByteOrder = binary.LittleEndian
		if order == "MM" {
			bo = binary.BigEndian
		}
		b := []byte(order)
		b = bo.AppendUint16(b, 42)
		b = bo.AppendUint32(b, 8)
		b = bo.AppendUint16(b, 2) // two entries: another tag, then orientation
		b = bo.AppendUint16(b, 0x010F)
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint32(b, 4)
		b = bo.AppendUint32(b, 0)
		b = bo.AppendUint16(b, 0x0112)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, 1)
		if typ == 3 {
			b = bo.AppendUint16(b, uint16(v))
			b = bo.AppendUint16(b, 0)
		} else {
			b = bo.AppendUint32(b, v)
		}
		return bo.AppendUint32(b, 0)
	}
	seg := func(marker byte, payload []byte) []byte {
		return append([]byte{0xFF, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	}
	jpg := func(segs ...[]byte) []byte {
		b := []byte{0xFF, 0xD8}
		for _, s := range segs {
			b = append(b, s...)
		}
		return append(b, 0xFF, 0xDA, 0, 2)
	}
	exif := func(t []byte) []byte { return seg(0xE1, append([]byte("Exif\x00\x00"), t...)) }
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"little-endian short", jpg(exif(ifd("II", 3, 6))), 6},
		{"big-endian short", jpg(exif(ifd("MM", 3, 8))), 8},
		{"big-endian long", jpg(exif(ifd("MM", 4, 3))), 3},
		{"after APP0 and XMP APP1", jpg(seg(0xE0, []byte("JFIF\x00..")), seg(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00")), exif(ifd("II", 3, 5))), 5},
		{"out of range", jpg(exif(ifd("II", 3, 9))), 1},
		{"wrong type", jpg(exif(ifd("II", 5, 6))), 1},
		{"after scan", append(jpg(), exif(ifd("II", 3, 6))...), 1},
		{"truncated IFD", jpg(exif(ifd("II", 3, 6)[:20])), 1},
		{"bad length", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E'}, 1},
		{"not a JPEG", []byte("\x89PNG"), 1},
	}
	for _, tc := range tests {
		if got := jpegOrientation(tc.data); got != tc.want {
			t.Errorf("%s: orientation %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestOrientRoundTrip(t *testing.T) {
	// orient with o and then the inverse must give back the image.
	inv := map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
	img := &RGB{W: 3, H: 2, Pix: make([]uint8, 18)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	for o := 1; o <= 8; o++ {
		back := orient(orient(img, o), inv[o])
		if back.W != 3 || back.H != 2 || !bytes.Equal(back.Pix, img.Pix) {
			t.Errorf("orientation %d then %d: %v, want %v", o, inv[o], back.Pix, img.Pix)
		}
	}
}

func fuzzSeeds(f *testing.F) {
	for _, dir := range []string{"img", "exif", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzDecode decodes arbitrary bytes and preprocesses whatever decodes: no
// panics, consistent sizes, finite outputs.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	p := Preprocess{Norm: ms, InputSize: 8, Margin: 0.1}
	rng := rand.New(rand.NewPCG(1, 2))
	dst := make([]float32, p.Size())
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && int64(cfg.Width)*int64(cfg.Height) > 1<<22 {
			return // valid but big: fine to decode, too slow to fuzz
		}
		img, err := Decode(data)
		if err != nil {
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("inconsistent image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
		for _, mode := range []Mode{Eval, Train} {
			for _, style := range []Style{StyleCrop, StyleVGG} {
				p.Style = style
				if err := p.Apply(img, mode, rng, dst); err != nil {
					t.Fatal(err)
				}
				for _, v := range dst {
					if math.IsNaN(float64(v)) || v < -130 || v > 256 {
						t.Fatalf("output %v out of range", v)
					}
				}
			}
		}
	})
}

// FuzzEXIF checks that the orientation parser accepts any bytes.
func FuzzEXIF(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
