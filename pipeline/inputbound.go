package pipeline

import (
	"fmt"
	"runtime"
)

// InputBoundAdvice says what to do when a consumer (training, prediction)
// spends a noticeable share of its time waiting for batches: workers is the
// LoaderOptions.Workers setting (--workers; 0 means all cores). The advice
// names the knobs in order of effect: more workers while cores are idle,
// smaller images on disk (decoding cost grows with the stored pixels, not the
// network input), and the libjpeg build when the pure-Go decoder is in use.
func InputBoundAdvice(workers int) string {
	cores := runtime.NumCPU()
	if workers <= 0 {
		workers = cores
	}
	var msg string
	if workers < cores {
		msg = fmt.Sprintf("raise --workers (now %d, this machine has %d cores)", workers, cores)
	} else {
		msg = fmt.Sprintf("the %d worker(s) already use every core", workers)
	}
	msg += "; store the images smaller on disk (a shorter side of about 1.5x the input size keeps the detail the network sees and decodes several times faster than phone-size photos)"
	if decodeJPEGFast == nil {
		msg += "; or build with -tags libjpeg (libjpeg-turbo decodes JPEGs 3-4x faster than the pure-Go image/jpeg in use, and at reduced scale)"
	}
	return msg
}
