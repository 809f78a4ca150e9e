package tfgraph

import (
	"fmt"
	"sort"
	"strings"
)

// Arch describes one VGG variant as data: VGG16 and VGG19 differ only in
// ConvsPerBlock, vgg_mini only in widths. Name is also the variable scope, so
// variables are named like TF-Slim's nets/vgg.py ("vgg_19/conv1/conv1_1/weights").
type Arch struct {
	Name          string
	ConvsPerBlock [5]int // 3×3 SAME convs in each of the five blocks
	Filters       [5]int // output channels of every conv in a block
	FCWidth       int    // width of fc6 and fc7
	MinInputSize  int    // smallest input side the graph accepts
	// FC6Kernel is the side of fc6's VALID conv kernel. TF-Slim's VGGs use 7,
	// which requires a 224..255 px input (7×7 after five 2×2 pools). Zero means
	// "the spatial size after the five pools", floor(InputSize/32), so fc6
	// always reduces the map to 1×1 (vgg_mini at 32–64 px).
	FC6Kernel int
}

var archs = map[string]Arch{
	"vgg_16": {Name: "vgg_16", ConvsPerBlock: [5]int{2, 2, 3, 3, 3}, Filters: [5]int{64, 128, 256, 512, 512},
		FCWidth: 4096, MinInputSize: 224, FC6Kernel: 7},
	"vgg_19": {Name: "vgg_19", ConvsPerBlock: [5]int{2, 2, 4, 4, 4}, Filters: [5]int{64, 128, 256, 512, 512},
		FCWidth: 4096, MinInputSize: 224, FC6Kernel: 7},
	"vgg_mini": {Name: "vgg_mini", ConvsPerBlock: [5]int{2, 2, 4, 4, 4}, Filters: [5]int{8, 16, 32, 64, 64},
		FCWidth: 128, MinInputSize: 32},
}

// LookupArch returns the architecture called name (see ArchNames).
func LookupArch(name string) (Arch, error) {
	a, ok := archs[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown architecture %q (want one of %s)", name, strings.Join(ArchNames(), ", "))
	}
	return a, nil
}

// ArchNames returns the known architecture names, sorted.
func ArchNames() []string {
	names := make([]string, 0, len(archs))
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fc6Kernel returns fc6's kernel side for the input size, or an error when
// the input does not reduce to exactly that side after the five pools.
func (a Arch) fc6Kernel(inputSize int) (int, error) {
	if inputSize < a.MinInputSize {
		return 0, fmt.Errorf("%s: input size %d is below the minimum %d", a.Name, inputSize, a.MinInputSize)
	}
	spatial := inputSize >> 5 // five 2×2/2 VALID pools, each floor(x/2)
	if a.FC6Kernel == 0 {
		return spatial, nil
	}
	if spatial != a.FC6Kernel {
		return 0, fmt.Errorf("%s: input size %d gives %d×%d maps before fc6, but fc6 is a %d×%d VALID conv (use %d..%d px)",
			a.Name, inputSize, spatial, spatial, a.FC6Kernel, a.FC6Kernel, a.FC6Kernel*32, a.FC6Kernel*32+31)
	}
	return a.FC6Kernel, nil
}

// layer is one conv or fc layer: the unit of --trainable last-N.
type layer struct {
	scope   string // e.g. "conv3/conv3_2", "fc6"
	kernel  int
	in, out int
	pool    bool // 2×2 max pool after this layer
	fc      bool
	relu    bool
	dropout bool
	padding string
}

func (a Arch) layers(inputSize, numClasses int) ([]layer, error) {
	k, err := a.fc6Kernel(inputSize)
	if err != nil {
		return nil, err
	}
	var ls []layer
	in := 3
	for b := 0; b < 5; b++ {
		for c := 0; c < a.ConvsPerBlock[b]; c++ {
			ls = append(ls, layer{scope: fmt.Sprintf("conv%d/conv%d_%d", b+1, b+1, c+1), kernel: 3, in: in, out: a.Filters[b],
				pool: c == a.ConvsPerBlock[b]-1, relu: true, padding: "SAME"})
			in = a.Filters[b]
		}
	}
	ls = append(ls,
		layer{scope: "fc6", kernel: k, in: in, out: a.FCWidth, fc: true, relu: true, dropout: true, padding: "VALID"},
		layer{scope: "fc7", kernel: 1, in: a.FCWidth, out: a.FCWidth, fc: true, relu: true, dropout: true, padding: "VALID"},
		layer{scope: "fc8", kernel: 1, in: a.FCWidth, out: numClasses, fc: true, padding: "VALID"},
	)
	return ls, nil
}
