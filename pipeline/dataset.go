package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Layouts accepted by LoadOptions.Layout.
const (
	LayoutAuto    = "auto"
	LayoutFood101 = "food101"
	LayoutFolders = "folders"
	LayoutList    = "list"
)

// imageExts are the file extensions (lower case) treated as images when
// walking folders.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".webp": true}

// IsImageName reports whether name has an image extension (.jpg .jpeg .png
// .gif .bmp .webp, any case).
func IsImageName(name string) bool {
	return imageExts[strings.ToLower(filepath.Ext(name))]
}

// Sample is one image and its class index (-1 when unknown, as in
// prediction).
type Sample struct {
	Path  string
	Label int
}

// Dataset is a discovered dataset: class names (index = label) and the
// training and validation samples, each ordered by class, then path.
type Dataset struct {
	// Root is the dataset directory (for a list file, its directory).
	Root string
	// Layout is the layout used: "food101", "folders" or "list".
	Layout  string
	Classes []string
	Train   []Sample
	Val     []Sample
}

// LoadOptions configures Load.
type LoadOptions struct {
	// Layout is "auto" (or ""), "food101", "folders" or "list". Auto picks
	// food101 when path/meta/classes.txt exists, list when path is a file,
	// and folders otherwise.
	Layout string
	// ValSplit is the validation fraction of each class for the folders and
	// list layouts, in [0, 1): 0 means no validation set. Food-101 uses its own test.txt; a folders dataset with
	// train/ and val/ (or validation/, test/) sub-folders uses those.
	ValSplit float64
	// Seed makes the split reproducible.
	Seed int64
	// Classes, when set, fixes the class list and order (evaluating against
	// a trained model): a class in the data that is not in it is an error,
	// and classes without samples are allowed.
	Classes []string
}

// Load discovers the dataset at path (a directory, or a list file) and splits
// it. It fails before any training starts, with a message saying what to fix,
// when: the layout is unknown or does not fit, there are no images at all, a
// class has no images, a class is missing from classes.txt (or from
// opts.Classes), or a listed file does not exist.
func Load(path string, opts LoadOptions) (*Dataset, error) {
	if !(opts.ValSplit >= 0 && opts.ValSplit < 1) {
		return nil, fmt.Errorf("validation split %v must be in [0, 1) (e.g. 0.2; 0 for none)", opts.ValSplit)
	}
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // its message repeats the path
		}
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	layout := opts.Layout
	switch layout {
	case "", LayoutAuto:
		switch {
		case !st.IsDir():
			layout = LayoutList
		case fileExists(filepath.Join(path, "meta", "classes.txt")):
			layout = LayoutFood101
		default:
			layout = LayoutFolders
		}
	case LayoutFood101, LayoutFolders:
		if !st.IsDir() {
			return nil, fmt.Errorf("load %s: layout %q needs a directory; for a list file use layout %q", path, layout, LayoutList)
		}
	case LayoutList:
		if st.IsDir() {
			return nil, fmt.Errorf("load %s: layout %q needs a list file (path<TAB>label lines), not a directory", path, layout)
		}
	default:
		return nil, fmt.Errorf("load %s: unknown layout %q (use auto, food101, folders or list)", path, layout)
	}
	var ds *Dataset
	switch layout {
	case LayoutFood101:
		ds, err = loadFood101(path, opts)
	case LayoutFolders:
		ds, err = loadFolders(path, opts)
	case LayoutList:
		ds, err = loadList(path, opts)
	}
	if err != nil {
		return nil, err
	}
	ds.Layout = layout
	return ds, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// classIndex maps names to labels, from opts.Classes when set.
type classIndex struct {
	names  []string
	index  map[string]int
	forced bool
}

func newClassIndex(names []string, forced bool) (*classIndex, error) {
	ci := &classIndex{names: names, index: make(map[string]int, len(names)), forced: forced}
	for i, n := range names {
		if _, dup := ci.index[n]; dup {
			return nil, fmt.Errorf("class %q listed twice", n)
		}
		ci.index[n] = i
	}
	return ci, nil
}

