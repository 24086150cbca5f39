package diffusion

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// NetDenoiser adapts a trained network to the Denoiser interface that
// samplers and metrics use: Predict uploads x_t and t to the network's
// backend, runs a forward pass and downloads the prediction. It owns
// buffers for the largest batch seen and is not safe for concurrent use;
// its forward passes overwrite the network's saved activations.
type NetDenoiser struct {
	net    nn.Network
	target weighting.Target
	cap    int
	x, t   nn.Tensor // (cap, D), (cap)
	out    nn.Tensor // (cap, D)
	tf     []float32
}

var _ Denoiser = (*NetDenoiser)(nil)

// NewNetDenoiser wraps net, which predicts target.
func NewNetDenoiser(net nn.Network, target weighting.Target) *NetDenoiser {
	return &NetDenoiser{net: net, target: target}
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
	if B > d.cap {
		for _, x := range []nn.Tensor{d.x, d.t, d.out} {
			if !x.IsZero() {
				be.Free(x)
			}
		}
		d.cap, d.x, d.t, d.out, d.tf = B, be.Alloc(B*D), be.Alloc(B), be.Alloc(B*D), make([]float32, B)
	}
	for i, v := range t {
		d.tf[i] = float32(v)
	}
	be.Upload(d.x, xt)
	be.Upload(d.t, d.tf[:B])
	d.net.Forward(d.out, d.x, d.t, B)
	be.Download(out, d.out)
}
