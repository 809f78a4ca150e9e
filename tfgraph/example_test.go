package tfgraph_test

import (
	"fmt"
	"log"

	"github.com/tlearn/tlearn/tfgraph"
)

// A VGG with a new 3-class head, fine-tuned for a few steps, then saved.
// With real weights, call m.LoadPretrained("vgg_19.ckpt") before training.
func Example() {
	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize = 32
	cfg.DecaySteps = 100
	cfg.Seed = 1
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	const n = 2
	images := make([]float32, n*32*32*3) // NHWC, one contiguous buffer
	labels := []int32{0, 2}
	for i := 0; i < 3; i++ {
		if _, err := m.TrainStep(images, labels, n); err != nil {
			log.Fatal(err)
		}
	}
	step, _ := m.GlobalStep()
	probs, _ := m.Predict(images, n)
	fmt.Println("step", step, "classes", len(probs[0]))
	// Output: step 3 classes 3
}
