package gram

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

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
func BinGradients(o *diffusion.Objective, dst nn.Tensor, b diffusion.Batch, K int, loss weighting.Strategy) []float64 {
	if loss == nil {
		loss = weighting.Constant{}
	}
	ps, be := o.Net.Params(), o.Net.Backend()
	P := ps.Len()
	if K < 1 || b.Len()%K != 0 {
		panic(fmt.Sprintf("gram: BinGradients: %d rows do not split into %d bins", b.Len(), K))
	}
	if dst.Len() < K*P {
		panic(fmt.Sprintf("gram: BinGradients: dst has %d elements, needs K·P = %d", dst.Len(), K*P))
	}
	n := b.Len() / K
	c, mse := make([]float64, n), make([]float64, n)
	losses := make([]float64, K)
	for k := 0; k < K; k++ {
		s := b.Slice(k*n, (k+1)*n)
		for i, t := range s.T {
			c[i] = weighting.Weight(loss, o.Target, o.Schedule.SNR(t)) / float64(n)
		}
		ps.ZeroGrad(be)
		losses[k] = o.Loss(s, c, mse, true)
		be.Copy(dst.View(k*P, P), ps.Grad)
	}
	return losses
}

// BinGradientRows is BinGradients with the K rows downloaded to the host as
// float64, for callers without a backend buffer of their own.
func BinGradientRows(o *diffusion.Objective, b diffusion.Batch, K int, loss weighting.Strategy) (grads [][]float64, losses []float64) {
	P, be := o.Net.Params().Len(), o.Net.Backend()
	dst := be.Alloc(K * P)
	defer be.Free(dst)
	losses = BinGradients(o, dst, b, K, loss)
	host := make([]float32, K*P)
	be.Download(host, dst)
	grads = make([][]float64, K)
	for k := range grads {
		grads[k] = make([]float64, P)
		for i, v := range host[k*P : (k+1)*P] {
			grads[k][i] = float64(v)
		}
	}
	return grads, losses
}
