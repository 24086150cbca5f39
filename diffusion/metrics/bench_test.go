package metrics

import (
	"testing"
)

func benchRows(n, d int, seed uint64) []float32 {
	rng := newRNG(seed)
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func BenchmarkFrechet_N10000_F64(b *testing.B) {
	x, y := benchRows(10000, 64, 1), benchRows(10000, 64, 2)
	for b.Loop() {
		if _, err := Frechet(x, y, 64); err != nil {
			b.Fatal(err)
		}
	}
}

// The matrix part alone, as when reference statistics are cached.
func BenchmarkFrechetStats_F256(b *testing.B) {
	sa, _ := FitStats(benchRows(2000, 256, 1), 256)
	sb, _ := FitStats(benchRows(2000, 256, 2), 256)
	for b.Loop() {
		if _, err := FrechetStats(sa, sb); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMMD2_N2000_D2(b *testing.B) {
	x, y := benchRows(2000, 2, 1), benchRows(2000, 2, 2)
	for b.Loop() {
		if _, err := MMD2(x, y, 2, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSWD_N10000_D2_L256(b *testing.B) {
	x, y := benchRows(10000, 2, 1), benchRows(10000, 2, 2)
	for b.Loop() {
		if _, err := SlicedWasserstein(x, y, 2, newRNG(1), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLabelEntropy_N10000_K10(b *testing.B) {
	p := make([]float32, 10000*10)
	for i := range p {
		p[i] = 0.1
	}
	for b.Loop() {
		if _, err := LabelEntropy(p, 10); err != nil {
			b.Fatal(err)
		}
	}
}
