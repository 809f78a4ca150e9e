// Command tlearn fine-tunes pretrained image classifiers (VGG16/VGG19) on a
// folder of labelled images, with TensorFlow's C library doing the math.
//
// The commands are thin: flags are parsed here and handed to the library
// packages (pipeline, tfgraph, export, train). See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tlearn/tlearn/internal/tflog"
)

// Exit statuses, as ARCHITECTURE.md promises them.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitSomeFailed = 3 // predict/eval finished but some inputs failed
	// Ctrl-C/SIGTERM: work saved, the same command resumes (shell convention 128+SIGINT).
	exitInterrupted = 130
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// TensorFlow's own log lines (oneDNN notices, absl's MLIR line, placement
	// warnings) are noise for users: by default they are filtered out of
	// stderr; --tf-log or TLEARN_TF_LOG=1 shows them untouched.
	stderr, stopFilter := os.Stderr, func() {}
	if !tflog.Wanted(os.Args[1:], os.Getenv("TLEARN_TF_LOG")) {
		// Fewer lines to filter: TensorFlow's INFO lines are not even formatted.
		if _, set := os.LookupEnv("TF_CPP_MIN_LOG_LEVEL"); !set {
			os.Setenv("TF_CPP_MIN_LOG_LEVEL", "1")
		}
		stderr, stopFilter = tflog.Filter()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGPIPE (`tlearn train 2>&1 | head` once head has exited) stops like
	// SIGTERM: training saves a checkpoint and exits, instead of dying at
	// its next log line. It stays caught for the whole run, so the writes
	// that follow to the closed pipe just fail.
	ctx, stopOnPipe := context.WithCancel(ctx)
	defer stopOnPipe()
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	go func() {
		select {
		case <-pipe:
			stopOnPipe()
		case <-ctx.Done():
			stop() // a second Ctrl-C kills at once, while the first one's checkpoint is being saved
		}
	}()
	code := runIO(ctx, os.Args, os.Stdin, os.Stdout, stderr)
	stopFilter()
	os.Exit(code)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Writer:    stdout,
		ErrWriter: stderr,
		Name:      "tlearn",
		Usage:     "transfer learning of image classifiers (TF-Slim nets: VGG, ResNet, Inception, MobileNet, AlexNet) with libtensorflow",
		Version:   version,
		Description: "tlearn fine-tunes a pretrained TF-Slim network (VGG, ResNet, Inception, MobileNet, AlexNet;\n" +
			"see --arch) on your own labelled images:\n" +
			"  tlearn train --data photos/ --out runs/dishes --weights vgg_19.ckpt\n" +
			"  tlearn predict --model runs/dishes new-photos/\n" +
			"Run 'tlearn COMMAND --help' for the flags of each command.",
		Commands: []*cli.Command{
			infoCommand(),
			trainCommand(),
			predictCommand(),
			evalCommand(),
			exportCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run() maps errors to exit codes
		OnUsageError:   onUsageError,
	}
	app.Flags = append(app.Flags, tfLogFlag())
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		cmd.Flags = append(cmd.Flags, tfLogFlag())
	}
	return app
}

// tfLogFlag is --tf-log, accepted before or after the command; main reads it
// from the raw arguments, since the filter starts before flags are parsed.
func tfLogFlag() cli.Flag {
	return &cli.BoolFlag{Name: "tf-log", Usage: "show TensorFlow's own log lines on stderr (hidden by default)", EnvVars: envName("tf-log")}
}

// onUsageError turns flag-parsing mistakes into exit status 2.
func onUsageError(c *cli.Context, err error, isSub bool) error { return usageError{err} }

// usageError marks a command-line mistake (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// exitCodeError carries a specific exit status with its message.
type exitCodeError struct {
	code int
	err  error
}

func (e exitCodeError) Error() string { return e.err.Error() }
func (e exitCodeError) Unwrap() error { return e.err }

// run executes one command line with no standard input and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, strings.NewReader(""), stdout, stderr)
}

// runIO executes one command line and returns the exit status.
func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	app.Reader = stdin
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ue usageError
	var ec exitCodeError
	switch {
	case errors.As(err, &ec):
		if ec.err != nil {
			fmt.Fprintln(stderr, "tlearn:", ec.err)
		}
		return ec.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "tlearn: usage:", ue.err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "tlearn:", err)
		return exitFailure
	}
}
