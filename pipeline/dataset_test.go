package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree creates files under root: name → content ("" means a copy of a
// real JPEG fixture).
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	jpg, err := os.ReadFile(filepath.Join("testdata", "img", "baseline.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if content == "" {
			data = jpg
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func food101Tree(t *testing.T, classes, train, test string, images ...string) string {
	root := t.TempDir()
	if test == "" {
		test = "\n" // "" would mean a JPEG to writeTree
	}
	files := map[string]string{"meta/classes.txt": classes, "meta/train.txt": train, "meta/test.txt": test}
	for _, im := range images {
		files["images/"+im+".jpg"] = ""
	}
	writeTree(t, root, files)
	return root
}

func TestLoadFood101(t *testing.T) {
	root := food101Tree(t, "apple_pie\nbaklava\n", "apple_pie/1\nbaklava/2\napple_pie/3\n", "baklava/4\n",
		"apple_pie/1", "baklava/2", "apple_pie/3", "baklava/4")
	for _, layout := range []string{"", "auto", "food101"} {
		ds, err := Load(root, LoadOptions{Layout: layout})
		if err != nil {
			t.Fatal(err)
		}
		img := func(s string) string { return filepath.Join(root, "images", s+".jpg") }
		wantTrain := []Sample{{img("apple_pie/1"), 0}, {img("apple_pie/3"), 0}, {img("baklava/2"), 1}}
		if ds.Layout != "food101" || !slices.Equal(ds.Classes, []string{"apple_pie", "baklava"}) ||
			!slices.Equal(ds.Train, wantTrain) || !slices.Equal(ds.Val, []Sample{{img("baklava/4"), 1}}) {
			t.Errorf("layout %q: got %+v", layout, ds)
		}
	}
	// Forced class order (evaluating a model trained with another order).
	ds, err := Load(root, LoadOptions{Classes: []string{"baklava", "apple_pie", "cake"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.Classes, []string{"baklava", "apple_pie", "cake"}) || len(ds.Train) != 3 ||
		!strings.Contains(ds.Train[0].Path, "baklava") || ds.Train[0].Label != 0 || ds.Train[1].Label != 1 || ds.Val[0].Label != 0 {
		t.Errorf("forced classes: labels %+v %+v", ds.Train, ds.Val)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T) string
		opts LoadOptions
		want string // substring of the error
	}{
		{"food101 class missing from classes.txt", func(t *testing.T) string {
			return food101Tree(t, "a\n", "a/1\nb/2\n", "", "a/1", "b/2")
		}, LoadOptions{}, `class "b" is not in meta/classes.txt`},
		{"food101 listed file missing", func(t *testing.T) string {
			return food101Tree(t, "a\n", "a/1\na/2\n", "", "a/1")
		}, LoadOptions{}, "1 listed image(s) do not exist"},
		{"food101 empty class", func(t *testing.T) string {
			return food101Tree(t, "a\nb\n", "a/1\n", "", "a/1")
		}, LoadOptions{}, "have no images in meta/train.txt: b"},
		{"food101 bad line", func(t *testing.T) string {
			return food101Tree(t, "a\n", "a1\n", "", "a/1")
		}, LoadOptions{}, "line 1"},
		{"food101 forced unknown class", func(t *testing.T) string {
			return food101Tree(t, "a\nb\n", "a/1\nb/1\n", "", "a/1", "b/1")
		}, LoadOptions{Classes: []string{"a"}}, `"b" is not one of the model's 1 classes`},
		{"folders empty class", func(t *testing.T) string {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"cat/1.jpg": "", "dog/notes.txt": "x"})
			return root
		}, LoadOptions{}, "have no images: dog"},
		{"folders no images", func(t *testing.T) string {
			return t.TempDir()
		}, LoadOptions{}, "no images at all"},
		{"folders loose images", func(t *testing.T) string {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"1.jpg": "", "2.png": ""})
			return root
		}, LoadOptions{}, "no class sub-folders"},
		{"folders forced unknown class", func(t *testing.T) string {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"cat/1.jpg": "", "dog/1.jpg": ""})
			return root
		}, LoadOptions{Classes: []string{"cat"}}, `folder "dog" is not one of the 1 known classes`},
		{"list missing file", func(t *testing.T) string {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"list.tsv": "a.jpg\tcat\nb.jpg\tdog\n", "a.jpg": ""})
			return filepath.Join(root, "list.tsv")
		}, LoadOptions{}, "b.jpg"},
		{"list no tab", func(t *testing.T) string {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"list.tsv": "a.jpg cat\n", "a.jpg": ""})
			return filepath.Join(root, "list.tsv")
		}, LoadOptions{}, "line 1"},
		{"list empty", func(t *testing.T) string {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"list.tsv": "# nothing\n"})
			return filepath.Join(root, "list.tsv")
		}, LoadOptions{}, "no images listed"},
		{"missing path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, LoadOptions{}, "no such file"},
		{"unknown layout", func(t *testing.T) string { return t.TempDir() }, LoadOptions{Layout: "coco"}, "unknown layout"},
		{"list layout on dir", func(t *testing.T) string { return t.TempDir() }, LoadOptions{Layout: "list"}, "needs a list file"},
		{"val split 1", func(t *testing.T) string { return t.TempDir() }, LoadOptions{ValSplit: 1}, "in [0, 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.make(t), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadFolders(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"dog/sub/deep.PNG": "", "dog/.hidden.jpg": "", "dog/readme.txt": "x", ".git/x.jpg": "",
	}
	for i := range 10 {
		files["cat/"+string(rune('a'+i))+".jpg"] = ""
		files["dog/"+string(rune('a'+i))+".JPEG"] = ""
	}
	writeTree(t, root, files)
	ds, err := Load(root, LoadOptions{ValSplit: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Layout != "folders" || !slices.Equal(ds.Classes, []string{"cat", "dog"}) {
		t.Fatalf("layout %q classes %v", ds.Layout, ds.Classes)
	}
	count := func(s []Sample, label int) (n int) {
		for _, x := range s {
			if x.Label == label {
				n++
			}
		}
		return n
	}
	// Stratified 20%: cat 10 → 2 val, dog 11 → round(2.2) = 2 val.
	if count(ds.Val, 0) != 2 || count(ds.Val, 1) != 2 || count(ds.Train, 0) != 8 || count(ds.Train, 1) != 9 {
		t.Errorf("split: train %d/%d val %d/%d", count(ds.Train, 0), count(ds.Train, 1), count(ds.Val, 0), count(ds.Val, 1))
	}
	if !slices.ContainsFunc(ds.Train, func(s Sample) bool { return strings.HasSuffix(s.Path, "deep.PNG") }) &&
		!slices.ContainsFunc(ds.Val, func(s Sample) bool { return strings.HasSuffix(s.Path, "deep.PNG") }) {
		t.Error("nested upper-case .PNG not found")
	}
	for _, s := range append(slices.Clone(ds.Train), ds.Val...) {
		if strings.Contains(s.Path, ".hidden") || strings.Contains(s.Path, ".git") {
			t.Errorf("hidden file included: %s", s.Path)
		}
	}
	// Reproducible; another seed gives another split.
	again, _ := Load(root, LoadOptions{ValSplit: 0.2, Seed: 1})
	if !slices.Equal(again.Val, ds.Val) || !slices.Equal(again.Train, ds.Train) {
		t.Error("same seed, different split")
	}
	differs := false
	for seed := int64(2); seed < 10 && !differs; seed++ {
		other, _ := Load(root, LoadOptions{ValSplit: 0.2, Seed: seed})
		differs = !slices.Equal(other.Val, ds.Val)
	}
	if !differs {
		t.Error("the seed does not change the split")
	}
	none, _ := Load(root, LoadOptions{ValSplit: 0})
	if len(none.Val) != 0 || len(none.Train) != 21 {
		t.Errorf("no split: %d train %d val", len(none.Train), len(none.Val))
	}
}

func TestLoadFoldersSymlinks(t *testing.T) {
	store, root := t.TempDir(), t.TempDir()
	writeTree(t, store, map[string]string{"cats/1.jpg": "", "cats/2.jpg": "", "dog.jpg": ""})
	if err := os.Symlink(filepath.Join(store, "cats"), filepath.Join(root, "cat")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.Mkdir(filepath.Join(root, "dog"), 0o755)
	os.Symlink(filepath.Join(store, "dog.jpg"), filepath.Join(root, "dog", "d.jpg"))
	ds, err := Load(root, LoadOptions{ValSplit: 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{{filepath.Join(root, "cat", "1.jpg"), 0}, {filepath.Join(root, "cat", "2.jpg"), 0}, {filepath.Join(root, "dog", "d.jpg"), 1}}
	if !slices.Equal(ds.Train, want) {
		t.Errorf("got %v, want %v", ds.Train, want)
	}
}

func TestLoadFoldersTrainVal(t *testing.T) {
	for _, valName := range []string{"val", "validation", "test"} {
		root := t.TempDir()
		writeTree(t, root, map[string]string{
			"train/cat/1.jpg": "", "train/dog/1.jpg": "", "train/dog/2.jpg": "",
			valName + "/dog/3.jpg": "",
		})
		ds, err := Load(root, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ds.Classes, []string{"cat", "dog"}) || len(ds.Train) != 3 ||
			!slices.Equal(ds.Val, []Sample{{filepath.Join(root, valName, "dog", "3.jpg"), 1}}) {
			t.Errorf("%s: %+v", valName, ds)
		}
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"train/cat/1.jpg": "", "val/bird/1.jpg": ""})
	if _, err := Load(root, LoadOptions{}); err == nil || !strings.Contains(err.Error(), `"bird"`) {
		t.Errorf("val class unknown to train: %v", err)
	}
}

func TestLoadList(t *testing.T) {
	root := t.TempDir()
	abs := filepath.Join(root, "abs.jpg")
	writeTree(t, root, map[string]string{
		"imgs/a.jpg": "", "imgs/b.jpg": "", "abs.jpg": "", "imgs/c.jpg": "",
		"list.tsv": "# comment\nimgs/b.jpg\tzebra\r\nimgs/a.jpg\tant\n\n" + abs + "\tzebra\nimgs/c.jpg\tant\n",
	})
	ds, err := Load(filepath.Join(root, "list.tsv"), LoadOptions{ValSplit: 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{{filepath.Join(root, "imgs/a.jpg"), 0}, {filepath.Join(root, "imgs/c.jpg"), 0}, {abs, 1}, {filepath.Join(root, "imgs/b.jpg"), 1}}
	if ds.Layout != "list" || ds.Root != root || !slices.Equal(ds.Classes, []string{"ant", "zebra"}) || !slices.Equal(ds.Train, want) {
		t.Errorf("got %+v\nwant train %+v", ds, want)
	}
	ds, err = Load(filepath.Join(root, "list.tsv"), LoadOptions{ValSplit: 0.5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train) != 2 || len(ds.Val) != 2 || ds.Val[0].Label != 0 || ds.Val[1].Label != 1 {
		t.Errorf("stratified 50%%: train %+v val %+v", ds.Train, ds.Val)
	}
}

func TestClassesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "classes.txt")
	classes := []string{"apple_pie", "baby back ribs", "crème brûlée"}
	if err := WriteClasses(p, classes); err != nil {
		t.Fatal(err)
	}
	got, err := ReadClasses(p)
	if err != nil || !slices.Equal(got, classes) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if err := WriteClasses(p, []string{"ok"}); err != nil { // overwrite
		t.Fatal(err)
	}
	if got, _ := ReadClasses(p); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("overwrite: %v", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := WriteClasses(p, []string{"a\nb"}); err == nil {
		t.Error("newline in a class name accepted")
	}
	os.WriteFile(p, []byte("a\nb\na\n"), 0o644)
	if _, err := ReadClasses(p); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("duplicate: %v", err)
	}
	os.WriteFile(p, []byte("\n \n"), 0o644)
	if _, err := ReadClasses(p); err == nil {
		t.Error("empty list accepted")
	}
}

func listSeeds(f *testing.F) {
	f.Add([]byte("a.jpg\tcat\nb.jpg\tdog\r\n# c\n\n"))
	f.Add([]byte("apple_pie/1005649\nbaby_back_ribs/1005293\n"))
	f.Add([]byte("\t\t\n/\n../x\t..\n"))
}

func FuzzParseList(f *testing.F) {
	listSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseList(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Path == "" || e.Label == "" || strings.ContainsAny(e.Label, "\t\n") || e.Line < 1 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

func FuzzParseFood101Meta(f *testing.F) {
	listSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseFood101Meta(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Class == "" || e.ID == "" || strings.Contains(e.Class, "/") || !safeRelPath(e.Class+"/"+e.ID) {
				t.Fatalf("bad entry %+v", e)
			}
		}
		if _, err := parseClasses(data); err != nil {
			return
		}
	})
}
