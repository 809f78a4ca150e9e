package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"github.com/tlearn/tlearn/pipeline"
)

// Loading a list-file dataset with a reproducible stratified split.
func ExampleLoad() {
	ds, err := pipeline.Load("testdata/list.tsv", pipeline.LoadOptions{ValSplit: 0.25, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ds.Layout, ds.Classes, len(ds.Train), "train", len(ds.Val), "val")
	// Output: list [exif formats] 7 train 2 val
}

// Training: stream shuffled, augmented, full batches for one epoch.
func ExampleLoader_Epoch() {
	ds, err := pipeline.Load("testdata/list.tsv", pipeline.LoadOptions{ValSplit: 0.2, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	l, err := pipeline.NewLoader(pipeline.DefaultPreprocess(), pipeline.LoaderOptions{
		BatchSize: 2, Mode: pipeline.Train, Shuffle: true, DropRemainder: true, Seed: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	const epoch, startBatch = 0, 0
	for b, err := range l.Epoch(context.Background(), ds.Train, epoch, startBatch) {
		if err != nil {
			log.Fatal(err)
		}
		// b.Images is one contiguous NHWC buffer: one tensor of shape
		// [b.N, 224, 224, 3] (b.Images[:b.N*224*224*3]), labels b.Labels[:b.N].
		fmt.Printf("batch %d: %d images, labels %v\n", b.Index, b.N, b.Labels[:b.N])
		l.Release(b)
	}
	// Output:
	// batch 0: 2 images, labels [0 0]
	// batch 1: 2 images, labels [1 1]
	// batch 2: 2 images, labels [0 1]
}

// Prediction over folders and files given on the command line: output starts
// at once, unreadable inputs come back in Failed.
func ExampleLoader_Stream() {
	l, err := pipeline.NewLoader(pipeline.DefaultPreprocess(), pipeline.LoaderOptions{BatchSize: 64})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	inputs := pipeline.WalkImages(ctx, []string{"testdata/bad", "testdata/exif/orient6.jpg"})
	for b, err := range l.Stream(ctx, inputs) {
		if err != nil {
			log.Fatal(err)
		}
		for i := range b.N {
			fmt.Println("ok", filepath.ToSlash(b.Paths[i]))
		}
		for _, f := range b.Failed {
			fmt.Println("failed", filepath.ToSlash(f.Path))
		}
	}
	// Output:
	// ok testdata/exif/orient6.jpg
	// failed testdata/bad/bomb.png
	// failed testdata/bad/text.jpg
	// failed testdata/bad/truncated.jpg
	// failed testdata/bad/zero.jpg
}

// Decoding and preprocessing one image for inference.
func ExamplePreprocess_Apply() {
	img, err := pipeline.DecodeFile("testdata/exif/orient6.jpg")
	if err != nil {
		log.Fatal(err)
	}
	p := pipeline.DefaultPreprocess()
	x := make([]float32, p.Size())
	if err := p.Apply(img, pipeline.Eval, nil, x); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d upright → %d floats; top-left red minus mean: %.0f\n", img.W, img.H, len(x), x[0])
	// Output: 32x24 upright → 150528 floats; top-left red minus mean: 130
}
