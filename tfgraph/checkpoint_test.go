package tfgraph

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLoadErrors: a checkpoint that does not fit is rejected before anything
// is assigned, naming the file, the variable and both shapes.
func TestLoadErrors(t *testing.T) {
	ref := runReference(t, "--arch", "vgg_mini", "--input-size", "64", "--batch", "1", "--classes", "5", "--steps", "0")
	v1, v2 := filepath.Join(ref.dir, "ckpt_v1"), filepath.Join(ref.dir, "ckpt_v2")

	t.Run("wrong shape", func(t *testing.T) {
		cfg := miniConfig()
		cfg.InputSize = 32 // fc6 becomes 1×1
		m := newModel(t, cfg)
		before, _, _ := m.ReadVariable("vgg_mini/conv1/conv1_1/weights")
		for _, p := range []string{v1, v2} {
			err := m.LoadPretrained(p)
			var ce *CheckpointError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadPretrained(%s) = %v, want *CheckpointError", p, err)
			}
			msg := err.Error()
			for _, want := range []string{p, "vgg_mini/fc6/weights", "[1,1,64,128]", "[2,2,64,128]"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
		}
		after, _, _ := m.ReadVariable("vgg_mini/conv1/conv1_1/weights")
		if !slices.Equal(before, after) {
			t.Error("a failed restore changed conv1_1/weights")
		}
	})

	t.Run("new head", func(t *testing.T) {
		cfg := miniConfig()
		cfg.NumClasses = 3
		m := newModel(t, cfg)
		head0, _, _ := m.ReadVariable("vgg_mini/fc8/weights")
		if err := m.LoadAll(v2); err == nil || !strings.Contains(err.Error(), "vgg_mini/fc8/weights") {
			t.Errorf("LoadAll with 3 classes from a 5-class checkpoint: %v", err)
		}
		if err := m.LoadPretrained(v1); err != nil {
			t.Fatal(err)
		}
		ck := newModel(t, miniConfig())
		if err := ck.LoadAll(v1); err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Variables() {
			got, _, _ := m.ReadVariable(v.Name)
			if v.IsHead {
				if v.Name == "vgg_mini/fc8/weights" && !slices.Equal(got, head0) {
					t.Error("LoadPretrained changed the head")
				}
				continue
			}
			want, _, _ := ck.ReadVariable(v.Name)
			if !slices.Equal(got, want) {
				t.Errorf("%s not restored", v.Name)
			}
		}
	})

	t.Run("missing variable", func(t *testing.T) {
		cfg := miniConfig()
		cfg.ForInference = true
		inf := newModel(t, cfg)
		dir := t.TempDir()
		if _, err := inf.SaveCheckpoint(dir); err != nil {
			t.Fatal(err)
		}
		m := newModel(t, miniConfig())
		err := m.RestoreCheckpoint(dir)
		var ce *CheckpointError
		if !errors.As(err, &ce) || ce.Reason != "missing" || !strings.HasSuffix(ce.Variable, "/Momentum") {
			t.Fatalf("restore without slots: %v", err)
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, "model.ckpt-0")) {
			t.Errorf("error %q does not name the file", err)
		}
		t.Log(err)
	})

	t.Run("not a checkpoint", func(t *testing.T) {
		m := newModel(t, miniConfig())
		dir := t.TempDir()
		junk := filepath.Join(dir, "vgg_19.ckpt")
		os.WriteFile(junk, []byte(strings.Repeat("not a checkpoint ", 10)), 0o644)
		for _, p := range []string{junk, filepath.Join(dir, "nope.ckpt"), dir} {
			err := m.LoadPretrained(p)
			var ce *CheckpointError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), p) {
				t.Errorf("LoadPretrained(%s) = %v", p, err)
			}
			t.Log(err)
		}
		if err := m.LoadPretrained(filepath.Join(dir, "nope.ckpt")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
		}
	})

	t.Run("corrupt data keeps TF's code", func(t *testing.T) {
		dir := t.TempDir()
		for _, f := range []string{"ckpt_v2.index", "ckpt_v2.data-00000-of-00001"} {
			b, _ := os.ReadFile(filepath.Join(ref.dir, f))
			if strings.HasSuffix(f, "1") {
				b = b[:len(b)/2]
			}
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		m := newModel(t, miniConfig())
		err := m.LoadAll(filepath.Join(dir, "ckpt_v2"))
		var te *TFError
		if !errors.As(err, &te) || te.Code == "Unknown" || te.Code == "" {
			t.Fatalf("truncated data file: %v (want a *TFError with TF's code)", err)
		}
		t.Logf("%v (code %s)", err, te.Code)
	})
}

