// Command gobench measures tlearn's pipeline on a folder of JPEGs: read,
// decode, random crop + flip, resize to 224, normalise, batch — the training
// path — with a given number of workers. Used by side_by_side.py; prints one
// JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"syscall"
	"time"

	"github.com/tlearn/tlearn/pipeline"
)

func main() {
	dir := flag.String("dir", "", "folder of images")
	workers := flag.Int("workers", 1, "decoding goroutines")
	batch := flag.Int("batch", 64, "batch size")
	epochs := flag.Int("epochs", 2, "epochs to time (after one warm-up epoch)")
	mode := flag.String("mode", "train", "train or eval")
	size := flag.Int("size", 0, "input side (0: the default, 224)")
	flag.Parse()
	var samples []pipeline.Sample
	for s, err := range pipeline.WalkImages(context.Background(), []string{*dir}) {
		if err != nil {
			log.Fatal(err)
		}
		s.Label = 0
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		log.Fatalf("no images in %s", *dir)
	}
	pre := pipeline.DefaultPreprocess()
	if *size > 0 {
		pre.InputSize = *size
	}
	m := pipeline.Train
	if *mode == "eval" {
		m = pipeline.Eval
	}
	l, err := pipeline.NewLoader(pre, pipeline.LoaderOptions{
		BatchSize: *batch, Workers: *workers, Mode: m, Shuffle: true, DropRemainder: m == pipeline.Train,
	})
	if err != nil {
		log.Fatal(err)
	}
	run := func(epoch int) int {
		n := 0
		for b, err := range l.Epoch(context.Background(), samples, epoch, 0) {
			if err != nil {
				log.Fatal(err)
			}
			n += b.N
			l.Release(b)
		}
		return n
	}
	run(0) // warm-up: page cache, buffers
	cpu0 := cpuSeconds()
	start := time.Now()
	n := 0
	for e := 1; e <= *epochs; e++ {
		n += run(e)
	}
	sec := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	out, _ := json.Marshal(map[string]any{
		"name": "tlearn (Go, " + pipeline.JPEGDecoder() + ")", "workers": *workers, "images": n, "seconds": sec,
		"images_per_s": float64(n) / sec, "images_per_s_per_worker": float64(n) / sec / float64(*workers),
		"cpu_seconds": cpu, "images_per_cpu_s": float64(n) / cpu,
	})
	fmt.Fprintln(os.Stdout, string(out))
}

// cpuSeconds is the process's user+system CPU time: images per CPU-second
// compares pipelines fairly on a machine shared with other work.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