// ---- Food-101 ----

// food101Entry is one line of meta/train.txt or meta/test.txt.
type food101Entry struct {
	Class, ID string
	Line      int
}

// parseFood101Meta parses meta/train.txt or meta/test.txt: "class/id" lines
// (blank lines skipped). As in the classic recipe, the image is
// images/<line>.jpg and the class is the text before the first '/'.
func parseFood101Meta(data []byte) ([]food101Entry, error) {
	var out []food101Entry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		c, id, ok := strings.Cut(line, "/")
		if !ok || c == "" || id == "" {
			return nil, fmt.Errorf("line %d: %q is not class/id", i+1, line)
		}
		if !safeRelPath(line) {
			return nil, fmt.Errorf("line %d: %q must be a plain class/id path inside images/ (no empty, . or .. parts, no backslashes)", i+1, line)
		}
		out = append(out, food101Entry{Class: c, ID: id, Line: i + 1})
	}
	return out, nil
}

// safeRelPath reports whether p is a relative slash path without empty, "."
// or ".." parts or backslashes, so it cannot leave its directory.
func safeRelPath(p string) bool {
	if strings.ContainsRune(p, '\\') {
		return false
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

func loadFood101(root string, opts LoadOptions) (*Dataset, error) {
	meta := filepath.Join(root, "meta")
	fileClasses, err := ReadClasses(filepath.Join(meta, "classes.txt"))
	if err != nil {
		return nil, fmt.Errorf("load Food-101 layout %s: %w", root, err)
	}
	names, forced := fileClasses, false
	if opts.Classes != nil {
		names, forced = opts.Classes, true
	}
	ci, err := newClassIndex(names, forced)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", root, err)
	}
	inFile := make(map[string]bool, len(fileClasses))
	for _, c := range fileClasses {
		inFile[c] = true
	}
	ds := &Dataset{Root: root, Classes: names}
	for _, part := range []struct {
		file string
		dst  *[]Sample
	}{{"train.txt", &ds.Train}, {"test.txt", &ds.Val}} {
		p := filepath.Join(meta, part.file)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load Food-101 layout: %w (expected meta/train.txt and meta/test.txt next to meta/classes.txt)", err)
		}
		entries, err := parseFood101Meta(data)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p, err)
		}
		var missing []string
		for _, e := range entries {
			if !inFile[e.Class] {
				return nil, fmt.Errorf("load %s line %d: class %q is not in meta/classes.txt; add it there or remove the line", p, e.Line, e.Class)
			}
			label, ok := ci.index[e.Class]
			if !ok {
				return nil, fmt.Errorf("load %s line %d: class %q is not one of the model's %d classes", p, e.Line, e.Class, len(names))
			}
			img := filepath.Join(root, "images", filepath.FromSlash(e.Class+"/"+e.ID)+".jpg")
			if !fileExists(img) {
				missing = append(missing, img)
				continue
			}
			*part.dst = append(*part.dst, Sample{Path: img, Label: label})
		}
		if len(missing) > 0 {
			return nil, missingError(p, missing)
		}
	}
	if len(ds.Train) == 0 && len(ds.Val) == 0 {
		return nil, fmt.Errorf("load %s: no images listed in meta/train.txt or meta/test.txt", root)
	}
	if !forced {
		if err := checkEmpty(names, ds.Train, "in meta/train.txt"); err != nil {
			return nil, fmt.Errorf("load %s: %w", root, err)
		}
	}
	sortSamples(ds.Train)
	sortSamples(ds.Val)
	return ds, nil
}

func missingError(list string, missing []string) error {
	show := missing
	more := ""
	if len(show) > 5 {
		show = show[:5]
		more = fmt.Sprintf(" and %d more", len(missing)-5)
	}
	return fmt.Errorf("load %s: %d listed image(s) do not exist: %s%s; restore them or remove their lines",
		list, len(missing), strings.Join(show, ", "), more)
}

