package nn

import "fmt"

// The DiT's forward and backward passes, step by step (see DiT for the
// formulas). N = B·L token rows; every view is trimmed to the pass's rows.

func (m *DiT) forward(out, x, t, c, g Tensor, rows int) {
	m.Reserve(rows)
	B, D := rows, m.dim
	need("DiT.Forward", "x", x, B*D)
	need("DiT.Forward", "t", t, B)
	need("DiT.Forward", "out", out, B*D)
	m.x, m.t, m.c, m.g, m.rows = x, t, c, g, rows
	m.embedForward(B)
	for i := range m.blocks {
		m.blockForward(i, B)
	}
	m.finalForward(out, B)
	addSkips(m.be, out, x, c, g, m.cfg.SigmaData > 0, m.skip, m.skipOut, m.ones, B, D)
}

// embedForward writes h₀ = patch(Patchify(x)) + pos and the conditioning
// sc = SiLU(c) of the timesteps.
func (m *DiT) embedForward(B int) {
	be, cf, W, L := m.be, m.cfg, m.width, m.rowsTok
	be.Patchify(m.tok, m.x, B, cf.Channels, cf.Side, cf.Patch, false)
	m.patch.Forward(m.h[0], m.tok, B*L)
	pos := m.posFixed
	if m.pos != nil {
		pos = m.pos.Value
	}
	be.AddBias(m.h[0], pos, B, L*W)

	be.TimeEmbedding(m.emb, m.t, B, cf.FreqDim, float32(cf.MaxPeriod))
	m.time1.Forward(m.t1, m.emb, B)
	be.Activate(SiLU, m.ta.View(0, B*W), m.t1.View(0, B*W))
	m.time2.Forward(m.cond, m.ta, B)
	be.Activate(SiLU, m.sc.View(0, B*W), m.cond.View(0, B*W))
}

// The chunks of a block's modulation, in DiT's order.
const (
	shiftMSA = iota
	scaleMSA
	gateMSA
	shiftMLP
	scaleMLP
	gateMLP
	blockChunks
)

// blockForward runs block i from h[i] to h[i+1].
func (m *DiT) blockForward(i, B int) {
	be, b, N, M := m.be, &m.blocks[i], B*m.rowsTok, m.hidden
	b.adaln.Forward(b.mod, m.sc, B)
	m.ln.normForward(b.u1, b.ln1, b.mean1, b.rstd1, m.h[i], b.mod, blockChunks, shiftMSA, scaleMSA, B)
	b.qkv.Forward(b.qkvOut, b.u1, N)
	m.attn.Forward(b.att, b.probs, b.qkvOut, B)
	b.proj.Forward(b.o, b.att, N)
	m.ln.gateForward(b.hmid, m.h[i], b.o, b.mod, blockChunks, gateMSA, B)

	m.ln.normForward(b.u2, b.ln2, b.mean2, b.rstd2, b.hmid, b.mod, blockChunks, shiftMLP, scaleMLP, B)
	b.fc1.Forward(b.f1, b.u2, N)
	be.Activate(GELU, b.g1.View(0, N*M), b.f1.View(0, N*M))
	b.fc2.Forward(b.f2, b.g1, N)
	m.ln.gateForward(m.h[i+1], b.hmid, b.f2, b.mod, blockChunks, gateMLP, B)
}

// finalForward writes out = Unpatchify(final.linear(modulated LN(h_Depth))).
func (m *DiT) finalForward(out Tensor, B int) {
	cf, N := m.cfg, B*m.rowsTok
	m.finalAdaln.Forward(m.modF, m.sc, B)
	m.ln.normForward(m.uf, m.lnf, m.meanF, m.rstdF, m.h[cf.Depth], m.modF, 2, 0, 1, B)
	m.finalLinear.Forward(m.dtok, m.uf, N) // dtok holds the output tokens until Backward
	m.be.Patchify(out, m.dtok, B, cf.Channels, cf.Side, cf.Patch, true)
}

// Backward accumulates parameter gradients from dout (rows, D).
func (m *DiT) Backward(dout Tensor, rows int) {
	if rows != m.rows {
		panic(fmt.Sprintf("nn: DiT.Backward with %d rows after a Forward of %d", rows, m.rows))
	}
	be, B, D, cf := m.be, rows, m.dim, m.cfg
	need("DiT.Backward", "dout", dout, B*D)
	m.reserveGrad()
	m.dout = dout
	skipsBackward(be, m.skip, m.dskip, dout, m.x, m.g, m.zeros, B, D)
	m.finalBackward(B)
	for i := cf.Depth - 1; i >= 0; i-- {
		m.blockBackward(i, B)
	}
	m.embedBackward(B)
}

// finalBackward starts the trunk gradient dh = dL/dh_Depth and writes dsc.
func (m *DiT) finalBackward(B int) {
	be, cf, N, W := m.be, m.cfg, B*m.rowsTok, m.width
	be.Fill(m.ln.dgamma, 0) // the constants' gradients are scratch; keep them bounded
	be.Fill(m.ln.dbeta, 0)
	be.Patchify(m.dtok, m.dout, B, cf.Channels, cf.Side, cf.Patch, false)
	m.finalLinear.Backward(m.du, m.dtok, m.uf, N)
	be.Fill(m.dh.View(0, N*W), 0)
	m.ln.normBackward(m.dh, m.du, m.lnf, m.meanF, m.rstdF, m.h[cf.Depth], m.modF, m.dmodF, 2, 0, 1, B)
	m.finalAdaln.backward(m.dsc, m.dmodF, m.sc, B, 0)
}

