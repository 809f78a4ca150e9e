// Package winograd computes 3×3 stride-1 SAME convolutions with Winograd
// F(4×4, 3×3) in TensorFlow ops: the inference path's fast conv on the CPU.
// Which convs use it is the caller's policy (tfgraph's ConvAlgorithm).
package winograd

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// tensor3 shapes v as [a][b][c] for a Const.
func tensor3(v []int64, a, b, c int64) [][][]int64 {
	out := make([][][]int64, a)
	for i := range out {
		out[i] = make([][]int64, b)
		for j := range out[i] {
			k := int64(i)*b + int64(j)
			out[i][j] = v[k*c : (k+1)*c]
		}
	}
	return out
}

// Winograd F(4×4, 3×3) transforms (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016; interpolation points 0, ±1, ±2, ∞):
// a 4×4 output tile of a 3×3 conv is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the 6×6
// input tile d around it and the 3×3 kernel g.
var (
	winogradBT = [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winogradG = [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	winogradAT = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0},
		{0, 1, 1, 4, 4, 0},
		{0, 1, -1, 8, -8, 1},
	}
)

const (
	winoM = 4         // output tile side
	winoA = winoM + 2 // input tile side (winoM + kernel side − 1)
)

// winogradMatrices returns the 2-D transforms as Kronecker products, so each
// is one MatMul over a flattened tile: bt [36,36] maps a 6×6 input tile (row
// major) to its transform, g [36,9] a 3×3 kernel, at [16,36] a transformed
// product back to a 4×4 output tile.
func winogradMatrices() (bt, g, at [][]float32) {
	for u := range winoA {
		for v := range winoA {
			row := make([]float32, 0, winoA*winoA)
			for r := range winoA {
				for c := range winoA {
					row = append(row, float32(winogradBT[u][r]*winogradBT[v][c]))
				}
			}
			bt = append(bt, row)
			grow := make([]float32, 0, 9)
			for r := range 3 {
				for c := range 3 {
					grow = append(grow, float32(winogradG[u][r]*winogradG[v][c]))
				}
			}
			g = append(g, grow)
		}
	}
	for i := range winoM {
		for j := range winoM {
			row := make([]float32, 0, winoA*winoA)
			for u := range winoA {
				for v := range winoA {
					row = append(row, float32(winogradAT[i][u]*winogradAT[j][v]))
				}
			}
			at = append(at, row)
		}
	}
	return bt, g, at
}