// TestTrainableHead: with Trainable=head only fc8 moves (dropout on).
func TestTrainableHead(t *testing.T) {
	cfg := miniConfig()
	cfg.Trainable = "head"
	m := newModel(t, cfg)
	before := map[string][]float32{}
	for _, v := range m.Variables() {
		before[v.Name], _, _ = m.ReadVariable(v.Name)
		if v.Trainable != v.IsHead {
			t.Errorf("%s: Trainable %v, IsHead %v", v.Name, v.Trainable, v.IsHead)
		}
	}
	img, lab := randomBatch(4, 64, 5, 2)
	for i := 0; i < 2; i++ {
		if _, err := m.TrainStep(img, lab, 4); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range m.Variables() {
		got, _, _ := m.ReadVariable(v.Name)
		if changed := !slices.Equal(got, before[v.Name]); changed != v.IsHead && v.Name != "vgg_mini/fc8/biases" {
			t.Errorf("%s: changed=%v, head=%v", v.Name, changed, v.IsHead)
		}
	}
}

// TestCheckpointRetentionAndLatest: KeepCheckpoints, the state file, the
// fallback to the highest model.ckpt-N.index, and that concurrent readers
// always see a complete state naming an existing checkpoint.
func TestCheckpointRetentionAndLatest(t *testing.T) {
	cfg := miniConfig()
	cfg.InputSize = 32
	m := newModel(t, cfg)
	m.KeepCheckpoints = 2
	img, lab := randomBatch(2, 32, 5, 3)
	dir := t.TempDir()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			b, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil || !strings.HasPrefix(string(b), "model_checkpoint_path: \"model.ckpt-") || !strings.HasSuffix(string(b), "\"\n") {
				bad.Store(string(b))
				return
			}
		}
	}()
	for i := 0; i < 4; i++ {
		if _, err := m.TrainStep(img, lab, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SaveCheckpoint(dir); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Errorf("a reader saw a partial state file: %q", b)
	}

	st, err := readCheckpointState(dir)
	if err != nil || st.latest != "model.ckpt-4" || !slices.Equal(st.all, []string{"model.ckpt-3", "model.ckpt-4"}) {
		t.Errorf("state %+v, %v", st, err)
	}
	for _, p := range []string{"model.ckpt-1.index", "model.ckpt-2.data-00000-of-00001"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s should be deleted: %v", p, err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".checkpoint.tmp*")); len(tmp) > 0 {
		t.Errorf("temp files left: %v", tmp)
	}
	if p, err := LatestCheckpoint(dir); err != nil || p != filepath.Join(dir, "model.ckpt-4") {
		t.Errorf("LatestCheckpoint = %s, %v", p, err)
	}
	// A state naming a checkpoint whose files are gone, then no state at all:
	// fall back to the highest model.ckpt-N.index.
	os.WriteFile(filepath.Join(dir, "checkpoint"), []byte("model_checkpoint_path: \"model.ckpt-9\"\n"), 0o644)
	if p, err := LatestCheckpoint(dir); err != nil || p != filepath.Join(dir, "model.ckpt-4") {
		t.Errorf("LatestCheckpoint with a stale state = %s, %v", p, err)
	}
	os.Remove(filepath.Join(dir, "checkpoint"))
	if p, err := LatestCheckpoint(dir); err != nil || p != filepath.Join(dir, "model.ckpt-4") {
		t.Errorf("LatestCheckpoint without state = %s, %v", p, err)
	}
	if _, err := LatestCheckpoint(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty dir: %v", err)
	}
	// A run directory works as --weights: LoadPretrained(dir).
	m2 := newModel(t, cfg)
	if err := m2.LoadAll(dir); err != nil {
		t.Fatal(err)
	}
	l1, _ := m.Logits(img, 2)
	l2, _ := m2.Logits(img, 2)
	if !slices.Equal(flatten(l1), flatten(l2)) {
		t.Error("LoadAll(run dir) gives other logits")
	}
}

// checkFineTuneRestore: a 3-class model of m's net fine-tuned from ckpt
// (which m was loaded from) gets every variable of ckpt but the head,
// exactly as m holds them; its head variables (those under the net's head
// scopes, and only those, are marked IsHead) keep their initial values.
// Then restoring ckpt whole into it is a CheckpointError naming the file, a
// head variable and both shapes (3 vs m's classes).
func checkFineTuneRestore(t *testing.T, m *Model, ckpt string) {
	t.Helper()
	t.Run("fine-tune restore", func(t *testing.T) {
		cfg := m.Config()
		cfg.NumClasses, cfg.ForInference = 3, true
		ft := newModel(t, cfg)
		defer ft.Close()
		var names []string
		for _, v := range ft.Variables() {
			names = append(names, v.Name)
		}
		before := readVariables(t, ft, names)
		if err := ft.LoadPretrained(ckpt); err != nil {
			t.Fatal(err)
		}
		after, ckptVals := readVariables(t, ft, names), readVariables(t, m, names)
		heads := m.Net().HeadScopeNames()
		underHead := func(name string) bool {
			return slices.ContainsFunc(heads, func(h string) bool { return strings.HasPrefix(name, h+"/") })
		}
		restored, kept := 0, 0
		for _, v := range ft.Variables() {
			got := after[v.Name]
			if v.IsHead != underHead(v.Name) {
				t.Errorf("%s: IsHead %v, head scopes %v", v.Name, v.IsHead, heads)
			}
			if v.IsHead {
				if !slices.Equal(got, before[v.Name]) {
					t.Errorf("head %s changed by LoadPretrained", v.Name)
				}
				kept++
				continue
			}
			if !slices.Equal(got, ckptVals[v.Name]) {
				t.Errorf("%s not restored", v.Name)
			}
			restored++
		}
		t.Logf("%d body variables restored, %d head variables kept", restored, kept)
		if kept == 0 || restored == 0 {
			t.Errorf("%d restored, %d head variables: want both > 0", restored, kept)
		}
		err := ft.LoadAll(ckpt)
		var ce *CheckpointError
		if !errors.As(err, &ce) || ce.Expected == nil || ce.Found == nil {
			t.Fatalf("LoadAll of a %d-class checkpoint into 3 classes: %v", m.Config().NumClasses, err)
		}
		msg := err.Error()
		for _, want := range []string{ckpt, ce.Variable, fmtShape(ce.Expected), fmtShape(ce.Found)} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if !underHead(ce.Variable) || ce.Expected[len(ce.Expected)-1] != 3 || ce.Found[len(ce.Found)-1] != int64(m.Config().NumClasses) {
			t.Errorf("error names %s %v vs %v, want a head variable of 3 vs %d classes", ce.Variable, ce.Expected, ce.Found, m.Config().NumClasses)
		}
		t.Log(err)
	})
}
