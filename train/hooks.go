package train

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// noopHook lets hooks implement only what they need.
type noopHook struct{}

func (noopHook) OnStart(*Loop) error          { return nil }
func (noopHook) OnStep(*Loop, StepInfo) error { return nil }
func (noopHook) OnEnd(*Loop, EndReason) error { return nil }

// rate tracks images/s over a logging window.
type rate struct {
	images int
	busy   time.Duration
}

func (r *rate) add(s StepInfo) { r.images += s.Images; r.busy += s.StepTime }
func (r *rate) take() float64 {
	v := 0.0
	if r.busy > 0 {
		v = float64(r.images) / r.busy.Seconds()
	}
	*r = rate{}
	return v
}

// progressHook shows a bar (step, loss, images/s, ETA) on a terminal and plain
// log lines every LogEvery steps otherwise.
type progressHook struct {
	noopHook
	bar    *progressbar.ProgressBar
	window rate
	start  time.Time
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgressHook(l *Loop) *progressHook {
	h := &progressHook{}
	if isTerminal(l.Opts.Progress) {
		h.bar = progressbar.NewOptions64(l.TotalSteps,
			progressbar.OptionSetWriter(l.Opts.Progress),
			progressbar.OptionSetDescription("training"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	return h
}

func (h *progressHook) Name() string { return "progress" }

func (h *progressHook) OnStart(l *Loop) error {
	h.start = time.Now()
	if h.bar != nil {
		h.bar.Set64(l.Step)
	}
	return nil
}

func (h *progressHook) OnStep(l *Loop, s StepInfo) error {
	h.window.add(s)
	if s.Step%int64(l.Opts.LogEvery) != 0 && s.Step != l.TotalSteps {
		if h.bar != nil {
			h.bar.Set64(s.Step)
		}
		return nil
	}
	ips := h.window.take()
	if h.bar != nil {
		h.bar.Describe(fmt.Sprintf("epoch %d loss %.4f lr %.2e %.1f img/s", s.Epoch, s.Loss, s.LR, ips))
		h.bar.Set64(s.Step)
		return nil
	}
	remaining := time.Duration(0)
	if ips > 0 {
		remaining = time.Duration(float64(l.TotalSteps-s.Step) * float64(l.Opts.Batch) / ips * float64(time.Second))
	}
	l.Log.Info("step", "step", s.Step, "of", l.TotalSteps, "epoch", s.Epoch, "loss", round(s.Loss), "total_loss", round(s.TotalLoss),
		"lr", fmt.Sprintf("%.3g", s.LR), "images_per_sec", fmt.Sprintf("%.1f", ips), "input_wait", fmt.Sprintf("%.2f", l.inputWait.fraction()), "eta", remaining.Round(time.Second).String())
	return nil
}

func (h *progressHook) OnEnd(l *Loop, why EndReason) error {
	if h.bar != nil {
		h.bar.Exit()
		fmt.Fprintln(l.Opts.Progress)
	}
	return nil
}

func round(x float64) string { return fmt.Sprintf("%.4f", x) }

// tensorboardHook writes loss, total loss, learning rate and images/s every
// LogEvery steps (validation scalars are written by validationHook).
type tensorboardHook struct {
	noopHook
	window rate
}

func (h *tensorboardHook) Name() string { return "tensorboard" }

func (h *tensorboardHook) OnStep(l *Loop, s StepInfo) error {
	h.window.add(s)
	if s.Step%int64(l.Opts.LogEvery) != 0 && s.Step != l.TotalSteps {
		return nil
	}
	if err := l.Events.Scalars(s.Step, map[string]float64{
		"loss": s.Loss, "total_loss": s.TotalLoss, "learning_rate": s.LR, "images_per_sec": h.window.take(),
	}); err != nil {
		return err
	}
	return l.Events.Flush()
}

// validationHook measures top-1/top-5 on the whole validation split every
// EvalEvery steps and at the end, logs it, writes it to TensorBoard, and keeps
// the best checkpoint by top-1 in RUN_DIR/best.
type validationHook struct{ noopHook }

func (h *validationHook) Name() string { return "validation" }

func (h *validationHook) OnStep(l *Loop, s StepInfo) error {
	if s.Step%int64(l.Opts.EvalEvery) != 0 || s.Step == l.TotalSteps {
		return nil // the final validation runs in OnEnd
	}
	return h.validate(l)
}

func (h *validationHook) OnEnd(l *Loop, why EndReason) error {
	if why != Finished || (l.LastVal != nil && l.LastVal.Step == l.Step) {
		return nil
	}
	return h.validate(l)
}

func (h *validationHook) validate(l *Loop) error {
	start := time.Now()
	v, err := l.Validate(context.Background())
	if err != nil || v == nil {
		return err
	}
	l.LastVal = v
	l.Log.Info("validation", "step", v.Step, "top1", fmt.Sprintf("%.4f", v.Top1), "top5", fmt.Sprintf("%.4f", v.Top5),
		"loss", round(v.Loss), "images", v.N, "failed", v.Failed, "took", time.Since(start).Round(time.Millisecond).String())
	if err := l.Events.Scalars(v.Step, map[string]float64{"val/top1": v.Top1, "val/top5": v.Top5, "val/loss": v.Loss}); err != nil {
		return err
	}
	l.Events.Flush()
	if l.Best != nil && v.Top1 <= l.Best.Top1 {
		return nil
	}
	bestDir := filepath.Join(l.Opts.Out, rundir.BestDir)
	if err := os.MkdirAll(bestDir, 0o755); err != nil {
		return err
	}
	prefix, err := l.Model.SaveCheckpoint(bestDir)
	if err != nil {
		return fmt.Errorf("save best checkpoint: %w", err)
	}
	pruneOthers(bestDir, prefix)
	b := rundir.Best{Step: v.Step, Top1: v.Top1, Top5: v.Top5}
	if err := rundir.WriteBest(l.Opts.Out, b); err != nil {
		return err
	}
	l.Best = &b
	l.Log.Info("new best checkpoint", "top1", fmt.Sprintf("%.4f", v.Top1), "path", prefix)
	return nil
}

// pruneOthers deletes checkpoint files in dir that do not belong to keep, so
// best/ holds a single checkpoint.
func pruneOthers(dir, keep string) {
	files, _ := filepath.Glob(filepath.Join(dir, "model.ckpt-*"))
	base := filepath.Base(keep) + "."
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), base) {
			os.Remove(f)
		}
	}
}

// checkpointHook saves every SaveEvery (wall time) and every SaveEverySteps
// steps, at the end, and on interruption. It never saves after a failed step
// (a NaN loss returns before hooks run).
type checkpointHook struct {
	noopHook
	last time.Time
}

func (h *checkpointHook) Name() string { return "checkpoint" }

func (h *checkpointHook) OnStart(l *Loop) error { h.last = time.Now(); return nil }

func (h *checkpointHook) OnStep(l *Loop, s StepInfo) error {
	due := time.Since(h.last) >= l.Opts.SaveEvery
	if n := l.Opts.SaveEverySteps; n > 0 && s.Step%int64(n) == 0 {
		due = true
	}
	if !due || s.Step == l.TotalSteps {
		return nil
	}
	return h.save(l)
}

func (h *checkpointHook) OnEnd(l *Loop, why EndReason) error {
	if why == Failed {
		return nil
	}
	if l.Checkpoint != "" && strings.HasSuffix(l.Checkpoint, fmt.Sprintf("-%d", l.Step)) {
		return nil
	}
	if err := h.save(l); err != nil {
		return err
	}
	if why == Interrupted {
		l.Log.Info("interrupted: checkpoint saved; run the same command to resume", "step", l.Step, "checkpoint", l.Checkpoint)
	}
	return nil
}

func (h *checkpointHook) save(l *Loop) error {
	start := time.Now()
	prefix, err := l.Model.SaveCheckpoint(l.Opts.Out)
	if err != nil {
		return fmt.Errorf("save checkpoint at step %d: %w (the previous checkpoint is intact)", l.Step, err)
	}
	h.last = time.Now()
	l.Checkpoint = prefix
	l.Log.Info("checkpoint saved", "step", l.Step, "path", prefix, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// appendBadFiles appends "path<TAB>reason" lines to RUN_DIR/bad_files.txt and syncs.
func appendBadFiles(dir string, files []pipeline.BadFile) error {
	f, err := os.OpenFile(filepath.Join(dir, rundir.BadFilesFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record bad files: %w", err)
	}
	var sb strings.Builder
	for _, b := range files {
		sb.WriteString(b.Path + "\t" + strings.ReplaceAll(b.Reason, "\n", " ") + "\n")
	}
	if _, err := f.WriteString(sb.String()); err != nil {
		f.Close()
		return fmt.Errorf("record bad files: %w", err)
	}
	f.Sync()
	return f.Close()
}

var _ = tfgraph.Version
