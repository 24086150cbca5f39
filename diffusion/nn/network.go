package nn

import (
	"fmt"
	"math/rand/v2"
)

// Network is a denoising network in explicit-layer form: a forward pass that
// saves what the backward pass needs, and a backward pass that accumulates
// into the gradients of its ParamSet. Training, checkpoints and the per-bin
// gradient code use only this interface.
type Network interface {
	// Backend returns the backend the network's tensors live on.
	Backend() Backend
	// Params returns the network's parameters (values and gradients).
	Params() *ParamSet
	// Dim returns D, the length of one flattened example.
	Dim() int
	// Spec returns what Build needs to make a network of the same shape.
	Spec() Spec
	// Forward computes out (rows, D) from x (rows, D) and the timesteps t
	// (rows, as float32 values). It keeps references to x and t and saves
	// activations; both must stay unchanged until Backward.
	Forward(out, x, t Tensor, rows int)
	// Backward accumulates the gradient of the loss into Params().Grad, given
	// dout (rows, D), the gradient of the loss with respect to the output of
	// the last Forward, which must have had the same rows.
	Backward(dout Tensor, rows int)
}

// PrecondNetwork is a Network whose output has input skips with per-row
// gains that the caller supplies (a ResMLP with SigmaData or Skip; see
// ResMLP, and diffusion.SkipGains for the gains). When Precond reports
// neither, Forward
// is the way to run it; otherwise ForwardPrecond, and Forward panics.
type PrecondNetwork interface {
	Network
	// Precond returns σ_d of the fixed skip (0: none) and whether the
	// learned skip exists.
	Precond() (sigmaData float64, skip bool)
	// ForwardPrecond is Forward with the fixed skip's gains c and the
	// learned skip's gains g, (rows) each; an unused one may be absent.
	ForwardPrecond(out, x, t, c, g Tensor, rows int)
}

var (
	_ PrecondNetwork = (*ResMLP)(nil)
	_ PrecondNetwork = (*DiT)(nil)
)

// Spec names a network architecture and its configuration; it is what
// checkpoints store. Kind is "resmlp" or "dit", and the field of that name
// holds the configuration. Fields added later are omitted from JSON when
// unset, so a spec written before them reads back as the same network.
type Spec struct {
	Kind   string        `json:"kind"`             // "resmlp" or "dit"
	ResMLP *ResMLPConfig `json:"resmlp,omitempty"` // set for Kind "resmlp"
	DiT    *DiTConfig    `json:"dit,omitempty"`    // set for Kind "dit"
}

// Build makes an untrained network of the given spec on be (parameters
// zero; call Params().Init or load values). Any spec is either built or an
// error (an unknown kind, a missing or invalid configuration, more than
// MaxParams parameters); it never panics.
func Build(be Backend, s Spec) (Network, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.Kind == "dit" {
		return NewDiT(be, *s.DiT)
	}
	return NewResMLP(be, *s.ResMLP)
}

// Layout returns the parameter layout of the network Build makes of s,
// without allocating it, or Build's error.
func (s Spec) Layout() ([]Layout, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var ps *ParamSet
	if s.Kind == "dit" {
		m, err := newDiT(nil, *s.DiT)
		if err != nil {
			return nil, err
		}
		ps = m.ps
	} else {
		m, err := newResMLP(nil, *s.ResMLP)
		if err != nil {
			return nil, err
		}
		ps = m.ps
	}
	ps.layOut()
	return ps.Layout(), nil
}

// Dim returns D, the length of one flattened example of the network s
// describes (its DiT's Channels·Side² with defaults filled in), or 0 for
// a spec of an unknown kind or without its configuration.
func (s Spec) Dim() int {
	if s.check() != nil {
		return 0
	}
	if s.Kind == "dit" {
		return s.DiT.WithDefaults().Dim()
	}
	return s.ResMLP.Dim
}

// check reports an unknown kind or a kind without its configuration.
func (s Spec) check() error {
	switch {
	case s.Kind == "resmlp" && s.ResMLP == nil, s.Kind == "dit" && s.DiT == nil:
		return fmt.Errorf("nn: %s spec without a configuration", s.Kind)
	case s.Kind != "resmlp" && s.Kind != "dit":
		return fmt.Errorf("nn: unknown network kind %q (want resmlp or dit)", s.Kind)
	}
	return nil
}

// BuildSeeded builds a network of the given spec on be and draws its initial
// parameters from rand.NewPCG(seed, 0), as InitResMLP does for a ResMLP:
// every kind of network is started by one call, so a new backbone only
// adds a case to Build.
func BuildSeeded(be Backend, s Spec, seed uint64) (Network, error) {
	net, err := Build(be, s)
	if err != nil {
		return nil, err
	}
	net.Params().Init(be, rand.New(rand.NewPCG(seed, 0)))
	return net, nil
}

// MaxParams is the largest number of parameters a network may have,
// 2³¹−1: every size and offset, and every layer width, then fits the int32
// indices of GPU kernels, and a spec read from a file cannot ask for an
// absurd allocation.
const MaxParams = 1<<31 - 1

// paramCounter sums sizes up to MaxParams; over records an excess, after
// which the sum is meaningless.
type paramCounter struct {
	n    int
	over bool
}

// add adds v ≥ 0 (an argument above MaxParams is an excess).
func (p *paramCounter) add(v int) {
	if v < 0 || v > MaxParams-p.n {
		p.over = true
		return
	}
	p.n += v
}

// mul returns a·b for a, b ≥ 1, or MaxParams+1 when it exceeds MaxParams.
func (p *paramCounter) mul(a, b int) int {
	if a < 1 || b < 1 || a > MaxParams/b {
		p.over = true
		return MaxParams + 1
	}
	return a * b
}
