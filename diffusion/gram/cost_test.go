package gram

import (
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/stretchr/testify/require"
)

// The cost model's choice on a few shapes, worked by hand (multiply-adds;
// Gram64Cost 16):
func TestUseGhostByHand(t *testing.T) {
	run := func(counts []int, blocks Blocks) *passRun {
		B := 0
		for _, n := range counts {
			B += n
		}
		g := &Pass{set: Config{Method: Auto, Blocks: blocks, Gram64Cost: DefaultGram64Cost}}
		return g.newRun(diffusion.NewBatch(B, 1), counts, nil)
	}
	eq8 := []int{16, 16, 16, 16, 16, 16, 16, 16} // B = 128, K = 8: Σ_k n_k·e_k = 16·16·36 = 9216, K(K+1)/2 = 36
	r := run(eq8, TriangleBlocks)
	// A DiT token layer 384→384 with T = 64: ghost 768·9216·64² = 2.9e10,
	// materialise 128·64·384² + 16·36·384² = 1.29e9: materialise.
	require.False(t, r.useGhost(384, 384, 64))
	// The same layer once per example (T = 1): ghost 768·9216 = 7.1e6,
	// materialise 704·384² = 1.04e8: ghost.
	require.True(t, r.useGhost(384, 384, 1))
	// adaLN 384→2304, T = 1: ghost 2688·9216 = 2.5e7, materialise
	// 704·884736 = 6.2e8: ghost.
	require.True(t, r.useGhost(384, 6*384, 1))
	// A toy model's 2→64 input layer: ghost 66·9216 = 6.1e5, materialise
	// 704·128 = 9.0e4: materialise.
	require.False(t, r.useGhost(2, 64, 1))
	// B = 32 in K = 4 bins of 8 (Σ n_k·e_k = 8·80 = 640, 10 pairs), 64→64:
	// T = 1: ghost 128·640 = 8.2e4, materialise 32·4096 + 160·4096 = 7.9e5:
	// ghost; T = 16: ghost 8.2e4·256 = 2.1e7, materialise
	// 512·4096 + 160·4096 = 2.8e6: materialise.
	r = run([]int{8, 8, 8, 8}, TriangleBlocks)
	require.True(t, r.useGhost(64, 64, 1))
	require.False(t, r.useGhost(64, 64, 16))
	// The square blocks cost B²·T²·(in + out): with B = 32, T = 4 and
	// 256→256, ghost 512·1024·16 = 8.4e6 against materialise
	// 128·65536 + 160·65536 = 1.9e7: ghost; T = 8: 3.4e7 against 2.7e7:
	// materialise; the triangle at T = 8, 512·640·64 = 2.1e7: ghost.
	sq := run([]int{8, 8, 8, 8}, SquareBlocks)
	require.True(t, sq.useGhost(256, 256, 4))
	require.False(t, sq.useGhost(256, 256, 8))
	require.True(t, r.useGhost(256, 256, 8))
	// Forced methods ignore the cost.
	r.set.Method = Ghost
	require.True(t, r.useGhost(384, 384, 64))
	r.set.Method = Materialize
	require.False(t, r.useGhost(384, 384, 1))
}