// checkEmpty fails when a class has no samples.
func checkEmpty(names []string, samples []Sample, where string) error {
	count := make([]int, len(names))
	for _, s := range samples {
		count[s.Label]++
	}
	var empty []string
	for i, n := range count {
		if n == 0 {
			empty = append(empty, names[i])
		}
	}
	if len(empty) > 0 {
		return fmt.Errorf("%d class(es) have no images %s: %s; add images or remove the class",
			len(empty), where, strings.Join(empty, ", "))
	}
	return nil
}

// ---- folder per class ----

func loadFolders(root string, opts LoadOptions) (*Dataset, error) {
	if trainDir, valDir, ok := splitDirs(root); ok {
		ds, err := loadClassDirs(trainDir, opts.Classes)
		if err != nil {
			return nil, err
		}
		ds.Root = root
		if valDir != "" {
			val, err := loadClassDirs(valDir, ds.Classes)
			if err != nil {
				return nil, err
			}
			ds.Val = val.Train
		}
		return ds, nil
	}
	ds, err := loadClassDirs(root, opts.Classes)
	if err != nil {
		return nil, err
	}
	ds.Train, ds.Val = stratifiedSplit(ds.Train, len(ds.Classes), opts.ValSplit, opts.Seed)
	return ds, nil
}

// splitDirs recognises root/train + root/{val,validation,test} where each
// holds class sub-folders (the Keras image_dataset_from_directory habit).
func splitDirs(root string) (train, val string, ok bool) {
	if !hasSubdirs(filepath.Join(root, "train")) {
		return "", "", false
	}
	for _, v := range []string{"val", "validation", "test"} {
		p := filepath.Join(root, v)
		if hasSubdirs(p) {
			return filepath.Join(root, "train"), p, true
		}
	}
	return "", "", false
}

func hasSubdirs(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			return true
		}
	}
	return false
}

// loadClassDirs reads dir/<class>/**/*.{image}: every sample into Train.
func loadClassDirs(dir string, forcedClasses []string) (*Dataset, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load folders layout: %w", err)
	}
	var classDirs []string
	looseImages := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.IsDir() || (e.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(dir, e.Name()))) {
			classDirs = append(classDirs, e.Name())
		} else if IsImageName(e.Name()) {
			looseImages++
		}
	}
	sort.Strings(classDirs)
	if len(classDirs) == 0 {
		if looseImages > 0 {
			return nil, fmt.Errorf("load %s: %d images but no class sub-folders; put each class's images in its own sub-folder (%s/<class>/...)", dir, looseImages, dir)
		}
		return nil, fmt.Errorf("load %s: no images at all (expected %s/<class>/<image>; extensions .jpg .jpeg .png .gif .bmp .webp)", dir, dir)
	}
	names := classDirs
	if forcedClasses != nil {
		names = forcedClasses
	}
	ci, err := newClassIndex(names, forcedClasses != nil)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	ds := &Dataset{Root: dir, Classes: names}
	var empty []string
	for _, c := range classDirs {
		label, ok := ci.index[c]
		if !ok {
			return nil, fmt.Errorf("load %s: folder %q is not one of the %d known classes (%s); rename or remove it",
				dir, c, len(names), abbreviate(names))
		}
		// The trailing separator makes WalkDir follow a symlinked class
		// folder (a common way to assemble a dataset) instead of listing the
		// link itself.
		files, err := collectImages(filepath.Join(dir, c) + string(filepath.Separator))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		if len(files) == 0 {
			empty = append(empty, c)
		}
		for _, f := range files {
			ds.Train = append(ds.Train, Sample{Path: f, Label: label})
		}
	}
	if len(ds.Train) == 0 {
		return nil, fmt.Errorf("load %s: no images at all in %d class folders (extensions .jpg .jpeg .png .gif .bmp .webp)", dir, len(classDirs))
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("load %s: %d class folder(s) have no images: %s; add images or remove the folder",
			dir, len(empty), strings.Join(empty, ", "))
	}
	sortSamples(ds.Train)
	return ds, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func abbreviate(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:5], ", ") + ", ..."
}

