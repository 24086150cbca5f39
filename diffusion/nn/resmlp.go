package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ResMLPConfig configures a ResMLP. Zero fields take the documented defaults
// (WithDefaults).
type ResMLPConfig struct {
	// Dim is D, the length of a flattened example (2 for toy data, 784 for
	// MNIST). Required.
	Dim int `json:"dim"`
	// Width is the trunk width W (default 256).
	Width int `json:"width"`
	// Depth is the number of residual blocks (default 3).
	Depth int `json:"depth"`
	// Hidden is the width inside each block (default 2·Width).
	Hidden int `json:"hidden"`
	// TimeDim is the sinusoidal embedding size, even (default Width rounded
	// up to even).
	TimeDim int `json:"time_dim"`
	// Act is the nonlinearity everywhere (default SiLU).
	Act Activation `json:"act"`
	// MaxPeriod is the embedding's longest period (default 10000).
	MaxPeriod float64 `json:"max_period"`
	// SigmaData, when positive, adds the fixed skip c_r·x_r to the output,
	// with a per-row gain c the caller computes from it (σ_d of EDM's
	// c_skip; see diffusion.SkipGains). Zero: none.
	SigmaData float64 `json:"sigma_data,omitempty"`
	// Skip adds the learned skip g_r·skip(x_r) to the output: a Linear
	// layer D → D ("skip.weight", "skip.bias"), initialised to zero, with a
	// per-row gain g the caller gives (see diffusion.SkipGains).
	Skip bool `json:"skip,omitempty"`
}

// Preconditioned reports whether the network's output has input skips
// whose per-row gains the caller supplies (SigmaData > 0 or Skip); it
// must then be run with ForwardPrecond.
func (c ResMLPConfig) Preconditioned() bool { return c.SigmaData > 0 || c.Skip }

// WithDefaults returns c with zero fields set to their defaults.
func (c ResMLPConfig) WithDefaults() ResMLPConfig {
	if c.Width == 0 {
		c.Width = 256
	}
	if c.Depth == 0 {
		c.Depth = 3
	}
	if c.Hidden == 0 {
		c.Hidden = 2 * c.Width
	}
	if c.TimeDim == 0 {
		c.TimeDim = c.Width + c.Width%2
	}
	if c.MaxPeriod == 0 {
		c.MaxPeriod = 10000
	}
	return c
}

func (c ResMLPConfig) validate() error {
	switch {
	case c.Dim < 1:
		return fmt.Errorf("nn: resmlp needs dim ≥ 1, got %d", c.Dim)
	case c.Width < 1 || c.Hidden < 1 || c.Depth < 1:
		return fmt.Errorf("nn: resmlp needs width, hidden and depth ≥ 1, got %d, %d, %d", c.Width, c.Hidden, c.Depth)
	case c.TimeDim < 2 || c.TimeDim%2 != 0:
		return fmt.Errorf("nn: resmlp needs an even time_dim ≥ 2, got %d", c.TimeDim)
	case c.Act != SiLU && c.Act != GELU:
		return fmt.Errorf("nn: resmlp: invalid activation %d", int(c.Act))
	case !(c.MaxPeriod > 1) || math.IsInf(c.MaxPeriod, 0):
		return fmt.Errorf("nn: resmlp needs a finite max_period > 1, got %g", c.MaxPeriod)
	case !(c.SigmaData >= 0) || math.IsInf(c.SigmaData, 0):
		return fmt.Errorf("nn: resmlp needs a finite sigma_data ≥ 0, got %g", c.SigmaData)
	}
	if _, ok := c.paramCount(); !ok {
		return fmt.Errorf("nn: resmlp with dim %d, width %d, depth %d, hidden %d, time_dim %d has more than %d parameters",
			c.Dim, c.Width, c.Depth, c.Hidden, c.TimeDim, MaxParams)
	}
	return nil
}

