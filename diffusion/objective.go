package diffusion

import (
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// Dataset is a source of training examples; the types of package
// diffusion/data satisfy it.
type Dataset interface {
	// Dim returns D, the length of one flattened example.
	Dim() int
	// Sample fills x, which holds len(x)/D examples row-major, with examples
	// drawn using rng.
	Sample(rng *rand.Rand, x []float32)
}

// Batch is a batch of B training examples drawn on the host: clean data x0,
// timesteps t and noise ε. X0 and Eps are (B, D); T is (B).
type Batch struct {
	X0  []float32 // clean examples, (B, D)
	Eps []float32 // noise ε, (B, D)
	T   []int     // timesteps in 0..T−1, (B)
}

// NewBatch allocates a batch of B examples of dimension D.
func NewBatch(B, D int) Batch {
	return Batch{X0: make([]float32, B*D), Eps: make([]float32, B*D), T: make([]int, B)}
}

// Len returns B.
func (b Batch) Len() int { return len(b.T) }

// Slice returns rows r0..r1−1, sharing memory.
func (b Batch) Slice(r0, r1 int) Batch {
	D := len(b.X0) / max(len(b.T), 1)
	return Batch{X0: b.X0[r0*D : r1*D], Eps: b.Eps[r0*D : r1*D], T: b.T[r0:r1]}
}

// Draw fills the batch from rng in a fixed order that CPU and GPU runs
// share: first the data (data.Sample over all of X0), then the timesteps
// (density.Sample over all of T), then the noise (rng.NormFloat64 for every
// element of Eps, row-major).
func (b Batch) Draw(rng *rand.Rand, data Dataset, density weighting.Density) {
	data.Sample(rng, b.X0)
	density.Sample(rng, b.T)
	fillNormal(rng, b.Eps)
}

func fillNormal(rng *rand.Rand, x []float32) {
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
}

// Objective evaluates diffusion losses of a network: for each example b of a
// batch it forms x_t = α_t x0 + σ_t ε on the network's backend, predicts the
// target (ε, x0 or v = α ε − σ x0) with the network, and computes
//
//	mse_b = (1/D)·‖target_b − pred_b‖²,   L = Σ_b c_b·mse_b
//
// for per-example coefficients c chosen by the caller. Training uses
// c_b = w(t_b)/B with w = weighting.Weight(strategy, target, SNR(t_b)); the
// unweighted x0-MSE of the model's x0 prediction is mse_b·u_b with
// u_b = weighting.Weight(weighting.Constant{}, target, SNR(t_b)) = 1/c(SNR)
// by the loss identities ‖ε − ε̂‖² = SNR·‖x0 − x̂0‖² and
// ‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖² (1 where SNR = 0).
//
// A preconditioned network (nn.PrecondNetwork with σ_d or a learned skip)
// is run with the per-row gains of SkipGains for the target and schedule,
// so its output is the prediction of the target as it is for any other.
//
// An Objective owns device buffers for the largest batch it has seen and is
// not safe for concurrent use.
type Objective struct {
	// Net is the network evaluated; Schedule gives α_t and σ_t; Target is
	// what Net predicts. Set them once (NewObjective): the buffers are
	// sized for Net.
	Net      nn.Network
	Schedule *Schedule
	Target   weighting.Target

	be                                  nn.Backend
	capRows                             int
	lastRows                            int       // rows of the last Loss pass (Rebackward's)
	x0, eps, tf, alpha, sigma, ta, tb   nn.Tensor // (cap, D) or (cap)
	c, xt, target, pred, dpred, rowLoss nn.Tensor
	skipC, skipG                        nn.Tensor // (cap) gains of a preconditioned network
	host                                []float32 // (cap) scratch
	hostLoss                            []float32
}

// NewObjective returns an Objective for net, which predicts target, under
// the schedule. It panics where the schedule refuses the target
// (Schedule.CheckTarget; TrainConfig and run specs return that error
// first).
func NewObjective(net nn.Network, sched *Schedule, target weighting.Target) *Objective {
	if err := sched.CheckTarget(target); err != nil {
		panic(err)
	}
	return &Objective{Net: net, Schedule: sched, Target: target, be: net.Backend()}
}

func (o *Objective) reserve(rows int) {
	if rows <= o.capRows {
		return
	}
	for _, t := range []nn.Tensor{o.x0, o.eps, o.tf, o.alpha, o.sigma, o.ta, o.tb, o.c, o.xt, o.target, o.pred, o.dpred, o.rowLoss, o.skipC, o.skipG} {
		if !t.IsZero() {
			o.be.Free(t)
		}
	}
	D := o.Net.Dim()
	o.capRows = rows
	o.x0, o.eps, o.xt, o.target, o.pred, o.dpred = o.be.Alloc(rows*D), o.be.Alloc(rows*D), o.be.Alloc(rows*D), o.be.Alloc(rows*D), o.be.Alloc(rows*D), o.be.Alloc(rows*D)
	o.tf, o.alpha, o.sigma, o.ta, o.tb, o.c, o.rowLoss = o.be.Alloc(rows), o.be.Alloc(rows), o.be.Alloc(rows), o.be.Alloc(rows), o.be.Alloc(rows), o.be.Alloc(rows), o.be.Alloc(rows)
	o.skipC, o.skipG = nn.Tensor{}, nn.Tensor{}
	if pn, _, _ := precondOf(o.Net); pn != nil {
		o.skipC, o.skipG = o.be.Alloc(rows), o.be.Alloc(rows)
	}
	o.host, o.hostLoss = make([]float32, rows), make([]float32, rows)
}

// uploadRows uploads f(b) for each row b into dst.
func (o *Objective) uploadRows(dst nn.Tensor, rows int, f func(b int) float64) {
	for b := 0; b < rows; b++ {
		o.host[b] = float32(f(b))
	}
	o.be.Upload(dst, o.host[:rows])
}

// TargetCoefficients returns (a, b) with target = a·x0 + b·ε at timestep t:
// (0, 1) for ε, (1, 0) for x0, (−σ_t, α_t) for v and (−1, 1) for flow.
func (o *Objective) TargetCoefficients(t int) (a, b float64) {
	switch o.Target {
	case weighting.Eps:
		return 0, 1
	case weighting.X0:
		return 1, 0
	case weighting.V:
		return -o.Schedule.Sigma(t), o.Schedule.Alpha(t)
	case weighting.Flow:
		return -1, 1
	}
	panic(fmt.Sprintf("diffusion: invalid target %d", int(o.Target)))
}

// Loss computes mse_b for every example of the batch, writes them into mse
// (length B, as float64) and returns L = Σ_b c_b·mse_b. If grad is set it
// also accumulates ∂L/∂θ into the network's gradient buffer (which the
// caller zeroes) by one backward pass. c has length B.
func (o *Objective) Loss(b Batch, c, mse []float64, grad bool) float64 {
	B, D := b.Len(), o.Net.Dim()
	if len(b.X0) != B*D || len(b.Eps) != B*D || len(c) != B || len(mse) != B {
		panic(fmt.Sprintf("diffusion: Objective.Loss: batch of %d rows of D=%d with %d, %d, %d, %d values", B, D, len(b.X0), len(b.Eps), len(c), len(mse)))
	}
	o.reserve(B)
	be, s := o.be, o.Schedule
	be.Upload(o.x0, b.X0)
	be.Upload(o.eps, b.Eps)
	o.uploadRows(o.tf, B, func(r int) float64 { return float64(b.T[r]) })
	o.uploadRows(o.alpha, B, func(r int) float64 { return s.Alpha(b.T[r]) })
	o.uploadRows(o.sigma, B, func(r int) float64 { return s.Sigma(b.T[r]) })
	o.uploadRows(o.ta, B, func(r int) float64 { a, _ := o.TargetCoefficients(b.T[r]); return a })
	o.uploadRows(o.tb, B, func(r int) float64 { _, bb := o.TargetCoefficients(b.T[r]); return bb })
	o.uploadRows(o.c, B, func(r int) float64 { return c[r] })

	be.RowAxpby(o.xt, o.alpha, o.x0, o.sigma, o.eps, B, D)
	be.RowAxpby(o.target, o.ta, o.x0, o.tb, o.eps, B, D)
	if pn, sd, _ := precondOf(o.Net); pn != nil {
		o.uploadRows(o.skipC, B, func(r int) float64 { c, _ := SkipGains(s, o.Target, sd, b.T[r]); return c })
		o.uploadRows(o.skipG, B, func(r int) float64 { _, g := SkipGains(s, o.Target, sd, b.T[r]); return g })
		pn.ForwardPrecond(o.pred, o.xt, o.tf, o.skipC, o.skipG, B)
	} else {
		o.Net.Forward(o.pred, o.xt, o.tf, B)
	}
	dpred := nn.Tensor{}
	if grad {
		dpred = o.dpred
	}
	be.WeightedMSE(o.rowLoss, dpred, o.pred, o.target, o.c, B, D, 1)
	if grad {
		o.Net.Backward(o.dpred, B)
	}
	o.lastRows = B
	return o.collect(c, mse)
}

// collect downloads the per-row losses of the last pass into mse and
// returns Σ_b c_b·mse_b.
func (o *Objective) collect(c, mse []float64) float64 {
	B := o.lastRows
	o.be.Download(o.hostLoss[:B], o.rowLoss)
	var L float64
	for r := 0; r < B; r++ {
		mse[r] = float64(o.hostLoss[r])
		L += c[r] * mse[r]
	}
	return L
}

// Rebackward is the backward half of Loss again, for new coefficients c,
// on the forward values of the last Loss call (whose batch must not have
// changed): it accumulates ∂(Σ_b c_b·mse_b)/∂θ into the network's gradient
// buffer (which the caller zeroes), writes mse and returns Σ_b c_b·mse_b.
// Backpropagation is linear in the output gradient, so a weighting solved
// from one backward pass (an online Pareto step) can train without a
// second forward pass. The result is bit-identical to Loss(b, c, mse, true)
// on the same batch.
func (o *Objective) Rebackward(c, mse []float64) float64 {
	B := o.lastRows
	if B == 0 {
		panic("diffusion: Objective.Rebackward before any Loss")
	}
	if len(c) != B || len(mse) != B {
		panic(fmt.Sprintf("diffusion: Objective.Rebackward: %d coefficients and %d losses after a pass of %d rows", len(c), len(mse), B))
	}
	o.uploadRows(o.c, B, func(r int) float64 { return c[r] })
	o.be.WeightedMSE(o.rowLoss, o.dpred, o.pred, o.target, o.c, B, o.Net.Dim(), 1)
	o.Net.Backward(o.dpred, B)
	return o.collect(c, mse)
}

// OutputGrad returns the (B, D) gradient of the last Loss pass's loss with
// respect to the network's prediction, ∂L/∂pred (B the rows of that pass),
// as the pass left it on the backend: the δ rows of the network's output
// layer, which a per-example Gram pass (package gram) needs. It is valid
// until the next pass.
func (o *Objective) OutputGrad() nn.Tensor { return o.dpred.View(0, o.lastRows*o.Net.Dim()) }

// X0Scale returns u with ‖x0 − x̂0‖² = u·‖target − pred‖² at timestep t:
// weighting.Weight(weighting.Constant{}, target, SNR(t)).
func (o *Objective) X0Scale(t int) float64 {
	return weighting.Weight(weighting.Constant{}, o.Target, o.Schedule.SNR(t))
}
