package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controller and its terminal end.
func openPTY(t *testing.T) (ctrl, tty *os.File) {
	t.Helper()
	ctrl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ctrl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ctrl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	return ctrl, tty
}

// screenLines replays terminal output the way a terminal shows it: "\r"
// returns to column 0, ESC[2K / ESC[K erase, text overwrites; it returns the
// lines that scrolled up ("\n").
func screenLines(out string) []string {
	var lines []string
	var cur []rune
	col := 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\r':
			col = 0
		case r == '\n':
			lines = append(lines, strings.TrimRight(string(cur), " "))
			cur, col = nil, 0
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] < '@' || rs[j] > '~') {
				j++
			}
			if j < len(rs) && rs[j] == 'K' {
				if string(rs[i+2:j]) == "2" {
					cur = nil
				} else if col < len(cur) {
					cur = cur[:col]
				}
			}
			i = j
		default:
			for len(cur) <= col {
				cur = append(cur, ' ')
			}
			cur[col] = r
			col++
		}
	}
	if len(cur) > 0 {
		lines = append(lines, strings.TrimRight(string(cur), " "))
	}
	return lines
}

// TestProgressBarLogAbove: on a terminal every log line of train starts a
// line of its own (above the progress bar, not glued onto it), and only the
// final bar remains on screen.
func TestProgressBarLogAbove(t *testing.T) {
	data, _ := sharedRun(t)
	ctrl, tty := openPTY(t)
	defer ctrl.Close()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&screen, ctrl); close(done) }() // ends with EIO once tty closes
	dir := filepath.Join(t.TempDir(), "run")
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"tlearn", "train", "--data", data, "--out", dir, "--arch", "vgg_mini", "--input-size", "32",
		"--margin", "0.05", "--weights", "none", "--batch", "4", "--steps", "6", "--eval-every", "3", "--log-every", "2",
		"--threads", "2", "--workers", "2"}, &stdout, tty)
	tty.Close()
	<-done
	if code != 0 {
		t.Fatalf("train exit %d\n%s", code, screen.String())
	}
	lines := screenLines(screen.String())
	logs, others := 0, []string{}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "time="):
			logs++
		case strings.Contains(l, "msg="):
			t.Errorf("log line glued onto other output: %q", l)
		case strings.TrimSpace(l) != "":
			others = append(others, l)
		}
	}
	if logs < 4 {
		t.Errorf("%d log lines on the terminal, want the run's (>= 4):\n%s", logs, strings.Join(lines, "\n"))
	}
	if len(others) != 1 || !strings.Contains(others[0], "6/6") {
		t.Errorf("want exactly one (final, 6/6) progress line left on screen, got %d:\n%s", len(others), strings.Join(others, "\n"))
	}
}