// Conv is Conv2D(x, w, strides 1, SAME) for a 3×3 kernel w
// [3,3,C,K] over x [n,H,W,C], computed with Winograd F(4×4, 3×3): 4× fewer
// multiplications than direct convolution, as one batched GEMM of 36
// [tiles, C] × [C, K] products between three memory-bound transforms.
// Float32 results differ from Conv2D's by ~2e-5 of the output's magnitude.
// The ops (Pad, GatherV2, MatMul, BatchMatMulV2, Transpose) all have oneDNN
// or Eigen CPU kernels. Training keeps direct convolution (slim.Mode.Winograd is nil there) and oneDNN's backward convs; a Winograd training path is
// untried.
func Conv(s *op.Scope, x, w tf.Output, H, W, C, K int64) tf.Output {
	const m, a = winoM, winoA
	th, tw := (H+m-1)/m, (W+m-1)/m
	bt, g, at := winogradMatrices()
	ints := func(name string, v []int64) tf.Output { return op.Const(s.SubScope(name), v) }

	// The 6×6 input tiles with stride 4 over the input padded by one (SAME)
	// pixel, and on the bottom/right up to whole tiles, gathered as rows of
	// C channels straight into tile-position-major order [36, P, C] (P =
	// n·th·tw tiles): one Gather, half the time of ExtractImagePatches plus
	// the Transpose it would need (bench/NOTES.md). The row indices of image
	// 0 are constant; image i's are those plus i·Hp·Wp.
	Hp, Wp := th*m+2, tw*m+2
	xp := op.Pad(s.SubScope("pad"), x, op.Const(s.SubScope("pad/amounts"), [][]int64{{0, 0}, {1, Hp - 1 - H}, {1, Wp - 1 - W}, {0, 0}}))
	base := make([]int64, 0, a*a*th*tw)
	for r := range int64(a) {
		for c := range int64(a) {
			for i := range th {
				for j := range tw {
					base = append(base, (m*i+r)*Wp+m*j+c)
				}
			}
		}
	}
	is := s.SubScope("tiles/index")
	n := op.StridedSlice(is.SubScope("batch"), op.Shape(is.SubScope("shape"), x, op.ShapeOutType(tf.Int64)),
		ints("tiles/index/begin", []int64{0}), ints("tiles/index/end", []int64{1}), ints("tiles/index/stride", []int64{1}),
		op.StridedSliceShrinkAxisMask(1))
	offsets := op.Mul(is.SubScope("offsets"), op.Range(is, op.Const(is.SubScope("zero"), int64(0)), n, op.Const(is.SubScope("one"), int64(1))),
		op.Const(is.SubScope("image_rows"), Hp*Wp))
	idx := op.AddV2(is.SubScope("all"),
		op.Const(is.SubScope("image0"), tensor3(base, a*a, 1, th*tw)),
		op.Reshape(is.SubScope("offsets/column"), offsets, ints("tiles/index/offsets/column/shape", []int64{1, -1, 1})))
	idx = op.Reshape(is.SubScope("flat"), idx, ints("tiles/index/flat/shape", []int64{-1}))
	pixels := op.Reshape(s.SubScope("tiles/pixels"), xp, ints("tiles/pixels/shape", []int64{-1, C}))
	tiles := op.GatherV2(s.SubScope("tiles"), pixels, idx, op.Const(s.SubScope("tiles/axis"), int32(0))) // [36·P, C]

	// Bᵀ d B: one MatMul over the 36 tile positions.
	tiles = op.Reshape(s.SubScope("tiles/flat"), tiles, ints("tiles/flat/shape", []int64{a * a, -1}))
	v := op.MatMul(s.SubScope("input_transform"), op.Const(s.SubScope("input_transform/BtB"), bt), tiles)
	v = op.Reshape(s.SubScope("input_transform/split"), v, ints("input_transform/split/shape", []int64{a * a, -1, C}))

	// G g Gᵀ for every (input, output) channel pair: [36, C, K]. Recomputed
	// per run (36·9·C·K multiply-adds, < 1 % of the layer) so the layer reads
	// the live variable like Conv2D does.
	wf := op.Reshape(s.SubScope("kernel_transform/flat"), w, ints("kernel_transform/flat/shape", []int64{9, C * K}))
	u := op.MatMul(s.SubScope("kernel_transform"), op.Const(s.SubScope("kernel_transform/GgG"), g), wf)
	u = op.Reshape(s.SubScope("kernel_transform/split"), u, ints("kernel_transform/split/shape", []int64{a * a, C, K}))

	// The element-wise products summed over input channels: 36 GEMMs.
	prod := op.BatchMatMulV2(s.SubScope("products"), v, u) // [36, P, K]

	// Aᵀ M A back to 4×4 output tiles, then the tiles back into the image.
	prod = op.Reshape(s.SubScope("output_transform/flat"), prod, ints("output_transform/flat/shape", []int64{a * a, -1}))
	y := op.MatMul(s.SubScope("output_transform"), op.Const(s.SubScope("output_transform/AtA"), at), prod) // [16, P·K]
	y = op.Reshape(s.SubScope("output_transform/split"), y, ints("output_transform/split/shape", []int64{m, m, -1, th, tw, K}))
	y = op.Transpose(s.SubScope("untile"), y, ints("untile/perm", []int64{2, 3, 0, 4, 1, 5})) // [n, th, 4, tw, 4, K]
	y = op.Reshape(s.SubScope("untile/image"), y, ints("untile/image/shape", []int64{-1, th * m, tw * m, K}))
	if th*m != H || tw*m != W {
		y = op.Slice(s.SubScope("crop"), y, ints("crop/begin", []int64{0, 0, 0, 0}), ints("crop/size", []int64{-1, H, W, -1}))
	}
	return y
}