// blockBackward turns dh = dL/dh[i+1] into dL/dh[i] in place and adds the
// block's share of dsc.
func (m *DiT) blockBackward(i, B int) {
	be, b, N, M := m.be, &m.blocks[i], B*m.rowsTok, m.hidden
	m.ln.gateBackward(b.df2, m.dh, b.f2, b.mod, b.dmod, blockChunks, gateMLP, B)
	b.fc2.Backward(b.df1, b.df2, b.g1, N)
	be.ActivateBackward(GELU, b.df1.View(0, N*M), b.f1.View(0, N*M), b.df1.View(0, N*M))
	b.fc1.Backward(m.du, b.df1, b.u2, N)
	m.ln.normBackward(m.dh, m.du, b.ln2, b.mean2, b.rstd2, b.hmid, b.mod, b.dmod, blockChunks, shiftMLP, scaleMLP, B)

	m.ln.gateBackward(b.do, m.dh, b.o, b.mod, b.dmod, blockChunks, gateMSA, B)
	b.proj.Backward(m.da, b.do, b.att, N)
	m.attn.Backward(b.dqkv, m.dprobs, m.da, b.qkvOut, b.probs, B)
	b.qkv.Backward(m.du, b.dqkv, b.u1, N)
	m.ln.normBackward(m.dh, m.du, b.ln1, b.mean1, b.rstd1, m.h[i], b.mod, b.dmod, blockChunks, shiftMSA, scaleMSA, B)
	b.adaln.backward(m.dsc, b.dmod, m.sc, B, 1)
}

// embedBackward backpropagates dsc through the time MLP and dh = dL/dh₀
// into patch and the learned position table.
func (m *DiT) embedBackward(B int) {
	be, W, L := m.be, m.width, m.rowsTok
	be.ActivateBackward(SiLU, m.dcond.View(0, B*W), m.cond.View(0, B*W), m.dsc.View(0, B*W))
	m.time2.Backward(m.dta, m.dcond, m.ta, B)
	be.ActivateBackward(SiLU, m.dta.View(0, B*W), m.t1.View(0, B*W), m.dta.View(0, B*W))
	m.time1.Backward(Tensor{}, m.dta, m.emb, B)
	m.patch.Backward(Tensor{}, m.dh, m.tok, B*L)
	if m.pos != nil {
		be.SumRows(m.pos.Grad, m.dh, B, L*W)
	}
}

// LinearSites returns every Linear layer with its input and output-gradient
// rows from the last Forward/Backward (OutGrad absent before the first
// Backward at the current size), in parameter order: patch, time1,
// time2, for each block adaln, qkv, proj, fc1, fc2, then final.adaln,
// final.linear and skip. The token-wise layers have Tokens = L (rows·L
// rows, example-major), the others Tokens = 1. Each layer's weight
// gradient is Σ δᵀa over these rows and its bias gradient Σ δ.
func (m *DiT) LinearSites() []LinearSite {
	B, L, D := m.rows, m.rowsTok, m.dim
	N := B * L
	tokens := func(l *Linear, in, grad Tensor) LinearSite {
		return LinearSite{Layer: l, In: in.View(0, N*l.In), OutGrad: m.gradView(grad, N*l.Out), Tokens: L}
	}
	rowsOf := func(l *Linear, in, grad Tensor) LinearSite {
		return LinearSite{Layer: l, In: in.View(0, B*l.In), OutGrad: m.gradView(grad, B*l.Out), Tokens: 1}
	}
	s := []LinearSite{tokens(m.patch, m.tok, m.dh), rowsOf(m.time1, m.emb, m.dta), rowsOf(m.time2, m.ta, m.dcond)}
	for i := range m.blocks {
		b := &m.blocks[i]
		s = append(s, rowsOf(b.adaln, m.sc, b.dmod), tokens(b.qkv, b.u1, b.dqkv), tokens(b.proj, b.att, b.do),
			tokens(b.fc1, b.u2, b.df1), tokens(b.fc2, b.g1, b.df2))
	}
	s = append(s, rowsOf(m.finalAdaln, m.sc, m.dmodF), tokens(m.finalLinear, m.uf, m.dtok))
	if m.skip != nil {
		s = append(s, LinearSite{Layer: m.skip, In: m.x.View(0, B*D), OutGrad: m.gradView(m.dskip, B*D), Tokens: 1})
	}
	return s
}

// NormSites returns nothing: the DiT's LayerNorms have no parameters.
func (m *DiT) NormSites() []NormSite { return nil }

// ParamSites returns the learned position table with its per-example
// gradient rows, (rows, L·W): dL/dh₀ of each example, since the table is
// added to the tokens of every example. Without LearnedPos it is empty.
func (m *DiT) ParamSites() []ParamSite {
	if m.pos == nil {
		return nil
	}
	return []ParamSite{{Param: m.pos, OutGrad: m.gradView(m.dh, m.rows*m.rowsTok*m.width)}}
}

// gradView returns the first n elements of a gradient buffer, or the absent
// Tensor before the first Backward has allocated them.
func (m *DiT) gradView(t Tensor, n int) Tensor {
	if m.gradArena.IsZero() {
		return Tensor{}
	}
	return t.View(0, n)
}
