// Command jpegquality measures what reduced-scale JPEG decoding (libjpeg-turbo
// DCT scaling, used by the libjpeg build's loader) changes in the network
// input: for each photo it compares Preprocess.DecodeApply (the loader's
// path) with a full-scale decode followed by Apply (antialiased bilinear from
// every pixel), for the Eval crop and 8 training crops, and prints the DCT
// scale, PSNR (peak 255), max and mean absolute difference in levels. PNG
// inputs are first encoded as JPEG quality 90 (4:2:0). Build with -tags
// libjpeg: the pure-Go build never scales, so every difference is 0.
//
//	go run -tags libjpeg ./bench/pipeline/jpegquality photo.jpg other.png ...
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/tlearn/tlearn/pipeline"
)

func main() {
	size := flag.Int("size", 224, "network input side")
	flag.Parse()
	p := pipeline.DefaultPreprocess()
	p.InputSize = *size
	fmt.Printf("%-24s %-10s %-5s %-6s %8s %6s %6s\n", "photo", "size", "mode", "scale", "PSNR dB", "max", "mean")
	for _, path := range flag.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			log.Fatal(err)
		}
		if filepath.Ext(path) != ".jpg" {
			im, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				log.Fatal(err)
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, im, &jpeg.Options{Quality: 90}); err != nil {
				log.Fatal(err)
			}
			data = buf.Bytes()
		}
		full, err := pipeline.Decode(data)
		if err != nil {
			log.Fatal(err)
		}
		scale := p.EvalJPEGScale(full.W, full.H)
		got, want := make([]float32, p.Size()), make([]float32, p.Size())
		for _, mode := range []pipeline.Mode{pipeline.Eval, pipeline.Train} {
			var se, maxd, sum float64
			n := 0
			for seed := range uint64(8) {
				if mode == pipeline.Eval && seed > 0 {
					break
				}
				if err := p.DecodeApply(data, mode, rand.New(rand.NewPCG(seed, 9)), got); err != nil {
					log.Fatal(err)
				}
				if err := p.Apply(full, mode, rand.New(rand.NewPCG(seed, 9)), want); err != nil {
					log.Fatal(err)
				}
				for i := range got {
					d := math.Abs(float64(got[i] - want[i]))
					se += d * d
					sum += d
					maxd = max(maxd, d)
					n++
				}
			}
			psnr := math.Inf(1)
			if se > 0 {
				psnr = 10 * math.Log10(255*255/(se/float64(n)))
			}
			sc := fmt.Sprintf("1/%d", scale)
			if mode == pipeline.Train {
				sc = "crop"
			}
			fmt.Printf("%-24s %-10s %-5s %-6s %8.1f %6.1f %6.2f\n", filepath.Base(path), fmt.Sprintf("%dx%d", full.W, full.H), mode, sc, psnr, maxd, sum/float64(n))
		}
	}
}
