package tflog

/*
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

// Set by tlearn_capture_stderr: the real stderr and the read end of the pipe
// that fd 2 now points at; -1 when nothing was captured.
int tlearn_real_stderr = -1;
int tlearn_pipe_read = -1;

static int tlearn_wants_tf_log(int argc, char **argv, char **envp) {
	for (char **e = envp; e && *e; e++) {
		if (strncmp(*e, "TLEARN_TF_LOG=", 14) == 0) {
			const char *v = *e + 14;
			if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "TRUE") || !strcmp(v, "True")) return 1;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) break;
		if (!strcmp(argv[i], "--tf-log") || !strcmp(argv[i], "-tf-log") || !strcmp(argv[i], "--tf-log=true")) return 1;
	}
	return 0;
}

// tlearn_capture_stderr runs from the executable's .preinit_array, which the
// dynamic loader calls before any shared library's initialisers: the only
// moment to catch the line libtensorflow logs while it is loaded (oneDNN),
// before any Go code runs. It points fd 2 at a pipe that the Go side drains
// through the filter (see init in tflog.go).
static void tlearn_capture_stderr(int argc, char **argv, char **envp) {
	if (tlearn_wants_tf_log(argc, argv, envp)) return;
	int p[2];
	if (pipe(p) != 0) return;
	int real = dup(2);
	if (real < 0 || dup2(p[1], 2) < 0) {
		if (real >= 0) close(real);
		close(p[0]);
		close(p[1]);
		return;
	}
	close(p[1]);
	fcntl(real, F_SETFD, FD_CLOEXEC);
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	tlearn_real_stderr = real;
	tlearn_pipe_read = p[0];
}

__attribute__((section(".preinit_array"), used))
static void (*tlearn_preinit)(int, char **, char **) = tlearn_capture_stderr;
*/
import "C"

// captured returns the file descriptors the preinit hook set up, or -1s.
func captured() (realStderr, pipeRead int) {
	return int(C.tlearn_real_stderr), int(C.tlearn_pipe_read)
}
