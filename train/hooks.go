package train

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rivo/uniseg"
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

// progressHook shows a status line (step, loss, images/s, ETA) under the log
// on a terminal, and plain log lines every LogEvery steps otherwise.
type progressHook struct {
	noopHook
	status *statusLine // nil when Progress is not a terminal
	desc   string
	window rate
	ips    float64 // images/s of the last logging window
	start  time.Time
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgressHook(l *Loop) *progressHook {
	return &progressHook{status: l.status, desc: "training"}
}

func (h *progressHook) Name() string { return "progress" }

func (h *progressHook) OnStart(l *Loop) error {
	h.start = time.Now()
	if h.status != nil {
		h.status.Set(h.line(l, l.Step, 0), true)
	}
	return nil
}

// line is the status line's text: description, bar, count, ETA.
func (h *progressHook) line(l *Loop, step int64, ips float64) string {
	eta := "?"
	if ips > 0 {
		eta = time.Duration(float64(l.TotalSteps-step) * float64(l.Opts.Batch) / ips * float64(time.Second)).Round(time.Second).String()
	}
	frac := 0.0
	if l.TotalSteps > 0 {
		frac = float64(step) / float64(l.TotalSteps)
	}
	const barWidth = 20
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", barWidth-fill)
	return fmt.Sprintf("%s %3.0f%% [%s] %d/%d ETA %s", h.desc, 100*frac, bar, step, l.TotalSteps, eta)
}

func (h *progressHook) OnStep(l *Loop, s StepInfo) error {
	h.window.add(s)
	if s.Step%int64(l.Opts.LogEvery) != 0 && s.Step != l.TotalSteps {
		if h.status != nil {
			h.status.Set(h.line(l, s.Step, h.lastIPS()), false)
		}
		return nil
	}
	ips := h.window.take()
	h.ips = ips
	if h.status != nil {
		h.desc = fmt.Sprintf("epoch %d loss %.4f lr %.2e %.1f img/s", s.Epoch, s.Loss, s.LR, ips)
		h.status.Set(h.line(l, s.Step, ips), true)
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

func (h *progressHook) lastIPS() float64 { return h.ips }

func (h *progressHook) OnEnd(l *Loop, why EndReason) error {
	if h.status != nil {
		h.status.Set(h.line(l, l.Step, h.ips)+fmt.Sprintf(" (%s)", time.Since(h.start).Round(time.Second)), true)
		h.status.Done()
	}
	return nil
}

// statusLine keeps one line of status (the progress bar) at the bottom of a
// terminal: log lines written through it are printed above the status,
// which is then redrawn, so log lines are never glued onto the bar and no
// stale bars are left behind. Its Write is the log's output.
type statusLine struct {
	mu       sync.Mutex
	w        io.Writer
	width    func() int // terminal columns
	text     string
	shown    bool
	lastDraw time.Time
}

// newStatusLine draws on w, a terminal (an *os.File).
func newStatusLine(w io.Writer) *statusLine {
	s := &statusLine{w: w, width: func() int { return 80 }}
	if f, ok := w.(*os.File); ok {
		s.width = func() int {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
			return 80
		}
	}
	return s
}

// clearLine returns the cursor to column 0 and erases the line (ANSI EL2).
const clearLine = "\r\x1b[2K"

// Write prints log output above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown {
		io.WriteString(s.w, clearLine)
		s.shown = false
	}
	n, err := s.w.Write(p)
	if s.text != "" && len(p) > 0 && p[len(p)-1] == '\n' {
		s.draw()
	}
	return n, err
}

// Set changes the status text; it is redrawn at most every 200 ms unless now.
func (s *statusLine) Set(text string, now bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.text = text
	if now || time.Since(s.lastDraw) >= 200*time.Millisecond {
		s.draw()
	}
}

// Done leaves the last status on its own line; later writes print below it.
func (s *statusLine) Done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown {
		io.WriteString(s.w, "\n")
	}
	s.text, s.shown = "", false
}

// draw shows the status, cut to the terminal's width (a wrapped line could
// not be erased with one clearLine).
func (s *statusLine) draw() {
	text := s.text
	if w := s.width() - 1; w > 0 && uniseg.StringWidth(text) > w {
		g := uniseg.NewGraphemes(text)
		var b strings.Builder
		cols := 0
		for g.Next() {
			if cols+g.Width() > w {
				break
			}
			cols += g.Width()
			b.WriteString(g.Str())
		}
		text = b.String()
	}
	io.WriteString(s.w, clearLine+text)
	s.shown = true
	s.lastDraw = time.Now()
}

func round(x float64) string { return fmt.Sprintf("%.4f", x) }

