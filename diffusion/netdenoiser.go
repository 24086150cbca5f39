package diffusion

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// NetDenoiser adapts a trained network to the Denoiser interface that
// samplers and metrics use: Predict uploads x_t and t to the network's
// backend, runs a forward pass and downloads the prediction. A
// preconditioned network (see SkipGains) also gets its per-row gains,
// computed from the schedule. It owns
// buffers for the largest batch seen and is not safe for concurrent use;
// its forward passes overwrite the network's saved activations.
type NetDenoiser struct {
	net    nn.Network
	target weighting.Target
	sched  *Schedule // for the gains of a preconditioned network
	cap    int
	x, t   nn.Tensor // (cap, D), (cap)
	out    nn.Tensor // (cap, D)
	c, g   nn.Tensor // (cap) skip gains
	tf     []float32
	cf, gf []float32
}

var _ Denoiser = (*NetDenoiser)(nil)

// NewNetDenoiser wraps net, which predicts target under the schedule sched
// (which may be nil for a network that is not preconditioned; one that is
// panics without it).
func NewNetDenoiser(net nn.Network, target weighting.Target, sched *Schedule) *NetDenoiser {
	target.LossScale(1) // panics on an invalid target
	if sched != nil {
		if err := sched.CheckTarget(target); err != nil {
			panic(err)
		}
	}
	if pn, _, _ := precondOf(net); pn != nil && sched == nil {
		panic("diffusion: NewNetDenoiser: a preconditioned network needs its schedule")
	}
	return &NetDenoiser{net: net, target: target, sched: sched}
}

// Net returns the wrapped network.
func (d *NetDenoiser) Net() nn.Network { return d.net }

// Dim returns D.
func (d *NetDenoiser) Dim() int { return d.net.Dim() }

// Target returns what the network predicts.
func (d *NetDenoiser) Target() weighting.Target { return d.target }

// Predict writes the network's prediction for x_t (B, D) at timesteps t (B)
// into out (B, D).
func (d *NetDenoiser) Predict(out, xt []float32, t []int) {
	B, D := len(t), d.net.Dim()
	if len(xt) != B*D || len(out) != B*D {
		panic(fmt.Sprintf("diffusion: NetDenoiser.Predict: %d timesteps, x_t of %d and out of %d values, D=%d", B, len(xt), len(out), D))
	}
	if B == 0 {
		return
	}
	be := d.net.Backend()
	pn, sd, _ := precondOf(d.net)
	if B > d.cap {
		for _, x := range []nn.Tensor{d.x, d.t, d.out, d.c, d.g} {
			if !x.IsZero() {
				be.Free(x)
			}
		}
		d.cap, d.x, d.t, d.out, d.tf = B, be.Alloc(B*D), be.Alloc(B), be.Alloc(B*D), make([]float32, B)
		d.c, d.g, d.cf, d.gf = nn.Tensor{}, nn.Tensor{}, nil, nil
		if pn != nil {
			d.c, d.g, d.cf, d.gf = be.Alloc(B), be.Alloc(B), make([]float32, B), make([]float32, B)
		}
	}
	for i, v := range t {
		d.tf[i] = float32(v)
	}
	be.Upload(d.x, xt)
	be.Upload(d.t, d.tf[:B])
	if pn != nil {
		for i, v := range t {
			c, g := SkipGains(d.sched, d.target, sd, v)
			d.cf[i], d.gf[i] = float32(c), float32(g)
		}
		be.Upload(d.c, d.cf[:B])
		be.Upload(d.g, d.gf[:B])
		pn.ForwardPrecond(d.out, d.x, d.t, d.c, d.g, B)
	} else {
		d.net.Forward(d.out, d.x, d.t, B)
	}
	be.Download(out, d.out)
}
