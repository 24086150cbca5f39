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

// BenchmarkGemmBatchedAttention measures Backend.GemmBatched on the
// attention products of the DiT "small" preset on MNIST (B = 128 examples,
// L = 49 tokens, one head of dh = 16 in a qkv row of 3·64): the scores
// q kᵀ ("nt"), A v ("nn") and the backward's Aᵀ dO ("tn"), in multiply-adds
// per second.
func BenchmarkGemmBatchedAttention(b *testing.B) {
	const B, L, dh, ld = 128, 49, 16, 192
	be := NewCPU()
	rng := rand.New(rand.NewPCG(1, 1))
	qkv, probs := upload(be, randVals(rng, B*L*ld)), upload(be, randVals(rng, B*L*L))
	out := be.Alloc(B * L * ld)
	for _, c := range []struct {
		name       string
		tA, tB     bool
		m, n, k    int
		a, bb      Tensor
		lda, ldb   int
		sA, sB, ld int
	}{
		{"nt", false, true, L, L, dh, qkv, qkv, ld, ld, L * ld, L * ld, L},
		{"nn", false, false, L, dh, L, probs, qkv, L, ld, L * L, L * ld, ld},
		{"tn", true, false, L, dh, L, probs, qkv, L, ld, L * L, L * ld, ld},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				be.GemmBatched(c.tA, c.tB, c.m, c.n, c.k, 1, c.a, c.lda, c.sA, c.bb, c.ldb, c.sB, 0, out, c.ld, L*max(c.ld, L), B)
			}
			b.ReportMetric(float64(B*c.m*c.n*c.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gmadd/s")
		})
	}
}

// BenchmarkGemmTokenLinear measures the three products of a token-wise
// Linear layer of the DiT "small" preset on MNIST (N = 128·49 token rows,
// In = 64, Out = 256, fc1's shape): the forward x·Wᵀ ("fwd"), the weight
// gradient dyᵀ·x ("dw") and the input gradient dy·W ("dx").
func BenchmarkGemmTokenLinear(b *testing.B) {
	const N, In, Out = 128 * 49, 64, 256
	be := NewCPU()
	rng := rand.New(rand.NewPCG(2, 1))
	x, w, dy := upload(be, randVals(rng, N*In)), upload(be, randVals(rng, Out*In)), upload(be, randVals(rng, N*Out))
	y, dw, dx := be.Alloc(N*Out), be.Alloc(Out*In), be.Alloc(N*In)
	for _, c := range []struct {
		name string
		run  func()
	}{
		{"fwd", func() { be.Gemm(false, true, N, Out, In, 1, x, In, w, In, 0, y, Out) }},
		{"dw", func() { be.Gemm(true, false, Out, In, N, 1, dy, Out, x, In, 1, dw, In) }},
		{"dx", func() { be.Gemm(false, false, N, In, Out, 1, dy, Out, w, In, 0, dx, In) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.run()
			}
			b.ReportMetric(float64(N*In*Out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gmadd/s")
		})
	}
}
