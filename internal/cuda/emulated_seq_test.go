package cuda_test

import (
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/stretchr/testify/require"
)

// TestEmulatedSeqLaunches checks what the sequence operations ask of the
// (emulated) GPU: the kernel, grid, block and every argument of each
// launch, absent optional buffers passed as flags, and GemmBatched as one
// cublasSgemmStridedBatched call (k = 0: one β-scaling per C_i).
func TestEmulatedSeqLaunches(t *testing.T) {
	g := emulator(t, 8<<20)
	g.RecordLaunches(true)
	d := openEmulated(t, g, Options{})
	buf := func(n int) *F32 { return upload(t, d, make([]float32, n)) }
	p := func(b *F32) DevicePtr { return b.Ptr() }
	const rows, cols = 70, 9 // 70 rows: 9 blocks of 8 warps
	y, x, dy := buf(rows*cols), buf(rows*cols), buf(rows*cols)
	mod := buf(3 * 50)
	s, tt := mod.View(10, 2*50+10), mod.View(20, 2*50+10)
	img, tok := buf(2*3*8*8), buf(2*3*8*8)
	warps := Dim3{9, 1, 1}
	y2, x2, dy2 := y.View(0, 210), x.View(0, 210), dy.View(0, 210) // 3 groups of 10 tokens of 7 columns
	cases := []struct {
		name string
		call func() error
		want []wantLaunch
	}{
		{"Softmax", func() error { return d.Softmax(y, x, rows, cols, 0.125) },
			[]wantLaunch{{"softmax_f32", warps, Block1D, []any{p(y), p(x), int32(rows), int32(cols), float32(0.125)}}}},
		{"SoftmaxBackward", func() error { return d.SoftmaxBackward(dy, y, dy, rows, cols, 2) },
			[]wantLaunch{{"softmax_backward_f32", warps, Block1D, []any{p(dy), p(y), p(dy), int32(rows), int32(cols), float32(2)}}}},
		{"Modulate", func() error { return d.Modulate(y2, x2, s, tt, 3, 10, 7, 50, 1) },
			[]wantLaunch{{"modulate_f32", Dim3{1, 1, 1}, Block1D, []any{p(y), p(x), p(s), p(tt), int32(3), int32(10), int32(7), int32(50), float32(1), int32(1)}}}},
		{"Modulate without shift", func() error { return d.Modulate(y2, y2, s, nil, 3, 10, 7, 50, 0) },
			[]wantLaunch{{"modulate_f32", Dim3{1, 1, 1}, Block1D, []any{p(y), p(y), p(s), p(s), int32(3), int32(10), int32(7), int32(50), float32(0), int32(0)}}}},
		{"ModulateBackward", func() error { return d.ModulateBackward(y2, s, tt, dy2, x2, s, 3, 10, 7, 50, 1) },
			[]wantLaunch{{"modulate_backward_f32", Dim3{1, 3, 1}, BlockCols, []any{p(y), p(s), p(tt), p(dy), p(x), p(s),
				int32(3), int32(10), int32(7), int32(50), float32(1), int32(1), int32(1)}}}},
		{"ModulateBackward without dx and dt", func() error { return d.ModulateBackward(nil, s, nil, dy2, x2, s, 3, 10, 7, 50, 1) },
			[]wantLaunch{{"modulate_backward_f32", Dim3{1, 3, 1}, BlockCols, []any{p(dy), p(s), p(s), p(dy), p(x), p(s),
				int32(3), int32(10), int32(7), int32(50), float32(1), int32(0), int32(0)}}}},
		{"ModulateBackward 40 columns", func() error { return d.ModulateBackward(nil, buf(40), nil, buf(80), buf(80), buf(40), 1, 2, 40, 40, 1) },
			[]wantLaunch{{"modulate_backward_f32", Dim3{2, 1, 1}, BlockCols, []any{anyPtr{}, anyPtr{}, anyPtr{}, anyPtr{}, anyPtr{}, anyPtr{},
				int32(1), int32(2), int32(40), int32(40), float32(1), int32(0), int32(0)}}}},
		{"Patchify", func() error { return d.Patchify(tok, img, 2, 3, 8, 4, false) },
			[]wantLaunch{{"patchify_f32", Dim3{2, 1, 1}, Block1D, []any{p(tok), p(img), int32(2), int32(3), int32(8), int32(4), int32(0)}}}},
		{"Patchify inverse", func() error { return d.Patchify(img, tok, 2, 3, 8, 4, true) },
			[]wantLaunch{{"patchify_f32", Dim3{2, 1, 1}, Block1D, []any{p(img), p(tok), int32(2), int32(3), int32(8), int32(4), int32(1)}}}},
		{"GemmBatched k = 0", func() error { return d.GemmBatched(false, false, 2, 3, 0, 1, x, 1, 0, x, 3, 0, 0.5, y, 4, 9, 3) },
			[]wantLaunch{
				{"scale_matrix_f32", Dim3{1, 1, 1}, Block1D, []any{p(y), int32(2), int32(3), int64(4), float32(0.5)}},
				{"scale_matrix_f32", Dim3{1, 1, 1}, Block1D, []any{p(y.View(9, 7)), int32(2), int32(3), int64(4), float32(0.5)}},
				{"scale_matrix_f32", Dim3{1, 1, 1}, Block1D, []any{p(y.View(18, 7)), int32(2), int32(3), int64(4), float32(0.5)}},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.TakeLaunches()
			require.NoError(t, c.call())
			requireLaunches(t, c.want, g.TakeLaunches())
		})
	}

	// One strided-batched GEMM, no kernel; empty ones call nothing.
	before := len(g.BLASCalls())
	require.NoError(t, d.GemmBatched(true, false, 3, 4, 5, 1, x, 3, 20, x, 4, 0, 0, y, 4, 12, 4))
	require.NoError(t, d.GemmBatched(true, false, 3, 0, 5, 1, x, 3, 20, x, 4, 0, 0, y, 4, 12, 4))
	require.NoError(t, d.GemmBatched(true, false, 3, 4, 5, 1, x, 3, 20, x, 4, 0, 0, y, 4, 12, 0))
	calls := g.BLASCalls()[before:]
	require.Equal(t, []string{"sgemm-batched"}, calls[len(calls)-1:])
	require.NotContains(t, calls[:len(calls)-1], "sgemm-batched", "one call")
	require.Empty(t, g.TakeLaunches())

	// Empty shapes launch nothing.
	require.NoError(t, d.Softmax(y.View(0, 0), x.View(0, 0), 0, 9, 1))
	require.NoError(t, d.Modulate(y.View(0, 0), x.View(0, 0), s, nil, 3, 0, 7, 50, 1))
	require.NoError(t, d.Patchify(y.View(0, 0), x.View(0, 0), 0, 3, 8, 4, false))
	require.Empty(t, g.TakeLaunches())
}

// requireLaunches checks launches against want, kernel by kernel.
func requireLaunches(t *testing.T, want []wantLaunch, launches []cudaemu.Launch) {
	t.Helper()
	require.Len(t, launches, len(want))
	for i, w := range want {
		l := launches[i]
		require.Equal(t, w.kernel, l.Kernel)
		require.Equal(t, w.grid, l.Grid, "grid of %s", w.kernel)
		require.Equal(t, w.block, l.Block, "block of %s", w.kernel)
		require.Len(t, l.Args, len(w.args))
		for j := range w.args {
			if _, ok := w.args[j].(anyPtr); ok {
				require.IsType(t, DevicePtr(0), l.Args[j], "%s argument %d", w.kernel, j)
				continue
			}
			require.Equal(t, w.args[j], l.Args[j], "%s argument %d", w.kernel, j)
		}
	}
}