// paramCount returns the number of parameters of a ResMLP with c (whose
// sizes are ≥ 1), or false if it exceeds MaxParams. Every sum and product is
// checked before it is made, so it cannot overflow.
func (c ResMLPConfig) paramCount() (int, bool) {
	var n paramCounter
	W, H, D, E := c.Width, c.Hidden, c.Dim, c.TimeDim
	linear := func(n *paramCounter, in, out int) { n.add(n.mul(out, in)); n.add(out) }
	linear(&n, E, W) // time1
	linear(&n, W, W) // time2
	linear(&n, D, W) // in
	var block paramCounter
	block.add(block.mul(2, W)) // norm
	linear(&block, W, H)
	linear(&block, H, W)
	n.add(n.mul(c.Depth, block.n))
	n.add(n.mul(2, W)) // norm_out
	linear(&n, W, D)
	if c.Skip {
		linear(&n, D, D)
	}
	if block.over || n.over {
		return 0, false
	}
	return n.n, true
}

// ResMLP is a residual MLP denoiser for flattened data x_t (rows, D) and
// integer timesteps t, with f the configured activation:
//
//	e   = TimeEmbedding(t)                       (rows, TimeDim)
//	τ   = time2(f(time1(e)))                     (rows, W)
//	h₀  = in(x_t) + τ                            (rows, W)
//	hᵢ₊₁ = hᵢ + fc2ᵢ(f(fc1ᵢ(LNᵢ(hᵢ))))           i < Depth, inner width Hidden
//	out = out(f(LN_out(h_Depth)))                (rows, D)
//
// where every time1, time2, in, fc1ᵢ, fc2ᵢ, out is a Linear layer. With
// SigmaData or Skip set (Preconditioned) the output gains input skips with
// per-row gains c and g given to ForwardPrecond:
//
//	out = out(f(LN_out(h_Depth))) + c ⊙ x_t + g ⊙ skip(x_t)     (⊙ per row)
//
// (the c term only with SigmaData, the g term only with Skip); see
// diffusion.SkipGains for why and for the gains. Its
// parameters are named "time1.weight", "block0.fc1.bias", "block2.norm.weight",
// "norm_out.weight", "out.bias" and so on (the PyTorch script in bench/
// builds the same module with the same names).
//
// Every activation of the last pass is kept in its own buffer, so after
// Backward the input rows and output-gradient rows of every Linear layer are
// available through LinearSites, and those of every LayerNorm through
// NormSites.
type ResMLP struct {
	cfg ResMLPConfig
	be  Backend
	ps  *ParamSet

	time1, time2, in, out *Linear
	skip                  *Linear // the learned skip; nil without Skip
	blocks                []resBlock
	normOut               *LayerNorm

	capRows int    // rows the activation buffers hold
	arena   Tensor // every activation buffer, carved into the views below
	rows    int    // rows of the last Forward

	x, t                 Tensor   // the last Forward's inputs (caller's)
	c, g                 Tensor   // its per-row skip gains (caller's; absent without)
	ones, zeros          Tensor   // (capRows) constants for RowAxpby
	skipOut, dskip       Tensor   // skip(x) and g ⊙ dout, (rows, D); Skip only
	dout                 Tensor   // the last Backward's output gradient (caller's)
	emb, t1, ta, temb    Tensor   // time path
	h                    []Tensor // Depth+1 trunk states
	hf, meanF, rstdF, af Tensor   // head
	dh                   []Tensor // Depth+1 trunk gradients
	daf, dta             Tensor   // head and time-path gradients
}

type resBlock struct {
	norm              *LayerNorm
	fc1, fc2          *Linear
	ln, mean, rstd, u Tensor // LN output, row stats, fc1 output (pre-activation)
	a                 Tensor // f(u), fc2's input
	du, dln           Tensor // fc1's output gradient, LN output gradient
}

// NewResMLP builds a ResMLP on be with zeroed parameters; call
// Params().Init(be, rng) (or InitResMLP) to draw initial values.
func NewResMLP(be Backend, cfg ResMLPConfig) (*ResMLP, error) {
	m, err := newResMLP(be, cfg)
	if err != nil {
		return nil, err
	}
	m.ps.Build(be)
	m.h = make([]Tensor, m.cfg.Depth+1)
	m.dh = make([]Tensor, m.cfg.Depth+1)
	return m, nil
}

