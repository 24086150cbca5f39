package nn

import (
	"fmt"
	"math/rand/v2"
)

// DiT is a diffusion transformer denoiser with adaLN-Zero conditioning
// (Peebles & Xie 2023, "Scalable Diffusion Models with Transformers", §3.2
// and Fig. 3) for images x_t (B, D), D = C·S², each channels-first
// (C, S, S) and flattened, and integer timesteps t. With L = (S/p)² tokens
// of P = p²·C pixels, width W, H heads and MLP width M:
//
//	z    = Patchify(x_t)                                 (B·L, P)
//	h₀   = patch(z) + pos                                (B·L, W)
//	c    = time2(SiLU(time1(TimeEmbedding(t))))          (B, W)
//	block i (mod = adalnᵢ(SiLU(c)), (B, 6W): shift₁, scale₁, gate₁, shift₂, scale₂, gate₂):
//	  h ← h + gate₁ ⊙ projᵢ(Attention(qkvᵢ(LN(h)·(1 + scale₁) + shift₁)))
//	  h ← h + gate₂ ⊙ fc2ᵢ(GELU(fc1ᵢ(LN(h)·(1 + scale₂) + shift₂)))
//	final (mod = final.adaln(SiLU(c)), (B, 2W): shift, scale):
//	  out  = Unpatchify(final.linear(LN(h)·(1 + scale) + shift))   (B, D)
//
// where every LN is a LayerNorm without affine parameters (ε = 1e-6), the
// modulation factors of an example broadcast over its tokens, GELU is the
// tanh approximation and Attention is multi-head self-attention over the L
// tokens of each example (see Attention). pos is the fixed 2-D sin-cos
// table (SinCosPosEmbed2D), or with LearnedPos the parameter "pos" (L, W)
// initialised to it. With SigmaData or Skip set (Preconditioned) the output
// gains the input skips of a ResMLP: + c ⊙ x_t + g ⊙ skip(x_t), per row.
//
// Parameters, in layout order within each of the decayed and undecayed
// groups: "patch" (P → W), "pos" (LearnedPos only), "time1" (FreqDim → W),
// "time2" (W → W), for each block "block{i}.adaln" (W → 6W),
// "block{i}.qkv" (W → 3W), "block{i}.proj" (W → W), "block{i}.fc1"
// (W → M), "block{i}.fc2" (M → W), then "final.adaln" (W → 2W),
// "final.linear" (W → P) and "skip" (D → D, Skip only); each Linear's are
// "name.weight" (Out, In) and "name.bias" (Out). Initialisation is DiT's
// initialize_weights: Xavier-uniform weights and zero biases, N(0, 0.02²)
// for the time MLP's weights, and adaLN-Zero: every adaln layer and
// final.linear start at zero (so the network's output starts at zero, and
// every block at the identity), as does the skip.
//
// Per-example gradients (LinearSites, ParamSites): every activation of the
// last pass is kept in its own buffer. The token-wise layers (patch, qkv,
// proj, fc1, fc2, final.linear) see L rows per example (LinearSite.Tokens =
// L) and example n's weight gradient is Σ_p δ_{n,p}ᵀ a_{n,p} over its
// tokens; the per-example layers (time1, time2, every adaln, skip) see one
// row (Tokens = 1). The learned position table is added to every example's
// tokens, so its per-example gradient is that example's (L·W) row of the
// gradient of h₀ (ParamSites). There are no affine LayerNorms: NormSites
// is empty.
type DiT struct {
	cfg DiTConfig
	be  Backend
	ps  *ParamSet

	patch, time1, time2     *Linear
	finalAdaln, finalLinear *Linear
	skip                    *Linear // nil without Skip
	pos                     *Param  // the learned table; nil without LearnedPos
	posFixed                Tensor  // the fixed table (L·W), without LearnedPos
	blocks                  []ditBlock
	attn                    *Attention
	ln                      adaLN
	capRows, rows           int    // examples the forward buffers hold, and those of the last pass
	arena, gradArena        Tensor // the forward buffers and the gradient buffers
	gradRows                int    // examples the gradient buffers hold
	x, t, c, g, dout        Tensor // the last pass's inputs and output gradient (caller's)
	ones, zeros             Tensor // (capRows) constants for RowAxpby
	tok, dtok               Tensor // Patchify(x) and Patchify(dout), (N, P)
	emb, t1, ta, cond, sc   Tensor // time path, (B, ·): sc = SiLU(c) feeds every adaLN
	dta, dcond, dsc         Tensor // their gradients (dta after SiLU′)
	h                       []Tensor
	lnf, meanF, rstdF, uf   Tensor // final layer
	modF, dmodF             Tensor // (B, 2W)
	dh, du, da, dprobs      Tensor // scratch: trunk gradient (ends as dL/dh₀), modulated-input and attention gradients
	skipOut, dskip          Tensor // skip(x) and g ⊙ dout, (B, D); Skip only
	rowsTok, width, hidden  int    // L, W, M
	patchDim, dim           int    // P, D
}

