package mtl

import "math/rand/v2"

// Orders of projections of PCGrad and GradVac: at every call, for each
// task i, a uniformly random permutation of the other tasks (Yu et al.
// 2020, Alg. 1: "for g_j ∈ B \ {g_i} in random order").
//
// Call n's orders are a function of (Config.Seed, n) alone — drawn from
// rand.NewPCG(Seed, orderStream + n·orderStride) — not the next part of
// one stream, so that a caller who knows n (online training: the step,
// Sequenced.SetCall) gets the same orders after a restart without any
// state to save. Call 0's stream is the one earlier releases drew the
// first call from, so a single call (solve, compare-solvers) is unchanged.
const (
	orderStream = 0x6d746c
	// orderStride is 2⁶⁴/φ, odd: the Weyl increment of SplitMix64, so
	// the calls' stream words n·orderStride are spread over 64 bits.
	orderStride = 0x9e3779b97f4a7c15
)

// Sequenced is an Aggregator whose calls differ by their index — PCGrad's
// and GradVac's random orders of projection, call n's a function of
// (Config.Seed, n). The index starts at 0 and each Aggregate advances it by
// one; SetCall sets the index of the next call. Package conflict's online
// weighting sets it to the training step before every solve, so a resumed
// run draws the orders of the uninterrupted one.
type Sequenced interface {
	Aggregator
	SetCall(n uint64)
}

// orderSeq is the call index and seed of PCGrad's and GradVac's orders.
type orderSeq struct {
	seed, call uint64
}

// next returns the K orders of the current call (orders[i] lists the
// tasks j ≠ i) and advances the call index.
func (s *orderSeq) next(k int) [][]int {
	orders := ordersAt(s.seed, s.call, k)
	s.call++
	return orders
}

// ordersAt returns call n's K orders for the seed.
func ordersAt(seed, n uint64, k int) [][]int {
	rng := rand.New(rand.NewPCG(seed, orderStream+n*orderStride))
	orders := make([][]int, k)
	for i := range k {
		perm := rng.Perm(k)
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