// newResMLP fills in cfg's defaults, checks it and registers the network's
// parameters, allocating nothing (be is only kept).
func newResMLP(be Backend, cfg ResMLPConfig) (*ResMLP, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &ResMLP{cfg: cfg, be: be, ps: &ParamSet{}}
	W, H, D, E := cfg.Width, cfg.Hidden, cfg.Dim, cfg.TimeDim
	m.time1 = NewLinear(be, m.ps, "time1", E, W)
	m.time2 = NewLinear(be, m.ps, "time2", W, W)
	m.in = NewLinear(be, m.ps, "in", D, W)
	m.blocks = make([]resBlock, cfg.Depth)
	for i := range m.blocks {
		p := fmt.Sprintf("block%d.", i)
		m.blocks[i] = resBlock{
			norm: NewLayerNorm(be, m.ps, p+"norm", W),
			fc1:  NewLinear(be, m.ps, p+"fc1", W, H),
			fc2:  NewLinear(be, m.ps, p+"fc2", H, W),
		}
	}
	m.normOut = NewLayerNorm(be, m.ps, "norm_out", W)
	m.out = NewLinear(be, m.ps, "out", W, D)
	if cfg.Skip {
		m.skip = newLinear(be, m.ps, "skip", D, D, Const(0), Const(0))
	}
	return m, nil
}

// InitResMLP builds a ResMLP and draws its initial parameters from
// rand.NewPCG(seed, 0).
func InitResMLP(be Backend, cfg ResMLPConfig, seed uint64) (*ResMLP, error) {
	m, err := NewResMLP(be, cfg)
	if err != nil {
		return nil, err
	}
	m.ps.Init(be, rand.New(rand.NewPCG(seed, 0)))
	return m, nil
}

// Backend returns the backend the network lives on.
func (m *ResMLP) Backend() Backend { return m.be }

// Params returns the network's parameters.
func (m *ResMLP) Params() *ParamSet { return m.ps }

// Dim returns D.
func (m *ResMLP) Dim() int { return m.cfg.Dim }

// Config returns the configuration with defaults filled in.
func (m *ResMLP) Config() ResMLPConfig { return m.cfg }

// Spec returns the network's kind and configuration.
func (m *ResMLP) Spec() Spec {
	c := m.cfg
	return Spec{Kind: "resmlp", ResMLP: &c}
}

// Reserve makes the activation buffers hold at least rows rows. Forward
// calls it; calling it first avoids a reallocation later. Growing discards
// the saved activations.
func (m *ResMLP) Reserve(rows int) {
	if rows <= m.capRows {
		return
	}
	if !m.arena.IsZero() {
		m.be.Free(m.arena)
	}
	W, H, E, L, D := m.cfg.Width, m.cfg.Hidden, m.cfg.TimeDim, m.cfg.Depth, m.cfg.Dim
	// Elements per row of every buffer below, in the order they are taken.
	per := E + 3*W + (L+1)*W + 2*W + 2 + (L+1)*W + 2*W + L*(2*W+2+3*H)
	if m.cfg.Preconditioned() {
		per += 2
	}
	if m.skip != nil {
		per += 2 * D
	}
	m.arena = m.be.Alloc(rows * per)
	m.capRows = rows
	off := 0
	take := func(cols int) Tensor {
		t := m.arena.View(off, rows*cols)
		off += rows * cols
		return t
	}
	m.emb, m.t1, m.ta, m.temb = take(E), take(W), take(W), take(W)
	for i := range m.h {
		m.h[i] = take(W)
	}
	m.hf, m.af, m.meanF, m.rstdF = take(W), take(W), take(1), take(1)
	for i := range m.dh {
		m.dh[i] = take(W)
	}
	m.daf, m.dta = take(W), take(W)
	for i := range m.blocks {
		b := &m.blocks[i]
		b.ln, b.mean, b.rstd, b.u, b.a = take(W), take(1), take(1), take(H), take(H)
		b.du, b.dln = take(H), take(W)
	}
	if m.cfg.Preconditioned() {
		m.ones, m.zeros = take(1), take(1)
		m.be.Fill(m.ones, 1)
	}
	if m.skip != nil {
		m.skipOut, m.dskip = take(D), take(D)
	}
	if off != m.arena.Len() {
		panic("nn: ResMLP arena layout is inconsistent")
	}
}