// collectImages lists image files under dir recursively, in lexical order,
// skipping hidden files and folders.
func collectImages(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && IsImageName(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ---- list file ----

// listEntry is one line of a list file.
type listEntry struct {
	Path, Label string
	Line        int
}

// parseList parses "path<TAB>label" lines. Blank lines and lines starting
// with '#' are skipped; a trailing CR is ignored.
func parseList(data []byte) ([]listEntry, error) {
	var out []listEntry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, label, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: %q has no TAB; expected path<TAB>label", i+1, line)
		}
		label = strings.TrimSpace(label)
		if p == "" || label == "" {
			return nil, fmt.Errorf("line %d: empty path or label; expected path<TAB>label", i+1)
		}
		if strings.Contains(label, "\t") {
			return nil, fmt.Errorf("line %d: more than one TAB; expected path<TAB>label", i+1)
		}
		out = append(out, listEntry{Path: p, Label: label, Line: i + 1})
	}
	return out, nil
}

func loadList(path string, opts LoadOptions) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load list: %w", err)
	}
	entries, err := parseList(data)
	if err != nil {
		return nil, fmt.Errorf("load list %s: %w", path, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("load list %s: no images listed (expected path<TAB>label lines)", path)
	}
	root := filepath.Dir(path)
	names := opts.Classes
	if names == nil {
		set := map[string]bool{}
		for _, e := range entries {
			set[e.Label] = true
		}
		for n := range set {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	ci, err := newClassIndex(names, opts.Classes != nil)
	if err != nil {
		return nil, fmt.Errorf("load list %s: %w", path, err)
	}
	ds := &Dataset{Root: root, Classes: names}
	var missing []string
	for _, e := range entries {
		label, ok := ci.index[e.Label]
		if !ok {
			return nil, fmt.Errorf("load list %s line %d: label %q is not one of the model's %d classes (%s)",
				path, e.Line, e.Label, len(names), abbreviate(names))
		}
		p := filepath.FromSlash(e.Path)
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		if !fileExists(p) {
			missing = append(missing, p)
			continue
		}
		ds.Train = append(ds.Train, Sample{Path: p, Label: label})
	}
	if len(missing) > 0 {
		return nil, missingError(path, missing)
	}
	sortSamples(ds.Train)
	ds.Train, ds.Val = stratifiedSplit(ds.Train, len(names), opts.ValSplit, opts.Seed)
	return ds, nil
}

// ---- split ----

// stratifiedSplit moves round(n·frac) samples of each class (at most n−1, so
// every class keeps a training image) into the validation set, chosen by a
// shuffle seeded from (seed, class). Both outputs stay sorted by class, path.
func stratifiedSplit(samples []Sample, nclass int, frac float64, seed int64) (train, val []Sample) {
	if frac <= 0 {
		return samples, nil
	}
	byClass := make([][]Sample, nclass)
	for _, s := range samples {
		byClass[s.Label] = append(byClass[s.Label], s)
	}
	for c, list := range byClass {
		n := len(list)
		nval := int(math.Round(float64(n) * frac))
		nval = min(nval, n-1)
		if nval <= 0 {
			train = append(train, list...)
			continue
		}
		r := rand.New(rand.NewPCG(uint64(seed), 0x5eed5_0000_0000^uint64(c)))
		perm := r.Perm(n)
		isVal := make([]bool, n)
		for _, i := range perm[:nval] {
			isVal[i] = true
		}
		for i, s := range list {
			if isVal[i] {
				val = append(val, s)
			} else {
				train = append(train, s)
			}
		}
	}
	return train, val
}

func sortSamples(s []Sample) {
	slices.SortStableFunc(s, func(a, b Sample) int {
		if a.Label != b.Label {
			return a.Label - b.Label
		}
		return strings.Compare(a.Path, b.Path)
	})
}