// tensorboardHook writes loss, total loss, learning rate and images/s every
// LogEvery steps, and with fp16 the loss scale and the steps skipped since
// the last write (validation scalars are written by validationHook).
type tensorboardHook struct {
	noopHook
	window  rate
	skipped int
}

func (h *tensorboardHook) Name() string { return "tensorboard" }

func (h *tensorboardHook) OnStep(l *Loop, s StepInfo) error {
	h.window.add(s)
	if s.Skipped {
		h.skipped++
	}
	if s.Step%int64(l.Opts.LogEvery) != 0 && s.Step != l.TotalSteps {
		return nil
	}
	scalars := map[string]float64{
		"loss": s.Loss, "total_loss": s.TotalLoss, "learning_rate": s.LR, "learning_rate_body": s.LRBody,
		"images_per_sec": h.window.take(),
	}
	if s.LossScale > 0 {
		scalars["loss_scale"], scalars["skipped_steps"] = s.LossScale, float64(h.skipped)
		h.skipped = 0
	}
	if err := l.Events.Scalars(s.Step, scalars); err != nil {
		return err
	}
	return l.Events.Flush()
}

// validationHook measures top-1/top-5 on the whole validation split every
// EvalEvery steps and at the end, logs it, writes it to TensorBoard, and keeps
// the best checkpoint by top-1 in RUN_DIR/best. With Patience it stops the
// run after that many validations in a row without a better top-1.
type validationHook struct {
	noopHook
	stale int // validations since the best one
}

func (h *validationHook) Name() string { return "validation" }

// OnStart counts, in a resumed run, the validations since best/'s (those
// at multiples of EvalEvery after its step), so that patience spans a
// resume; a run that had already stopped early stops again at once.
func (h *validationHook) OnStart(l *Loop) error {
	if l.Best == nil {
		return nil
	}
	every := int64(l.Opts.EvalEvery)
	h.stale = int(max(0, l.Step/every-l.Best.Step/every))
	if p := l.Opts.Patience; p > 0 && h.stale >= p && l.Step < l.TotalSteps {
		h.stop(l, "the run had already stopped early")
	}
	return nil
}

// stop logs early stopping and ends the run.
func (h *validationHook) stop(l *Loop, note string) {
	reason := fmt.Sprintf("no better validation top-1 than %.4f (step %d) in %d validations (--patience %d)", l.Best.Top1, l.Best.Step, h.stale, l.Opts.Patience)
	msg := "early stopping: " + reason + "; best/ holds the best checkpoint"
	if note != "" {
		msg += " (" + note + ")"
	}
	l.Log.Info(msg, "step", l.Step, "of", l.TotalSteps)
	l.Stop(reason)
}

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
		h.stale++
		if p := l.Opts.Patience; p > 0 && h.stale >= p && l.Step < l.TotalSteps {
			h.stop(l, "")
		}
		return nil
	}
	h.stale = 0
	// best/ holds hard links to a checkpoint of RUN_DIR (saved now unless
	// the latest is already at this step), so a best that is also the latest
	// costs no second copy, and retention deleting it later keeps best/'s.
	if !checkpointAt(l.Checkpoint, l.Step) {
		if err := saveLatest(l); err != nil {
			return err
		}
	}
	bestDir := filepath.Join(l.Opts.Out, rundir.BestDir)
	prefix, err := tfgraph.LinkCheckpoint(l.Checkpoint, bestDir)
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
	last  time.Time
	start int64 // the step the run started (or resumed) at
}

func (h *checkpointHook) Name() string { return "checkpoint" }

func (h *checkpointHook) OnStart(l *Loop) error { h.last, h.start = time.Now(), l.Step; return nil }

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
	if checkpointAt(l.Checkpoint, l.Step) {
		return nil
	}
	if why == EarlyStopped && l.Resumed && l.Step == h.start {
		return nil // stopped before any step: the checkpoint it resumed from is this state
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
	if err := saveLatest(l); err != nil {
		return err
	}
	h.last = time.Now()
	return nil
}

// checkpointAt reports whether prefix is the checkpoint of step.
func checkpointAt(prefix string, step int64) bool {
	return prefix != "" && strings.HasSuffix(prefix, fmt.Sprintf("-%d", step))
}

// saveLatest writes a checkpoint of the current step into RUN_DIR (keeping
// the newest KeepCheckpoints) and records it as l.Checkpoint.
func saveLatest(l *Loop) error {
	start := time.Now()
	prefix, err := l.Model.SaveCheckpoint(l.Opts.Out)
	if err != nil {
		return fmt.Errorf("save checkpoint at step %d: %w (the previous checkpoint is intact)", l.Step, err)
	}
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
