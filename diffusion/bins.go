package diffusion

import (
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/weighting"
)

// DrawBins draws a batch stratified into the K timestep bins, perBin
// examples each, rows grouped by bin (bin k is rows k·perBin …
// (k+1)·perBin − 1): for each bin in turn, DrawRange over its timesteps.
func DrawBins(rng *rand.Rand, data Dataset, bins weighting.Bins, perBin int) Batch {
	K, D := bins.K(), data.Dim()
	if K < 1 || perBin < 1 {
		panic(fmt.Sprintf("diffusion: DrawBins: %d bins of %d examples", K, perBin))
	}
	b := NewBatch(K*perBin, D)
	for k := 0; k < K; k++ {
		lo, hi := bins.Range(k)
		drawRange(rng, data, lo, hi, b.Slice(k*perBin, (k+1)*perBin))
	}
	return b
}

// DrawRange draws n examples with timesteps uniform in [lo, hi): first the
// data, then the timesteps, then the noise, from rng.
func DrawRange(rng *rand.Rand, data Dataset, lo, hi, n int) Batch {
	if n < 1 {
		panic(fmt.Sprintf("diffusion: DrawRange: %d examples", n))
	}
	b := NewBatch(n, data.Dim())
	drawRange(rng, data, lo, hi, b)
	return b
}

func drawRange(rng *rand.Rand, data Dataset, lo, hi int, s Batch) {
	if hi <= lo || lo < 0 {
		panic(fmt.Sprintf("diffusion: timestep range [%d, %d) is empty", lo, hi))
	}
	data.Sample(rng, s.X0)
	for i := range s.T {
		s.T[i] = lo + rng.IntN(hi-lo)
	}
	fillNormal(rng, s.Eps)
}
