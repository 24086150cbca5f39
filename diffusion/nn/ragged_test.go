package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// randEnds returns m non-decreasing row ends in [0, n], in a few runs of
// equal ends (the shape of bins), starting with zeros now and then.
func randEnds(rng *rand.Rand, m, n int) []int {
	ends := make([]int, m)
	e := 0
	if rng.IntN(3) > 0 {
		e = rng.IntN(n/2 + 1)
	}
	for i := range ends {
		if rng.IntN(8) == 0 {
			e = min(n, e+rng.IntN(n/3+2))
		}
		ends[i] = e
	}
	ends[m-1] = max(ends[m-1], rng.IntN(n+1))
	return ends
}

// TestGemmRaggedAgainstGemm checks every CPU path of GemmRagged (the packed
// float32 kernel, gonum's Sgemm per run of rows, the float64 twin) against
// the triple loop on each row's columns [0, end), and that nothing past the
// tile-rounded end of a row is touched. On the packed path the needed
// values must be bit-identical to a full Gemm's: the kernel sums each
// element in the same order whatever the tiles skipped.
func TestGemmRaggedAgainstGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, be := range []*CPU[float32]{NewCPU(), {name: "cpu", gonumGemm: true}} {
		for trial := 0; trial < 50; trial++ {
			tA, tB := rng.IntN(2) == 1, rng.IntN(2) == 1
			m, n, k := 1+rng.IntN(200), 1+rng.IntN(200), 1+rng.IntN(300)
			pad := rng.IntN(3)
			alpha := []float32{1, -0.5}[rng.IntN(2)]
			beta := []float32{0, 1, 0.5}[rng.IntN(3)]
			ar, ac, br, bc := m, k, k, n
			if tA {
				ar, ac = k, m
			}
			if tB {
				br, bc = n, k
			}
			lda, ldb, ldc := ac+pad, bc+pad, n+pad
			av, bv, cv := randVals(rng, ar*lda), randVals(rng, br*ldb), randVals(rng, m*ldc)
			ends := randEnds(rng, m, n)
			A, B := upload(be, av), upload(be, bv)
			C, full := upload(be, cv), upload(be, cv)
			be.GemmRagged(tA, tB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ends)
			be.Gemm(tA, tB, m, n, k, alpha, A, lda, B, ldb, beta, full, ldc)
			want := to64(cv)
			refGemm(tA, tB, m, n, k, float64(alpha), to64(av), lda, to64(bv), ldb, float64(beta), want, ldc)
			got, gotFull := download(be, C), download(be, full)
			for i := 0; i < m; i++ {
				last := min(i/gemmMR*gemmMR+gemmMR-1, m-1)
				written := min(n, (ends[last]+gemmNR-1)/gemmNR*gemmNR)
				for j := 0; j < ldc; j++ {
					at := i*ldc + j
					switch {
					case j < ends[i]:
						require.InDelta(t, want[at], float64(got[at]), gemmRelTol*float64(k+1), "trial %d at %d,%d", trial, i, j)
						if !be.gonumGemm && haveFMA {
							require.Equal(t, gotFull[at], got[at], "trial %d at %d,%d: ragged and full packed GEMM differ", trial, i, j)
						}
					case j >= written:
						require.Equal(t, cv[at], got[at], "trial %d at %d,%d (end %d): past the tile, C must be untouched", trial, i, j, ends[i])
					default: // inside the last tile: untouched or Gemm's value
						if got[at] != cv[at] {
							require.InDelta(t, want[at], float64(got[at]), gemmRelTol*float64(k+1), "trial %d at %d,%d", trial, i, j)
						}
					}
				}
			}
		}
	}
}

// TestGemmRaggedFloat64 checks the float64 twin, which runs one Gemm per run
// of equal row ends, and the argument checks.
func TestGemmRaggedFloat64(t *testing.T) {
	be := NewCPU64()
	rng := rand.New(rand.NewPCG(5, 5))
	m, n, k := 13, 11, 7
	av, bv, cv := randVals(rng, m*k), randVals(rng, n*k), randVals(rng, m*n)
	C := upload(be, cv)
	ends := []int{0, 0, 3, 3, 3, 3, 8, 8, 8, 11, 11, 11, 11}
	be.GemmRagged(false, true, m, n, k, 1, upload(be, av), k, upload(be, bv), k, 0, C, n, ends)
	want := to64(cv)
	refGemm(false, true, m, n, k, 1, to64(av), k, to64(bv), k, 0, want, n)
	got := be.Data(C)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if j < ends[i] {
				require.InDelta(t, want[i*n+j], got[i*n+j], 1e-12, "at %d,%d", i, j)
			} else {
				require.Equal(t, float64(cv[i*n+j]), got[i*n+j], "at %d,%d: past the end", i, j)
			}
		}
	}
	require.PanicsWithValue(t, "nn: GemmRagged: 2 row ends for 3 rows", func() { be.GemmRagged(false, true, 3, 2, 1, 1, C, 1, C, 1, 0, C, 2, []int{1, 2}) })
	require.PanicsWithValue(t, "nn: GemmRagged: row end 1 of row 1 is not in [2, 2]", func() { be.GemmRagged(false, true, 2, 2, 1, 1, C, 1, C, 1, 0, C, 2, []int{2, 1}) })
}

// BenchmarkGhostProducts compares three ways of forming the row products
// X·Xᵀ a per-bin Gram needs (B = 256 rows of 512 in 8 bins of 32): the full
// square, one ragged GEMM over the lower block triangle, and one GEMM per
// bin of its rows against the rows of the bins up to it.
func BenchmarkGhostProducts(b *testing.B) {
	const B, I, K = 256, 512, 8
	be := NewCPU()
	rng := rand.New(rand.NewPCG(1, 1))
	x, c := upload(be, randVals(rng, B*I)), be.Alloc(B*B)
	ends := make([]int, B)
	for r := range ends {
		ends[r] = (r/(B/K) + 1) * (B / K)
	}
	b.Run("square", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.Gemm(false, true, B, B, I, 1, x, I, x, I, 0, c, B)
		}
	})
	b.Run("ragged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.GemmRagged(false, true, B, B, I, 1, x, I, x, I, 0, c, B, ends)
		}
	})
	b.Run("per-bin", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for k := 0; k < K; k++ {
				n, e := B/K, (k+1)*B/K
				be.Gemm(false, true, e, n, I, 1, x, I, x.View(k*n*I, n*I), I, 0, c.View(0, e*n), n)
			}
		}
	})
}