// ditBlock is one transformer block's layers and saved activations; every
// (N, ·) buffer has N = B·L token rows.
type ditBlock struct {
	adaln, qkv, proj, fc1, fc2 *Linear
	mod, dmod                  Tensor // (B, 6W)
	ln1, mean1, rstd1, u1      Tensor // x̂, row statistics and modulated input of the attention branch
	qkvOut, probs, att, o      Tensor // (N, 3W), attention weights, attention output, proj output
	hmid                       Tensor // trunk after the attention branch
	ln2, mean2, rstd2, u2      Tensor // the same for the MLP branch
	f1, g1, f2                 Tensor // fc1 output, GELU(f1), fc2 output
	dqkv, do, df1, df2         Tensor // output gradients of qkv, proj, fc1 (after GELU′), fc2
}

// NewDiT builds a DiT on be with zeroed parameters; call Params().Init(be,
// rng) (or InitDiT) to draw initial values.
func NewDiT(be Backend, cfg DiTConfig) (*DiT, error) {
	m, err := newDiT(be, cfg)
	if err != nil {
		return nil, err
	}
	m.ps.Build(be)
	W := m.width
	m.ln = adaLN{be: be, tokens: m.rowsTok, width: W, ones: be.Alloc(W), zeros: be.Alloc(W), dgamma: be.Alloc(W), dbeta: be.Alloc(W)}
	be.Fill(m.ln.ones, 1)
	if m.pos == nil {
		m.posFixed = be.Alloc(m.rowsTok * W)
		be.Upload(m.posFixed, to32(SinCosPosEmbed2D(m.cfg.Side/m.cfg.Patch, W)))
	}
	m.attn = NewAttention(be, m.rowsTok, W, m.cfg.Heads)
	m.h = make([]Tensor, m.cfg.Depth+1)
	return m, nil
}

// newDiT fills in cfg's defaults, checks it and registers the network's
// parameters, allocating nothing (be is only kept).
func newDiT(be Backend, cfg DiTConfig) (*DiT, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &DiT{cfg: cfg, be: be, ps: &ParamSet{}, rowsTok: cfg.Tokens(), width: cfg.Width, hidden: cfg.Hidden(),
		patchDim: cfg.PatchDim(), dim: cfg.Dim()}
	W, M, P, F, L := m.width, m.hidden, m.patchDim, cfg.FreqDim, m.rowsTok
	zero := Const(0)
	xavier := func(name string, in, out int) *Linear {
		return newLinear(be, m.ps, name, in, out, XavierUniform(in, out), zero)
	}
	m.patch = xavier("patch", P, W)
	if cfg.LearnedPos {
		m.pos = m.ps.Add("pos", []int{L, W}, false, Values(SinCosPosEmbed2D(cfg.Side/cfg.Patch, W)))
	}
	m.time1 = newLinear(be, m.ps, "time1", F, W, Normal(0.02), zero)
	m.time2 = newLinear(be, m.ps, "time2", W, W, Normal(0.02), zero)
	m.blocks = make([]ditBlock, cfg.Depth)
	for i := range m.blocks {
		p := fmt.Sprintf("block%d.", i)
		m.blocks[i] = ditBlock{
			adaln: newLinear(be, m.ps, p+"adaln", W, 6*W, zero, zero),
			qkv:   xavier(p+"qkv", W, 3*W),
			proj:  xavier(p+"proj", W, W),
			fc1:   xavier(p+"fc1", W, M),
			fc2:   xavier(p+"fc2", M, W),
		}
	}
	m.finalAdaln = newLinear(be, m.ps, "final.adaln", W, 2*W, zero, zero)
	m.finalLinear = newLinear(be, m.ps, "final.linear", W, P, zero, zero)
	if cfg.Skip {
		m.skip = newLinear(be, m.ps, "skip", m.dim, m.dim, zero, zero)
	}
	return m, nil
}

// InitDiT builds a DiT and draws its initial parameters from
// rand.NewPCG(seed, 0).
func InitDiT(be Backend, cfg DiTConfig, seed uint64) (*DiT, error) {
	m, err := NewDiT(be, cfg)
	if err != nil {
		return nil, err
	}
	m.ps.Init(be, rand.New(rand.NewPCG(seed, 0)))
	return m, nil
}

// Backend returns the backend the network lives on.
func (m *DiT) Backend() Backend { return m.be }

// Params returns the network's parameters.
func (m *DiT) Params() *ParamSet { return m.ps }

// Dim returns D = Channels·Side².
func (m *DiT) Dim() int { return m.dim }

// Config returns the configuration with defaults filled in.
func (m *DiT) Config() DiTConfig { return m.cfg }

// Spec returns the network's kind and configuration.
func (m *DiT) Spec() Spec {
	c := m.cfg
	return Spec{Kind: "dit", DiT: &c}
}

// Precond returns the configuration's SigmaData and Skip.
func (m *DiT) Precond() (sigmaData float64, skip bool) { return m.cfg.SigmaData, m.cfg.Skip }

