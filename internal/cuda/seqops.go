package cuda

import (
	"fmt"
	"math"
)

// The operations of sequence models (the DiT backbone, Peebles & Xie 2023)
// with the exact semantics of the diffusion/nn Backend methods
// (kernels/seq.cu; GemmBatched is in nnops.go): the row softmax of
// attention, adaLN modulation and patch tokens, each with its backward
// pass. Each is one kernel launch; package nncuda builds the Backend
// methods of the same names on them.

// Softmax writes y[r, :] = softmax(scale·x[r, :]) for each row of x (rows,
// cols) with the max trick (see softmax_f32 in kernels/seq.cu): float32
// exponentials of scale·x − max, normalised by their float64 sum. y may be
// x. One warp per row, any row length.
func (d *Device) Softmax(y, x *F32, rows, cols int, scale float32) error {
	matrix("Softmax", rows, cols, y, x)
	if rows*cols == 0 {
		return nil
	}
	return d.Launch("softmax_f32", d.rowGrid(rows), block1D, 0,
		NewKernelArgs(5).F32Ptr(y).F32Ptr(x).Int(rows).Int(cols).F32(scale))
}

// SoftmaxBackward writes dx[r, c] = scale·y[r, c]·(dy[r, c] − Σ_j dy[r, j]·y[r, j])
// from Softmax's output y and the output gradient dy (rows, cols), the row
// sum in float64. dx may be dy.
func (d *Device) SoftmaxBackward(dx, y, dy *F32, rows, cols int, scale float32) error {
	matrix("SoftmaxBackward", rows, cols, dx, y, dy)
	if rows*cols == 0 {
		return nil
	}
	return d.Launch("softmax_backward_f32", d.rowGrid(rows), block1D, 0,
		NewKernelArgs(6).F32Ptr(dx).F32Ptr(y).F32Ptr(dy).Int(rows).Int(cols).F32(scale))
}

// modulation panics unless x-like buffers hold (groups·tokens, cols) and
// the factor buffers (nil ones skipped) the span of (groups, cols) rows at
// stride ld.
func modulation(op string, groups, tokens, cols, ld int, rows []*F32, factors ...*F32) {
	if groups < 0 || tokens < 0 || cols < 0 || ld < cols || ld > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: %s: %d groups of %d tokens, %d columns at stride %d", op, groups, tokens, cols, ld))
	}
	for _, b := range rows {
		if b != nil {
			matrix(op, groups*tokens, cols, b)
		}
	}
	for _, f := range factors {
		if f != nil && f.Len() < gemmSpan(groups, cols, ld) {
			panic(fmt.Sprintf("cuda: %s: factor buffer of %d elements for %d rows of %d at stride %d", op, f.Len(), groups, cols, ld))
		}
	}
}

// Modulate applies adaLN's per-group affine factors (see modulate_f32 in
// kernels/seq.cu): for x (groups·tokens, cols), group g its tokens rows,
// y[g·tokens + p, c] = x[g·tokens + p, c]·(one + s[g·ld + c]) + t[g·ld + c],
// with s and t one row of cols factors per group at row stride ld (views
// into the chunks of one (groups, ld) modulation tensor; their buffers may
// be longer). t may be nil (no shift); y may be x.
func (d *Device) Modulate(y, x, s, t *F32, groups, tokens, cols, ld int, one float32) error {
	modulation("Modulate", groups, tokens, cols, ld, []*F32{y, x}, s, t)
	if groups*tokens*cols == 0 {
		return nil
	}
	hasT := t != nil
	if !hasT {
		t = s // not read
	}
	return d.Launch("modulate_f32", d.elemGrid(int64(groups*tokens*cols)), block1D, 0,
		NewKernelArgs(10).F32Ptr(y).F32Ptr(x).F32Ptr(s).F32Ptr(t).Int(groups).Int(tokens).Int(cols).Int(ld).
			F32(one).Bool(hasT))
}

// ModulateBackward writes the gradients of Modulate from the output
// gradient dy and the forward's x and s (see modulate_backward_f32):
// dx = dy·(one + s_g) row by row, and the per-group column sums over the
// tokens ds[g·ld + c] = Σ_p dy·x and dt[g·ld + c] = Σ_p dy, which are
// OVERWRITTEN (the rest of their rows is not touched). dx and dt may be
// nil to skip them; dx may be dy.
func (d *Device) ModulateBackward(dx, ds, dt, dy, x, s *F32, groups, tokens, cols, ld int, one float32) error {
	modulation("ModulateBackward", groups, tokens, cols, ld, []*F32{dx, dy, x}, s, ds, dt)
	if groups*cols == 0 {
		return nil
	}
	hasDX, hasDT := dx != nil, dt != nil
	if !hasDX {
		dx = dy // not written
	}
	if !hasDT {
		dt = ds // not written
	}
	grid := Dim3{uint32(min(ceilDiv(int64(cols), colsX), maxColumnGrid)), uint32(min(groups, maxColumnGrid)), 1}
	return d.Launch("modulate_backward_f32", grid, blockCols, 0,
		NewKernelArgs(13).F32Ptr(dx).F32Ptr(ds).F32Ptr(dt).F32Ptr(dy).F32Ptr(x).F32Ptr(s).
			Int(groups).Int(tokens).Int(cols).Int(ld).F32(one).Bool(hasDX).Bool(hasDT))
}

// Patchify rearranges n channels-first images (channels, side, side) into
// their patch tokens ((side/patch)² tokens of patch²·channels features,
// see patchify_f32 in kernels/seq.cu), or the tokens back into images when
// inverse is set; dst is written from src, both of n·channels·side²
// elements, and must not overlap it. side must be a multiple of patch.
func (d *Device) Patchify(dst, src *F32, n, channels, side, patch int, inverse bool) error {
	if n < 0 || channels < 1 || patch < 1 || side < patch || side%patch != 0 {
		panic(fmt.Sprintf("cuda: Patchify: %d images of %d channels, side %d, patch %d", n, channels, side, patch))
	}
	size := n * channels * side * side
	sameLen("Patchify", size, dst, src)
	if size == 0 {
		return nil
	}
	return d.Launch("patchify_f32", d.elemGrid(int64(size)), block1D, 0,
		NewKernelArgs(7).F32Ptr(dst).F32Ptr(src).Int(n).Int(channels).Int(side).Int(patch).Bool(inverse))
}
