package diffusion

import (
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// DrawBins draws a batch stratified into K = len(edges)−1 timestep bins
// [edges[k], edges[k+1]), perBin examples each, rows grouped by bin (bin k
// is rows k·perBin … (k+1)·perBin − 1). For each bin in turn it draws the
// data, then the timesteps uniformly in the bin, then the noise, from rng.
// Edges must increase strictly within 0..T.
func DrawBins(rng *rand.Rand, data Dataset, edges []int, perBin int) Batch {
	K, D := len(edges)-1, data.Dim()
	if K < 1 || perBin < 1 {
		panic(fmt.Sprintf("diffusion: DrawBins: %d bins of %d examples", K, perBin))
	}
	b := NewBatch(K*perBin, D)
	for k := 0; k < K; k++ {
		lo, hi := edges[k], edges[k+1]
		if hi <= lo || lo < 0 {
			panic(fmt.Sprintf("diffusion: DrawBins: bin %d is [%d, %d)", k, lo, hi))
		}
		s := b.Slice(k*perBin, (k+1)*perBin)
		data.Sample(rng, s.X0)
		for i := range s.T {
			s.T[i] = lo + rng.IntN(hi-lo)
		}
		fillNormal(rng, s.Eps)
	}
	return b
}

// BinGradients is the brute-force reference for per-timestep-bin gradients:
// for each bin k (rows k·n … (k+1)·n − 1 of b, n = b.Len()/K, as DrawBins
// makes them) it runs one forward and one backward pass of
//
//	L_k = (1/n)·Σ_{b∈k} w_b·mse_b,  w_b = weighting.Weight(loss, target, SNR(t_b))
//
// and copies ∇θ L_k into row k of dst, which is (K, P) on the network's
// backend. loss nil means weighting.Constant{}: L_k is then the unweighted
// x0-MSE of the model's x0 prediction, the paper's per-task loss, whatever
// the target. It returns L_k. It overwrites the network's gradient buffer.
// Faster methods (one pass over the stratified batch) must match it; a
// caller turns the rows into a float64 Gram matrix with Backend.Gram.
func (o *Objective) BinGradients(dst nn.Tensor, b Batch, K int, loss weighting.Strategy) []float64 {
	if loss == nil {
		loss = weighting.Constant{}
	}
	ps := o.Net.Params()
	P := ps.Len()
	if K < 1 || b.Len()%K != 0 {
		panic(fmt.Sprintf("diffusion: BinGradients: %d rows do not split into %d bins", b.Len(), K))
	}
	if dst.Len() < K*P {
		panic(fmt.Sprintf("diffusion: BinGradients: dst has %d elements, needs K·P = %d", dst.Len(), K*P))
	}
	n := b.Len() / K
	c, mse := make([]float64, n), make([]float64, n)
	losses := make([]float64, K)
	for k := 0; k < K; k++ {
		s := b.Slice(k*n, (k+1)*n)
		for i, t := range s.T {
			c[i] = weighting.Weight(loss, o.Target, o.Schedule.SNR(t)) / float64(n)
		}
		ps.ZeroGrad(o.be)
		losses[k] = o.Loss(s, c, mse, true)
		o.be.Copy(dst.View(k*P, P), ps.Grad)
	}
	return losses
}

// BinGradientRows is BinGradients with the K rows downloaded to the host as
// float64, for callers without a backend buffer of their own.
func (o *Objective) BinGradientRows(b Batch, K int, loss weighting.Strategy) (grads [][]float64, losses []float64) {
	P := o.Net.Params().Len()
	dst := o.be.Alloc(K * P)
	defer o.be.Free(dst)
	losses = o.BinGradients(dst, b, K, loss)
	host := make([]float32, K*P)
	o.be.Download(host, dst)
	grads = make([][]float64, K)
	for k := range grads {
		grads[k] = make([]float64, P)
		for i, v := range host[k*P : (k+1)*P] {
			grads[k][i] = float64(v)
		}
	}
	return grads, losses
}