// r returns the first rows rows of a (capacity, cols) buffer.
func r(t Tensor, rows, cols int) Tensor { return t.View(0, rows*cols) }

// Forward computes the network's output (see ResMLP). A Preconditioned
// network panics: it needs its gains (ForwardPrecond).
func (m *ResMLP) Forward(out, x, t Tensor, rows int) {
	if m.cfg.Preconditioned() {
		panic("nn: ResMLP.Forward on a network with input skips (sigma_data or skip); call ForwardPrecond with their gains")
	}
	m.forward(out, x, t, Tensor{}, Tensor{}, rows)
}

// ForwardPrecond computes the output of a Preconditioned network with the
// per-row gains c of the fixed skip and g of the learned skip, (rows) each;
// a gain the network does not use may be absent. It keeps references to c
// and g for Backward, like Forward to x and t.
func (m *ResMLP) ForwardPrecond(out, x, t, c, g Tensor, rows int) {
	if m.cfg.SigmaData > 0 {
		need("ResMLP.ForwardPrecond", "c", c, rows)
	}
	if m.skip != nil {
		need("ResMLP.ForwardPrecond", "g", g, rows)
	}
	m.forward(out, x, t, c, g, rows)
}

// Precond returns the configuration's SigmaData and Skip.
func (m *ResMLP) Precond() (sigmaData float64, skip bool) { return m.cfg.SigmaData, m.cfg.Skip }

func (m *ResMLP) forward(out, x, t, c, g Tensor, rows int) {
	m.Reserve(rows)
	be, W, H, D, E := m.be, m.cfg.Width, m.cfg.Hidden, m.cfg.Dim, m.cfg.TimeDim
	need("ResMLP.Forward", "x", x, rows*D)
	need("ResMLP.Forward", "t", t, rows)
	need("ResMLP.Forward", "out", out, rows*D)
	m.x, m.t, m.c, m.g, m.rows = x, t, c, g, rows

	be.TimeEmbedding(m.emb, t, rows, E, float32(m.cfg.MaxPeriod))
	m.time1.Forward(m.t1, m.emb, rows)
	be.Activate(m.cfg.Act, r(m.ta, rows, W), r(m.t1, rows, W))
	m.time2.Forward(m.temb, m.ta, rows)

	m.in.Forward(m.h[0], x, rows)
	be.Axpy(r(m.h[0], rows, W), 1, r(m.temb, rows, W))
	for i := range m.blocks {
		b := &m.blocks[i]
		b.norm.Forward(b.ln, b.mean, b.rstd, m.h[i], rows)
		b.fc1.Forward(b.u, b.ln, rows)
		be.Activate(m.cfg.Act, r(b.a, rows, H), r(b.u, rows, H))
		b.fc2.Forward(m.h[i+1], b.a, rows)
		be.Axpy(r(m.h[i+1], rows, W), 1, r(m.h[i], rows, W))
	}
	L := m.cfg.Depth
	m.normOut.Forward(m.hf, m.meanF, m.rstdF, m.h[L], rows)
	be.Activate(m.cfg.Act, r(m.af, rows, W), r(m.hf, rows, W))
	m.out.Forward(out, m.af, rows)
	addSkips(be, out, x, c, g, m.cfg.SigmaData > 0, m.skip, m.skipOut, m.ones, rows, D)
}

