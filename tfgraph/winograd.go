package tfgraph

import (
	"fmt"
)

// Convolution algorithms of Config.ConvAlgorithm.
const (
	// ConvAuto (also "") uses Winograd for the wide 3×3 convs of the
	// inference path when the graph runs on the CPU in float32, and direct
	// convolution everywhere else.
	ConvAuto = "auto"
	// ConvDirect computes every conv with TensorFlow's Conv2D (oneDNN on the
	// CPU, cuDNN on a GPU): bit-for-bit TensorFlow's results.
	ConvDirect = "direct"
	// ConvWinograd computes every 3×3 conv of the inference path with
	// Winograd F(4×4, 3×3), whatever its width or device (for tests and
	// experiments).
	ConvWinograd = "winograd"
)

// winogradMinChannels is the narrowest conv ConvAuto computes with Winograd:
// both its input and output need this many channels. Measured per layer on
// a Sapphire Rapids core pair, VGG19 at batch 16 (bench/NOTES.md, "Winograd
// convolutions"), oneDNN direct → Winograd: 512→512 at 28×28 155 → 66 ms,
// 256→256 at 56×56 156 → 87 ms, 128→256 at 56×56 81 → 54 ms, 128→128 at
// 112×112 162 → 142 ms; but 64→128 at 112×112 78 → 86 ms and 64→64 at
// 224×224 164 → 248 ms: with few channels the transforms' memory traffic
// costs more than the 4× fewer multiplications save.
const winogradMinChannels = 128

// convAlgorithm returns the validated algorithm ("" means ConvAuto).
func convAlgorithm(a string) (string, error) {
	switch a {
	case "", ConvAuto:
		return ConvAuto, nil
	case ConvDirect, ConvWinograd:
		return a, nil
	}
	return "", fmt.Errorf("conv algorithm %q: want %s, %s or %s", a, ConvAuto, ConvDirect, ConvWinograd)
}

// winogradPolicy returns the slim.Mode.Winograd of the inference path under
// cfg: whether a 3×3 stride-1 SAME conv from in to out channels is computed
// with Winograd (slim asks only about such convs; fully connected layers,
// 1×1 and strided convs stay direct). ConvAuto restricts it to wide layers
// (winogradMinChannels) of a float32 graph on the CPU: bf16 would lose the
// transforms' precision, and on a GPU cuDNN already picks its own (Winograd
// or FFT) algorithms. nil means no conv uses Winograd.
func winogradPolicy(cfg Config) func(in, out int) bool {
	algo, _ := convAlgorithm(cfg.ConvAlgorithm)
	switch algo {
	case ConvWinograd:
		return func(in, out int) bool { return true }
	case ConvDirect:
		return nil
	}
	// Under a mixed-precision rewrite the direct convs are what gets rewritten.
	mixed := cfg.Precision == PrecisionBF16 || cfg.Precision == PrecisionFP16
	if mixed || cfg.onGPUs() {
		return nil
	}
	return func(in, out int) bool { return in >= winogradMinChannels && out >= winogradMinChannels }
}
