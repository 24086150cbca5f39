package nn

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkGramVsGemm measures the two operations the cost model of
// gram.Config.Gram64Cost compares on the float32 CPU backend: Backend.Gram
// (float64 dot products of K = 8 rows of P = 256·256 elements, K(K+1)/2·P
// multiply-adds) and Backend.Gemm (a 256×256×256 float32 product), each
// reported in multiply-adds per second (Gmadd/s); gram.DefaultGram64Cost is
// about their ratio. Run with -cpu 1,2 for one and two cores.
func BenchmarkGramVsGemm(b *testing.B) {
	const K, P, N = 8, 256 * 256, 256
	be := NewCPU()
	rng := rand.New(rand.NewPCG(1, 1))
	b.Run("gram64", func(b *testing.B) {
		g, dst := upload(be, randVals(rng, K*P)), make([]float64, K*K)
		for b.Loop() {
			be.Gram(dst, g, K, P)
		}
		b.ReportMetric(float64(K*(K+1)/2*P)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gmadd/s")
	})
	b.Run("sgemm", func(b *testing.B) {
		x, y, c := upload(be, randVals(rng, N*N)), upload(be, randVals(rng, N*N)), be.Alloc(N*N)
		for b.Loop() {
			be.Gemm(false, true, N, N, N, 1, x, N, y, N, 0, c, N)
		}
		b.ReportMetric(float64(N*N*N)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gmadd/s")
	})
}
