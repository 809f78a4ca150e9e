package train

import (
	"fmt"
	"time"

	"github.com/tlearn/tlearn/pipeline"
)

// The input-wait gauge: how much of each training step is spent waiting for
// the input pipeline to deliver the batch (StepInfo.InputWait) rather than in
// Session.Run and the hooks. The pipeline prepares batches on its own
// goroutines while the model trains (LoaderOptions.Prefetch batches ahead),
// so a model slower than the pipeline waits ~0; a value above a few percent
// means the accelerator (or the CPU running the model) idles for want of
// images.

// Input-wait gauge settings: the first inputWarmupSteps steps are not judged
// (the pipeline starts, the first Session.Run builds its kernels), then the
// fraction is judged over windows of inputJudgeSteps steps and a warning is
// logged, once per run, the first time it exceeds inputBoundFraction.
const (
	inputWarmupSteps   = 10
	inputJudgeSteps    = 20
	inputBoundFraction = 0.10
)

// waitWindow sums input wait and step time over a span of steps.
type waitWindow struct {
	wait, step time.Duration
	steps      int
}

func (w *waitWindow) add(s StepInfo) {
	w.wait += s.InputWait
	w.step += s.StepTime
	w.steps++
}

// fraction is the share of step time spent waiting for input, in 0..1.
func (w *waitWindow) fraction() float64 {
	if w.step <= 0 {
		return 0
	}
	return min(max(w.wait.Seconds()/w.step.Seconds(), 0), 1)
}

// inputWaitHook writes input_wait (the fraction of step time spent waiting
// for the batch, over the LogEvery window) to TensorBoard and keeps it for
// the progress log line, and warns once when training is input-bound.
type inputWaitHook struct {
	noopHook
	log    waitWindow // the LogEvery window
	judge  waitWindow // the current inputJudgeSteps window after warm-up
	seen   int        // steps seen by this run (a resumed run warms up again)
	warned bool
	last   float64 // input_wait of the last finished log window
}

func (h *inputWaitHook) Name() string { return "input-wait" }

// fraction is input_wait over the last finished LogEvery window (0 before
// the first, or without the hook).
func (h *inputWaitHook) fraction() float64 {
	if h == nil {
		return 0
	}
	return h.last
}

func (h *inputWaitHook) OnStep(l *Loop, s StepInfo) error {
	h.seen++
	h.log.add(s)
	if h.seen > inputWarmupSteps {
		h.judge.add(s)
		if h.judge.steps >= inputJudgeSteps {
			if f := h.judge.fraction(); f > inputBoundFraction && !h.warned {
				h.warned = true
				l.Log.Warn("training is input-bound", "input_wait", fmt.Sprintf("%.2f", f),
					"steps", fmt.Sprintf("%d-%d", s.Step-int64(h.judge.steps)+1, s.Step),
					"advice", fmt.Sprintf("%.0f%% of each step waits for the next batch; %s", 100*f, pipeline.InputBoundAdvice(l.Opts.Workers)))
			}
			h.judge = waitWindow{}
		}
	}
	if s.Step%int64(l.Opts.LogEvery) != 0 && s.Step != l.TotalSteps {
		return nil
	}
	h.last = h.log.fraction()
	h.log = waitWindow{}
	if l.Events == nil {
		return nil
	}
	return l.Events.Scalars(s.Step, map[string]float64{"input_wait": h.last})
}
