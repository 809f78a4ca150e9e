package tfgraph

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/internal/atomicfile"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// CheckpointError says why a checkpoint cannot be restored into the model.
type CheckpointError struct {
	File     string  // checkpoint path (V1 file or V2 prefix)
	Variable string  // variable concerned, "" for file-level problems
	Expected []int64 // the model's shape (nil if not a shape problem)
	Found    []int64 // the checkpoint's shape (nil if missing)
	Reason   string
	Err      error // underlying TensorFlow error, if any
}

func (e *CheckpointError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checkpoint %s", e.File)
	if e.Variable != "" {
		fmt.Fprintf(&b, ": variable %s", e.Variable)
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	if e.Expected != nil {
		fmt.Fprintf(&b, " (model expects shape %s", fmtShape(e.Expected))
		if e.Found != nil {
			fmt.Fprintf(&b, ", checkpoint has %s", fmtShape(e.Found))
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *CheckpointError) Unwrap() error { return e.Err }

func fmtShape(s []int64) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(p, ",") + "]"
}

// LoadPretrained restores every model variable except the head (fc8) from
// path: a V1 single-file checkpoint (TF-Slim's vgg_19.ckpt), a V2 prefix
// (PREFIX.index exists; "PREFIX.index" itself is accepted), or a tlearn run
// directory (its LatestCheckpoint). Variables must be stored under the
// model's names (scope = arch name, e.g. "vgg_19/..."). Everything is
// validated before anything is assigned: on error the model is unchanged and
// the *CheckpointError names the file, the variable and the shapes.
func (m *Model) LoadPretrained(path string) error {
	return m.loadModelVars(path, false)
}

// LoadAll is LoadPretrained including the head: for predicting with a
// checkpoint's own classes (its fc8 must have NumClasses outputs).
func (m *Model) LoadAll(path string) error {
	return m.loadModelVars(path, true)
}

func (m *Model) loadModelVars(path string, head bool) error {
	prefix, err := ResolveCheckpoint(path)
	if err != nil {
		return err
	}
	var vs []*slim.Var
	for _, v := range m.vars {
		if v.Role.Model() && (head || !v.Head) {
			vs = append(vs, v)
		}
	}
	if err := m.restore(prefix, vs); err != nil {
		return err
	}
	return m.syncAverages()
}

// RestoreCheckpoint restores everything SaveCheckpoint wrote — variables,
// momentum slots, global step — so training resumes exactly. prefix may also
// be a run directory (its latest checkpoint).
//
// A checkpoint of a run trained in another precision holds no loss-scale
// state (or holds one this model does not use): an fp16 model then starts
// from its initial scale. One trained without EMADecay holds no moving
// averages: they then start at the restored weights.
func (m *Model) RestoreCheckpoint(prefix string) error {
	prefix, err := ResolveCheckpoint(prefix)
	if err != nil {
		return err
	}
	var core, scale, avgs []*slim.Var
	for _, v := range m.vars {
		switch {
		case v.Name == lossScaleVar || v.Name == goodStepsVar:
			scale = append(scale, v)
		case strings.HasSuffix(v.Name, emaSuffix):
			avgs = append(avgs, v)
		default:
			core = append(core, v)
		}
	}
	if err := m.restore(prefix, core); err != nil {
		return err
	}
	if m.at, err = m.GlobalStep(); err != nil {
		return err
	}
	if _, err := m.restoreOptional(prefix, scale); err != nil {
		return err
	}
	if ok, err := m.restoreOptional(prefix, avgs); err != nil || ok {
		return err
	}
	return m.syncAverages()
}

// restoreOptional restores vs when the checkpoint has them all; ok false
// (and no error) when it lacks or mis-shapes one.
func (m *Model) restoreOptional(prefix string, vs []*slim.Var) (ok bool, err error) {
	if len(vs) == 0 {
		return false, nil
	}
	if err := m.restore(prefix, vs); err != nil {
		var ce *CheckpointError
		if errors.As(err, &ce) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// syncAverages sets every moving average to its weight's value (after
// initialisation or a load of weights from elsewhere); no-op without EMA.
func (m *Model) syncAverages() error {
	if m.avg == nil {
		return nil
	}
	_, err := m.sess.Run(nil, nil, []*tf.Operation{m.avg.sync})
	return tfErr("set the moving averages to the weights", err)
}

// SwapAverages exchanges every averaged weight with its moving average
// (Config.EMADecay): call it before and after evaluating with the averages.
// Nothing else may run in between: a training step would train the averages.
func (m *Model) SwapAverages() error {
	if m.avg == nil {
		return fmt.Errorf("swap averages: the model keeps none (EMADecay 0)")
	}
	_, err := m.sess.Run(nil, nil, []*tf.Operation{m.avg.swap})
	return tfErr("swap the weights and their moving averages", err)
}

// KeepsAverages reports whether the model keeps moving averages of its weights.
func (m *Model) KeepsAverages() bool { return m.avg != nil }

// restore validates that every variable of vs is in the checkpoint with the
// right shape (one read into TF tensors), then assigns them all in one run
// from those same tensors.
func (m *Model) restore(prefix string, vs []*slim.Var) error {
	if m.sess == nil {
		return fmt.Errorf("restore: model is closed")
	}
	pt, err := tf.NewTensor(prefix)
	if err != nil {
		return err
	}
	feeds := map[tf.Output]*tf.Tensor{m.prefix: pt}
	fetches := make([]tf.Output, len(vs))
	for i, v := range vs {
		fetches[i] = v.Restored
	}
	out, err := m.sess.Run(feeds, fetches, nil)
	if err != nil {
		// Find the variable that failed, for the message.
		for _, v := range vs {
			if _, err1 := m.sess.Run(feeds, []tf.Output{v.Restored}, nil); err1 != nil {
				te := tfErr("restore", err1).(*TFError)
				ce := &CheckpointError{File: prefix, Variable: v.Name, Reason: "cannot be read", Err: te}
				switch te.Code {
				case "NotFound":
					ce.Reason, ce.Expected, ce.Err = "missing", v.Shape, nil
				case "OutOfRange", "DataLoss":
					// A short read or a bad CRC: the file was cut or damaged.
					ce.Reason = "cannot be read: the checkpoint is truncated or corrupt"
				}
				return ce
			}
		}
		return &CheckpointError{File: prefix, Reason: "cannot be read", Err: tfErr("restore", err)}
	}
	assignFeeds := make(map[tf.Output]*tf.Tensor, len(vs))
	targets := make([]*tf.Operation, len(vs))
	for i, v := range vs {
		if got := out[i].Shape(); !slices.Equal(got, v.Shape) {
			return &CheckpointError{File: prefix, Variable: v.Name, Reason: "wrong shape", Expected: v.Shape, Found: got}
		}
		assignFeeds[v.Restored] = out[i]
		targets[i] = v.Assign
	}
	if _, err := m.sess.Run(assignFeeds, nil, targets); err != nil {
		return tfErr("restore "+prefix, err)
	}
	return nil
}

// sstableMagic ends every LevelDB-style table: V1 checkpoint files and V2
// .index files are both such tables.
const sstableMagic = 0xdb4775248b80fb57

func isSSTable(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() || st.Size() < 48 {
		return false, nil
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], st.Size()-8); err != nil {
		return false, err
	}
	return binary.LittleEndian.Uint64(tail[:]) == sstableMagic, nil
}

// ResolveCheckpoint turns a user's checkpoint argument into the path
// TensorFlow's restore op takes: a V2 prefix or a V1 file. It accepts a run
// directory (→ LatestCheckpoint), "PREFIX", "PREFIX.index" and
// "PREFIX.data-00000-of-00001", and fails with a *CheckpointError when the
// path is not a TensorFlow checkpoint.
func ResolveCheckpoint(path string) (string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		p, err := LatestCheckpoint(path)
		if err != nil {
			return "", &CheckpointError{File: path, Reason: "directory holds no checkpoint", Err: err}
		}
		return p, nil
	}
	prefix := path
	if p, ok := strings.CutSuffix(path, ".index"); ok {
		prefix = p
	} else if i := strings.LastIndex(path, ".data-"); i >= 0 {
		prefix = path[:i]
	}
	if ok, err := isSSTable(prefix + ".index"); err == nil {
		if !ok {
			return "", &CheckpointError{File: prefix, Reason: "not a TensorFlow checkpoint (" + prefix + ".index is not a checkpoint index)"}
		}
		return prefix, nil
	}
	ok, err := isSSTable(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &CheckpointError{File: path, Reason: "no such checkpoint (neither a V1 file nor a V2 prefix with .index)", Err: fs.ErrNotExist}
	case err != nil:
		return "", &CheckpointError{File: path, Reason: "cannot read", Err: err}
	case !ok:
		return "", &CheckpointError{File: path, Reason: "not a TensorFlow checkpoint (no V1 table footer and no .index next to it)"}
	}
	return path, nil
}

var ckptRE = regexp.MustCompile(`^model\.ckpt-(\d+)\.index$`)

// checkpointState is TensorFlow's CheckpointState text proto (dir/checkpoint).
type checkpointState struct {
	latest string
	all    []string
}

func readCheckpointState(dir string) (checkpointState, error) {
	var st checkpointState
	f, err := os.Open(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return st, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSpace(val))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(key) {
		case "model_checkpoint_path":
			st.latest = s
		case "all_model_checkpoint_paths":
			st.all = append(st.all, s)
		}
	}
	return st, sc.Err()
}

func abs(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// LatestCheckpoint returns the prefix of the newest checkpoint in dir: the
// one named by dir/checkpoint (TensorFlow's CheckpointState) if its files
// exist, else the highest model.ckpt-N.index present. With no checkpoint the
// error wraps fs.ErrNotExist.
func LatestCheckpoint(dir string) (string, error) {
	if st, err := readCheckpointState(dir); err == nil && st.latest != "" {
		p := abs(dir, st.latest)
		if ok, _ := isSSTable(p + ".index"); ok {
			return p, nil
		}
		if ok, _ := isSSTable(p); ok { // V1
			return p, nil
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("latest checkpoint in %s: %w", dir, err)
	}
	best, bestStep := "", int64(-1)
	for _, e := range entries {
		if mm := ckptRE.FindStringSubmatch(e.Name()); mm != nil {
			if n, err := strconv.ParseInt(mm[1], 10, 64); err == nil && n > bestStep {
				best, bestStep = filepath.Join(dir, strings.TrimSuffix(e.Name(), ".index")), n
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("latest checkpoint in %s: %w", dir, fs.ErrNotExist)
	}
	return best, nil
}

// SaveCheckpoint writes every variable, momentum slot and the global step as
// a V2 checkpoint dir/model.ckpt-STEP (TensorFlow's SaveV2 op), fsyncs it,
// then atomically replaces dir/checkpoint (temp file + fsync + rename) so a
// crash never leaves a broken latest. Only the newest KeepCheckpoints
// checkpoints listed there are kept; older ones' files are deleted.
func (m *Model) SaveCheckpoint(dir string) (string, error) {
	step, err := m.GlobalStep()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	name := fmt.Sprintf("model.ckpt-%d", step)
	prefix := filepath.Join(dir, name)
	pt, err := tf.NewTensor(prefix)
	if err != nil {
		return "", err
	}
	if _, err := m.sess.Run(map[tf.Output]*tf.Tensor{m.prefix: pt}, nil, []*tf.Operation{m.save}); err != nil {
		return "", tfErr("save checkpoint "+prefix, err)
	}
	files, _ := filepath.Glob(prefix + ".data-*")
	for _, f := range append(files, prefix+".index") {
		if err := syncFile(f); err != nil {
			return "", fmt.Errorf("save checkpoint: %w", err)
		}
	}

	st, _ := readCheckpointState(dir)
	var keep []string
	for _, p := range st.all {
		if p != name && p != prefix {
			keep = append(keep, p)
		}
	}
	keep = append(keep, name)
	k := m.KeepCheckpoints
	if k <= 0 {
		k = 5
	}
	var drop []string
	if len(keep) > k {
		drop, keep = keep[:len(keep)-k], keep[len(keep)-k:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model_checkpoint_path: %s\n", strconv.Quote(name))
	for _, p := range keep {
		fmt.Fprintf(&b, "all_model_checkpoint_paths: %s\n", strconv.Quote(p))
	}
	if err := atomicfile.Write(filepath.Join(dir, "checkpoint"), []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	for _, p := range drop {
		removeCheckpoint(abs(dir, p))
	}
	return prefix, nil
}

func removeCheckpoint(prefix string) {
	files, _ := filepath.Glob(prefix + ".data-*")
	for _, f := range append(files, prefix+".index", prefix+".meta") {
		_ = os.Remove(f) // best effort: a leftover old file is harmless
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// LinkCheckpoint makes the checkpoint at prefix also the one checkpoint of
// dir (e.g. RUN_DIR/best) without a second copy of its data: its files are
// hard-linked (copied only where linking fails, e.g. across file systems),
// then dir/checkpoint names it atomically. A later deletion of the original
// (checkpoint retention) leaves dir's links intact. It returns the new prefix.
func LinkCheckpoint(prefix, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("link checkpoint: %w", err)
	}
	name := filepath.Base(prefix)
	files, _ := filepath.Glob(prefix + ".data-*")
	files = append(files, prefix+".index")
	for _, f := range files {
		dst := filepath.Join(dir, filepath.Base(f))
		if err := linkOrCopy(f, dst); err != nil {
			return "", fmt.Errorf("link checkpoint %s into %s: %w", name, dir, err)
		}
	}
	state := fmt.Sprintf("model_checkpoint_path: %s\nall_model_checkpoint_paths: %s\n", strconv.Quote(name), strconv.Quote(name))
	if err := atomicfile.Write(filepath.Join(dir, "checkpoint"), []byte(state), 0o644); err != nil {
		return "", fmt.Errorf("link checkpoint: %w", err)
	}
	return filepath.Join(dir, name), nil
}

// linkOrCopy replaces dst by a hard link to src, or by a synced copy.
func linkOrCopy(src, dst string) error {
	if same, err := sameFile(src, dst); err == nil && same {
		return nil
	}
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyFile(src, dst)
}

// copyFile streams src to a temp file beside dst, syncs it and renames it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
