// Package tflog keeps libtensorflow's own log lines (its C++ logger and absl's:
// oneDNN notices, "MLIR V1 optimization pass is not enabled", placement
// warnings) off a user's terminal, so tlearn's output is all they see.
//
// libtensorflow writes straight to file descriptor 2, below Go, and two absl
// lines ignore TF_CPP_MIN_LOG_LEVEL. Filter therefore points fd 2 at a pipe
// and forwards only what is not in TensorFlow's log formats to the real
// stderr; tlearn itself writes to the returned file, the real stderr, with
// no delay. TensorFlow's fatal ("F") lines always get through: they explain
// the abort that follows.
package tflog

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"syscall"
	"time"
)

// Wanted reports whether the user asked to see TensorFlow's log: --tf-log
// among the arguments, or TLEARN_TF_LOG set to 1/true/yes.
func Wanted(args []string, env string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--tf-log" || a == "-tf-log" || a == "--tf-log=true" {
			return true
		}
	}
	switch env {
	case "1", "true", "yes", "TRUE", "True":
		return true
	}
	return false
}

var (
	// "2026-12-02 16:59:23.823808: I tensorflow/core/util/port.cc:153] ..."
	tfLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) \S+:\d+\] `)
	// absl: "I0000 00:00:1796231311.782397   14996 mlir_graph_optimization_pass.cc:401] ..."
	abslLine = regexp.MustCompile(`^([IWEF])\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\] `)
	abslInit = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
)

// filter decides line by line; a TensorFlow message's continuation lines
// (placement warnings span many) follow their header's fate.
type filter struct{ dropping bool }

// keep reports whether line (without its newline) reaches the user.
func (f *filter) keep(line string) bool {
	if line == abslInit {
		f.dropping = true
		return false
	}
	m := tfLine.FindStringSubmatch(line)
	if m == nil {
		m = abslLine.FindStringSubmatch(line)
	}
	if m != nil {
		f.dropping = m[1] != "F"
		return !f.dropping
	}
	return !f.dropping
}

// early is the capture that the preinit hook started before libtensorflow
// loaded (in every binary that links this package, unless --tf-log or
// TLEARN_TF_LOG asked for TensorFlow's log): its forwarding starts at once, so
// fd 2 never blocks on a full pipe even if Filter is never called.
var early struct {
	real *os.File
	done chan struct{}
}

func init() {
	realFd, pipeFd := captured()
	if realFd < 0 || pipeFd < 0 {
		return
	}
	early.real = os.NewFile(uintptr(realFd), "/dev/stderr")
	early.done = make(chan struct{})
	debug.SetCrashOutput(early.real, debug.CrashOptions{})
	go func() {
		defer close(early.done)
		forward(os.NewFile(uintptr(pipeFd), "tflog-pipe"), early.real)
	}()
}

// Filter returns the real stderr for tlearn's own output and stop, which
// restores fd 2 and waits (briefly) until everything already written to it
// has been forwarded; call it before exiting. fd 2 goes through the filter
// from before libtensorflow loads when the preinit hook captured it, else
// from now on. Go runtime crashes are also written to the real stderr
// (debug.SetCrashOutput). On any failure it leaves fd 2 alone and returns
// os.Stderr.
func Filter() (stderr *os.File, stop func()) {
	if early.real != nil {
		return early.real, stopper(int(early.real.Fd()), early.done)
	}
	realFd, err := syscall.Dup(2)
	if err != nil {
		return os.Stderr, func() {}
	}
	r, w, err := os.Pipe()
	if err != nil {
		syscall.Close(realFd)
		return os.Stderr, func() {}
	}
	if err := syscall.Dup2(int(w.Fd()), 2); err != nil {
		syscall.Close(realFd)
		r.Close()
		w.Close()
		return os.Stderr, func() {}
	}
	w.Close() // fd 2 is now the pipe's only writer
	real := os.NewFile(uintptr(realFd), "/dev/stderr")
	debug.SetCrashOutput(real, debug.CrashOptions{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		forward(r, real)
	}()
	return real, stopper(realFd, done)
}

// stopper restores fd 2 to the real stderr, which closes the pipe's write
// end, and waits for the forwarder to reach its end.
func stopper(realFd int, done chan struct{}) func() {
	return func() {
		syscall.Dup2(realFd, 2)
		select {
		case <-done:
		case <-time.After(time.Second): // a TensorFlow thread still holds a copy of the pipe
		}
	}
}

// forward copies the lines of r that keep accepts to w.
func forward(r io.Reader, w io.Writer) {
	f := &filter{}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			text := line
			if text[len(text)-1] == '\n' {
				text = text[:len(text)-1]
			}
			if f.keep(text) {
				io.WriteString(w, line)
			}
		}
		if err != nil {
			return
		}
	}
}