// Reserve makes the activation buffers hold at least rows examples.
// Forward calls it; calling it first avoids a reallocation later. Growing
// discards the saved activations. The gradient buffers are allocated by the
// first Backward at this size, so a network that only predicts (sampling)
// holds about half the memory.
func (m *DiT) Reserve(rows int) {
	if rows <= m.capRows {
		return
	}
	m.arena = m.regrow(m.arena, rows, m.carveForward)
	m.capRows = rows
	m.be.Fill(m.ones, 1)
	if !m.gradArena.IsZero() {
		m.be.Free(m.gradArena)
		m.gradArena, m.gradRows = Tensor{}, 0
	}
}

// reserveGrad makes the gradient buffers hold the forward buffers' rows.
func (m *DiT) reserveGrad() {
	if m.gradRows < m.capRows {
		m.gradArena = m.regrow(m.gradArena, m.capRows, m.carveGrad)
		m.gradRows = m.capRows
	}
}

// regrow frees old and returns a new allocation cut by carve for rows
// examples: carve hands every buffer's size to take, which returns the
// tensor (once to count, once to cut).
func (m *DiT) regrow(old Tensor, rows int, carve func(rows int, take func(n int) Tensor)) Tensor {
	if !old.IsZero() {
		m.be.Free(old)
	}
	total := 0
	carve(rows, func(n int) Tensor { total += n; return Tensor{} })
	arena := m.be.Alloc(total)
	off := 0
	carve(rows, func(n int) Tensor { t := arena.View(off, n); off += n; return t })
	return arena
}

// carveForward takes the buffers Forward writes for rows examples.
func (m *DiT) carveForward(rows int, take func(n int) Tensor) {
	B, N := rows, rows*m.rowsTok
	W, M, P, F, D := m.width, m.hidden, m.patchDim, m.cfg.FreqDim, m.dim
	probs := m.cfg.Heads * m.rowsTok * m.rowsTok * B
	m.ones, m.zeros = take(B), take(B)
	m.tok, m.dtok = take(N*P), take(N*P)
	m.emb, m.t1, m.ta, m.cond, m.sc = take(B*F), take(B*W), take(B*W), take(B*W), take(B*W)
	for i := range m.h {
		m.h[i] = take(N * W)
	}
	for i := range m.blocks {
		b := &m.blocks[i]
		b.mod = take(B * 6 * W)
		b.ln1, b.mean1, b.rstd1, b.u1 = take(N*W), take(N), take(N), take(N*W)
		b.qkvOut, b.probs, b.att, b.o, b.hmid = take(N*3*W), take(probs), take(N*W), take(N*W), take(N*W)
		b.ln2, b.mean2, b.rstd2, b.u2 = take(N*W), take(N), take(N), take(N*W)
		b.f1, b.g1, b.f2 = take(N*M), take(N*M), take(N*W)
	}
	m.lnf, m.meanF, m.rstdF, m.uf = take(N*W), take(N), take(N), take(N*W)
	m.modF = take(B * 2 * W)
	if m.skip != nil {
		m.skipOut = take(B * D)
	}
}

// carveGrad takes the buffers Backward writes for rows examples.
func (m *DiT) carveGrad(rows int, take func(n int) Tensor) {
	B, N := rows, rows*m.rowsTok
	W, M, D := m.width, m.hidden, m.dim
	probs := m.cfg.Heads * m.rowsTok * m.rowsTok * B
	m.dta, m.dcond, m.dsc = take(B*W), take(B*W), take(B*W)
	for i := range m.blocks {
		b := &m.blocks[i]
		b.dmod = take(B * 6 * W)
		b.dqkv, b.do, b.df1, b.df2 = take(N*3*W), take(N*W), take(N*M), take(N*W)
	}
	m.dmodF = take(B * 2 * W)
	m.dh, m.du, m.da, m.dprobs = take(N*W), take(N*W), take(N*W), take(probs)
	if m.skip != nil {
		m.dskip = take(B * D)
	}
}

// Forward computes the network's output (see DiT). A Preconditioned
// network panics: it needs its gains (ForwardPrecond).
func (m *DiT) Forward(out, x, t Tensor, rows int) {
	if m.cfg.Preconditioned() {
		panic("nn: DiT.Forward on a network with input skips (sigma_data or skip); call ForwardPrecond with their gains")
	}
	m.forward(out, x, t, Tensor{}, Tensor{}, rows)
}

// ForwardPrecond computes the output of a Preconditioned network with the
// per-row gains c of the fixed skip and g of the learned skip, (rows) each;
// a gain the network does not use may be absent. It keeps references to c
// and g for Backward, like Forward to x and t.
func (m *DiT) ForwardPrecond(out, x, t, c, g Tensor, rows int) {
	if m.cfg.SigmaData > 0 {
		need("DiT.ForwardPrecond", "c", c, rows)
	}
	if m.skip != nil {
		need("DiT.ForwardPrecond", "g", g, rows)
	}
	m.forward(out, x, t, c, g, rows)
}
