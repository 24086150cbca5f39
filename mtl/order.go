package mtl

import "math/rand/v2"

// orderStream draws the random orders of projections of PCGrad and
// GradVac: at every call, for each task i, a uniformly random permutation
// of the other tasks (Yu et al. 2020, Alg. 1: "for g_j ∈ B \ {g_i} in
// random order"), from rand.NewPCG(seed, 0x6d746c) — so a seed fixes the
// sequence of calls' orders.
type orderStream struct {
	rng *rand.Rand
}

func newOrderStream(seed uint64) orderStream {
	return orderStream{rng: rand.New(rand.NewPCG(seed, 0x6d746c))}
}

// next returns K orders: orders[i] lists the tasks j ≠ i.
func (s orderStream) next(k int) [][]int {
	orders := make([][]int, k)
	for i := range k {
		perm := s.rng.Perm(k)
		o := make([]int, 0, k-1)
		for _, j := range perm {
			if j != i {
				o = append(o, j)
			}
		}
		orders[i] = o
	}
	return orders
}
