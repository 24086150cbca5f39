package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The strided 6×16 kernel on a packed panel and on six rows of A read in
// place computes the same tile, to the bit, and both add it into C or
// write it over C; the tile is checked against a float64 loop.
func TestSgemmKernelStrided(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(47, 1))
	for _, k := range []int{1, 7, 64, 256} {
		const lda, ldc = 300, 21
		a, b := randVals(rng, 6*lda), randVals(rng, k*16)
		packed := make([]float32, 6*k)
		for i := 0; i < 6; i++ {
			for p := 0; p < k; p++ {
				packed[p*6+i] = a[i*lda+p]
			}
		}
		c0 := randVals(rng, 5*ldc+16)
		var got [4][]float32
		for v := range got {
			c := append([]float32(nil), c0...)
			ap, rs, ks := &packed[0], 1, 6
			if v%2 == 1 {
				ap, rs, ks = &a[0], lda, 1
			}
			sgemmKernel6x16S(k, ap, rs, ks, &b[0], 16, &c[0], ldc, v/2)
			got[v] = c
		}
		require.Equal(t, got[0], got[1], "k=%d: packed and in-place A, adding", k)
		require.Equal(t, got[2], got[3], "k=%d: packed and in-place A, storing", k)
		for i := 0; i < 6; i++ {
			for j := 0; j < 16; j++ {
				var want float64
				for p := 0; p < k; p++ {
					want += float64(a[i*lda+p]) * float64(b[p*16+j])
				}
				require.InDelta(t, want, float64(got[2][i*ldc+j]), gemmRelTol*float64(k), "k=%d (%d, %d)", k, i, j)
				require.Equal(t, c0[i*ldc+j]+got[2][i*ldc+j], got[0][i*ldc+j], "k=%d (%d, %d): added", k, i, j)
			}
			for j := 16; j < ldc && i < 5; j++ {
				require.Equal(t, c0[i*ldc+j], got[0][i*ldc+j], "outside the tile")
				require.Equal(t, c0[i*ldc+j], got[2][i*ldc+j], "outside the tile")
			}
		}
	}
}

// The vectorised loops (axpy32, tanhFromExp) give the bits of their scalar
// formulas at every length (the 8-lane part and the tail).
func TestVectorLoopsMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(48, 1))
	for n := 0; n <= 41; n++ {
		x, y := randVals(rng, n), randVals(rng, n)
		const a = float32(-0.37)
		want := append(make([]float32, 0, n), y...)
		for i, v := range x {
			want[i] += a * v
		}
		got := append(make([]float32, 0, n), y...)
		axpy32(got, x, a)
		require.Equal(t, want, got, "axpy32, n=%d", n)

		e := make([]float32, n)
		for i := range e {
			e[i] = 4 * (x[i] + 1) // exp(2u) > 0
		}
		want = append(make([]float32, 0, n), e...)
		for i, v := range want {
			want[i] = 1 - 2/(v+1)
		}
		tanhFromExp(e)
		require.Equal(t, want, e, "tanhFromExp, n=%d", n)
	}
}

// max32 finds the largest element at every length and position.
func TestMax32(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 1))
	for n := 1; n <= 41; n++ {
		for at := 0; at < n; at++ {
			x := randVals(rng, n)
			for i := range x {
				x[i] -= 2
			}
			x[at] = 1.5
			require.Equal(t, float32(1.5), max32(x), "n=%d, max at %d", n, at)
		}
	}
}
