package gram

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// GroupByBin returns a copy of b with its rows reordered so that the rows
// of each timestep bin come together, bins in order and rows within a bin
// in their original order, with the number of rows of each bin and order,
// where order[i] is the original row of row i. Every timestep must lie in
// 0..bins.T()−1 (a programmer error otherwise).
func GroupByBin(b diffusion.Batch, bins weighting.Bins) (grouped diffusion.Batch, counts []int, order []int) {
	K := bins.K()
	B := b.Len()
	D := len(b.X0) / max(B, 1)
	bin := make([]int, B)
	counts = make([]int, K)
	for r, t := range b.T {
		if t < 0 || t >= bins.T() {
			panic(fmt.Sprintf("gram: GroupByBin: timestep %d of row %d is outside [0, %d)", t, r, bins.T()))
		}
		k := bins.Of(t)
		bin[r] = k
		counts[k]++
	}
	order = make([]int, 0, B)
	for k := 0; k < K; k++ {
		for r := range bin {
			if bin[r] == k {
				order = append(order, r)
			}
		}
	}
	grouped = diffusion.NewBatch(B, D)
	for i, r := range order {
		copy(grouped.X0[i*D:(i+1)*D], b.X0[r*D:(r+1)*D])
		copy(grouped.Eps[i*D:(i+1)*D], b.Eps[r*D:(r+1)*D])
		grouped.T[i] = b.T[r]
	}
	return grouped, counts, order
}