// Backward accumulates parameter gradients from dout (rows, D).
func (m *ResMLP) Backward(dout Tensor, rows int) {
	if rows != m.rows {
		panic(fmt.Sprintf("nn: ResMLP.Backward with %d rows after a Forward of %d", rows, m.rows))
	}
	be, W, H, L := m.be, m.cfg.Width, m.cfg.Hidden, m.cfg.Depth
	need("ResMLP.Backward", "dout", dout, rows*m.cfg.Dim)
	m.dout = dout

	// Skips: out += c ⊙ x (no parameters) + g ⊙ skip(x).
	skipsBackward(be, m.skip, m.dskip, dout, m.x, m.g, m.zeros, rows, m.cfg.Dim)

	// Head: out = out(f(LN_out(h_L))).
	m.out.Backward(m.daf, dout, m.af, rows)
	be.ActivateBackward(m.cfg.Act, r(m.daf, rows, W), r(m.hf, rows, W), r(m.daf, rows, W))
	be.Fill(r(m.dh[L], rows, W), 0)
	m.normOut.Backward(m.dh[L], m.daf, m.h[L], m.meanF, m.rstdF, rows)

	// Blocks, last first: h_{i+1} = h_i + fc2(f(fc1(LN(h_i)))).
	for i := L - 1; i >= 0; i-- {
		b := &m.blocks[i]
		b.fc2.Backward(b.du, m.dh[i+1], b.a, rows)
		be.ActivateBackward(m.cfg.Act, r(b.du, rows, H), r(b.u, rows, H), r(b.du, rows, H))
		b.fc1.Backward(b.dln, b.du, b.ln, rows)
		be.Copy(m.dh[i], r(m.dh[i+1], rows, W))
		b.norm.Backward(m.dh[i], b.dln, m.h[i], b.mean, b.rstd, rows)
	}

	// Input and time path: h_0 = in(x) + time2(f(time1(e))).
	m.in.Backward(Tensor{}, m.dh[0], m.x, rows)
	m.time2.Backward(m.dta, m.dh[0], m.ta, rows)
	be.ActivateBackward(m.cfg.Act, r(m.dta, rows, W), r(m.t1, rows, W), r(m.dta, rows, W))
	m.time1.Backward(Tensor{}, m.dta, m.emb, rows)
}

// LinearSites returns every Linear layer of the network with its input and
// output-gradient rows from the last Forward/Backward, in parameter order:
// time1, time2, in, block0.fc1, block0.fc2, …, out, then skip (its
// output gradient is g ⊙ dout). Each layer's weight
// gradient is Σ_n δ_nᵀ a_n over these rows and its bias gradient Σ_n δ_n
// (for out, δ is the dout given to Backward, which must still hold it).
func (m *ResMLP) LinearSites() []LinearSite {
	n, W, H, D := m.rows, m.cfg.Width, m.cfg.Hidden, m.cfg.Dim
	s := []LinearSite{
		{Layer: m.time1, In: r(m.emb, n, m.cfg.TimeDim), OutGrad: r(m.dta, n, W)},
		{Layer: m.time2, In: r(m.ta, n, W), OutGrad: r(m.dh[0], n, W)},
		{Layer: m.in, In: m.x.View(0, n*D), OutGrad: r(m.dh[0], n, W)},
	}
	for i := range m.blocks {
		b := &m.blocks[i]
		s = append(s, LinearSite{Layer: b.fc1, In: r(b.ln, n, W), OutGrad: r(b.du, n, H)},
			LinearSite{Layer: b.fc2, In: r(b.a, n, H), OutGrad: r(m.dh[i+1], n, W)})
	}
	s = append(s, LinearSite{Layer: m.out, In: r(m.af, n, W), OutGrad: m.dout.View(0, n*D)})
	if m.skip != nil {
		s = append(s, LinearSite{Layer: m.skip, In: m.x.View(0, n*D), OutGrad: r(m.dskip, n, D)})
	}
	return s
}

// NormSites returns every LayerNorm with the rows of the last pass, in
// parameter order: block0.norm, …, norm_out.
func (m *ResMLP) NormSites() []NormSite {
	n, W := m.rows, m.cfg.Width
	var s []NormSite
	for i := range m.blocks {
		b := &m.blocks[i]
		s = append(s, NormSite{b.norm, r(m.h[i], n, W), r(b.mean, n, 1), r(b.rstd, n, 1), r(b.dln, n, W)})
	}
	// norm_out's output gradient: daf after the activation backward.
	return append(s, NormSite{m.normOut, r(m.h[m.cfg.Depth], n, W), r(m.meanF, n, 1), r(m.rstdF, n, 1), r(m.daf, n, W)})
}
