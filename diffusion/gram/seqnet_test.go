package gram_test

import (
	"math"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// seqNet is a small sequence model for the tests of the per-bin Gram over
// token rows, made of nn primitives: an example of D = T·F values is T
// tokens of F features, and
//
//	c    = GELU(time1(TimeEmbedding(t)))                (B, H)       per example
//	s, h = ada(c) = (scale, shift)                        (B, 2H)      per example
//	h₀   = embed(x) + pos                               (B·T, H)     per token; pos is (T, H), added to every example
//	m    = LN(h₀)·(1 + s) + h                           (B·T, H)     adaLN modulation (Backend.Modulate)
//	h₁   = m + softmax(m mᵀ/√H)·m                       (B·T, H)     attention without parameters, within an example
//	y    = fc2(GELU(fc1(h₁)))                           (B·T, F)     per token
//	out  = y + flat(y)                                  (B, D)       flat: a Linear on the flattened tokens
//
// so that it has Linear layers with Tokens = T (embed, fc1, fc2) and
// Tokens = 1 (time1, ada, flat, the output layer whose δ is the
// objective's output gradient), a LayerNorm over token rows, a ParamSite
// (pos) and a step that mixes an example's tokens.
type seqNet struct {
	be                    nn.Backend
	ps                    *nn.ParamSet
	T, F, H, H2, E        int
	time1, ada, embed     *nn.Linear
	fc1, fc2, flat        *nn.Linear
	norm                  *nn.LayerNorm
	pos                   *nn.Param
	rows                  int
	x, t                  nn.Tensor // the last Forward's inputs (caller's)
	emb, c1, ca, mod      nn.Tensor // per example
	h0, nrm, mean, rstd   nn.Tensor // per token
	m, S, P, h1, u, a, y  nn.Tensor
	z                     nn.Tensor
	dc1, dca, dmod        nn.Tensor // gradients
	dh0, dn, dm, dP, dS   nn.Tensor
	dh1, du, da, dy, dout nn.Tensor
}

var _ gram.ParamSiteNetwork = (*seqNet)(nil)

// newSeqNet builds a seqNet on be with parameters drawn from seed.
func newSeqNet(be nn.Backend, T, F, H, H2, E int, seed uint64) *seqNet {
	n := &seqNet{be: be, ps: &nn.ParamSet{}, T: T, F: F, H: H, H2: H2, E: E}
	n.time1 = nn.NewLinear(be, n.ps, "time1", E, H)
	n.ada = nn.NewLinear(be, n.ps, "ada", H, 2*H)
	n.embed = nn.NewLinear(be, n.ps, "embed", F, H)
	n.pos = n.ps.Add("pos", []int{T, H}, false, nn.Uniform(0.5))
	n.norm = nn.NewLayerNorm(be, n.ps, "norm", H)
	n.fc1 = nn.NewLinear(be, n.ps, "fc1", H, H2)
	n.fc2 = nn.NewLinear(be, n.ps, "fc2", H2, F)
	n.flat = nn.NewLinear(be, n.ps, "flat", T*F, T*F)
	n.ps.Build(be)
	n.ps.Init(be, rand.New(rand.NewPCG(seed, 0)))
	// LayerNorm's γ = 1, β = 0 would hide a wrong LN term; perturb them.
	host := make([]float32, n.ps.Len())
	be.Download(host, n.ps.Flat)
	for i, p := range []*nn.Param{n.norm.Gamma, n.norm.Beta} {
		for j := 0; j < p.Size; j++ {
			host[p.Offset+j] += float32(0.3 * math.Sin(float64(3*j+i+1)))
		}
	}
	be.Upload(n.ps.Flat, host)
	return n
}

func (n *seqNet) Backend() nn.Backend      { return n.be }
func (n *seqNet) Params() *nn.ParamSet     { return n.ps }
func (n *seqNet) Dim() int                 { return n.T * n.F }
func (n *seqNet) Spec() nn.Spec            { return nn.Spec{Kind: "seqtest"} }
func (n *seqNet) attnScale() float32       { return float32(1 / math.Sqrt(float64(n.H))) }
func (n *seqNet) alloc(cols int) nn.Tensor { return n.be.Alloc(max(cols, 1)) }

// reserve allocates the activations of a pass of B examples.
func (n *seqNet) reserve(B int) {
	if B == n.rows && !n.emb.IsZero() {
		return
	}
	T, F, H, H2, E := n.T, n.F, n.H, n.H2, n.E
	BT := B * T
	n.emb, n.c1, n.ca, n.mod = n.alloc(B*E), n.alloc(B*H), n.alloc(B*H), n.alloc(B*2*H)
	n.h0, n.nrm, n.mean, n.rstd = n.alloc(BT*H), n.alloc(BT*H), n.alloc(BT), n.alloc(BT)
	n.m, n.S, n.P, n.h1 = n.alloc(BT*H), n.alloc(BT*T), n.alloc(BT*T), n.alloc(BT*H)
	n.u, n.a, n.y, n.z = n.alloc(BT*H2), n.alloc(BT*H2), n.alloc(BT*F), n.alloc(B*T*F)
	n.dc1, n.dca, n.dmod = n.alloc(B*H), n.alloc(B*H), n.alloc(B*2*H)
	n.dh0, n.dn, n.dm, n.dP, n.dS = n.alloc(BT*H), n.alloc(BT*H), n.alloc(BT*H), n.alloc(BT*T), n.alloc(BT*T)
	n.dh1, n.du, n.da, n.dy = n.alloc(BT*H), n.alloc(BT*H2), n.alloc(BT*H2), n.alloc(BT*F)
}

// Forward computes out (B, D) (see seqNet).
func (n *seqNet) Forward(out, x, t nn.Tensor, B int) {
	n.reserve(B)
	be, T, H, BT := n.be, n.T, n.H, B*n.T
	n.rows, n.x, n.t = B, x, t
	be.TimeEmbedding(n.emb, t, B, n.E, 10000)
	n.time1.Forward(n.c1, n.emb, B)
	be.Activate(nn.GELU, n.ca, n.c1)
	n.ada.Forward(n.mod, n.ca, B)
	n.embed.Forward(n.h0, x, BT)
	be.AddBias(n.h0, n.pos.Value, B, T*H)
	n.norm.Forward(n.nrm, n.mean, n.rstd, n.h0, BT)
	be.Modulate(n.m, n.nrm, n.mod, n.mod.View(H, n.mod.Len()-H), B, T, H, 2*H, 1)
	be.GemmBatched(false, true, T, T, H, 1, n.m, H, T*H, n.m, H, T*H, 0, n.S, T, T*T, B)
	be.Softmax(n.P, n.S, BT, T, n.attnScale())
	be.GemmBatched(false, false, T, H, T, 1, n.P, T, T*T, n.m, H, T*H, 0, n.h1, H, T*H, B)
	be.Axpy(n.h1, 1, n.m)
	n.fc1.Forward(n.u, n.h1, BT)
	be.Activate(nn.GELU, n.a, n.u)
	n.fc2.Forward(n.y, n.a, BT)
	n.flat.Forward(n.z, n.y, B)
	be.Copy(out, n.y)
	be.Axpy(out.View(0, n.y.Len()), 1, n.z)
}

// Backward accumulates the parameter gradients from dout (B, D).
func (n *seqNet) Backward(dout nn.Tensor, B int) {
	be, T, H, BT, sc := n.be, n.T, n.H, B*n.T, n.attnScale()
	n.dout = dout.View(0, B*n.Dim())
	// out = y + flat(y).
	n.flat.Backward(n.dy, n.dout, n.y, B)
	be.Axpy(n.dy, 1, n.dout)
	n.fc2.Backward(n.da, n.dy, n.a, BT)
	be.ActivateBackward(nn.GELU, n.du, n.u, n.da)
	n.fc1.Backward(n.dh1, n.du, n.h1, BT)
	// h₁ = m + P·m with P = softmax(sc·m mᵀ).
	be.Copy(n.dm, n.dh1)
	be.GemmBatched(false, true, T, T, H, 1, n.dh1, H, T*H, n.m, H, T*H, 0, n.dP, T, T*T, B)
	be.GemmBatched(true, false, T, H, T, 1, n.P, T, T*T, n.dh1, H, T*H, 1, n.dm, H, T*H, B)
	be.SoftmaxBackward(n.dS, n.P, n.dP, BT, T, sc)
	be.GemmBatched(false, false, T, H, T, 1, n.dS, T, T*T, n.m, H, T*H, 1, n.dm, H, T*H, B)
	be.GemmBatched(true, false, T, H, T, 1, n.dS, T, T*T, n.m, H, T*H, 1, n.dm, H, T*H, B)
	// m = LN(h₀)·(1 + s) + h.
	be.ModulateBackward(n.dn, n.dmod, n.dmod.View(H, n.dmod.Len()-H), n.dm, n.nrm, n.mod, B, T, H, 2*H, 1)
	be.Fill(n.dh0, 0)
	n.norm.Backward(n.dh0, n.dn, n.h0, n.mean, n.rstd, BT)
	// h₀ = embed(x) + pos.
	be.SumRows(n.pos.Grad, n.dh0, B, T*H)
	n.embed.Backward(nn.Tensor{}, n.dh0, n.x, BT)
	// (s, h) = ada(GELU(time1(e))).
	n.ada.Backward(n.dca, n.dmod, n.ca, B)
	be.ActivateBackward(nn.GELU, n.dc1, n.c1, n.dca)
	n.time1.Backward(nn.Tensor{}, n.dc1, n.emb, B)
}

// LinearSites returns the six Linear layers; flat is the output layer
// (OutGrad absent).
func (n *seqNet) LinearSites() []nn.LinearSite {
	B, T := n.rows, n.T
	BT := B * T
	v := func(t nn.Tensor, rows, cols int) nn.Tensor {
		if t.IsZero() {
			return t
		}
		return t.View(0, rows*cols)
	}
	return []nn.LinearSite{
		{Layer: n.time1, In: v(n.emb, B, n.E), OutGrad: v(n.dc1, B, n.H)},
		{Layer: n.ada, In: v(n.ca, B, n.H), OutGrad: v(n.dmod, B, 2*n.H)},
		{Layer: n.embed, In: v(n.x, BT, n.F), OutGrad: v(n.dh0, BT, n.H), Tokens: T},
		{Layer: n.fc1, In: v(n.h1, BT, n.H), OutGrad: v(n.du, BT, n.H2), Tokens: T},
		{Layer: n.fc2, In: v(n.a, BT, n.H2), OutGrad: v(n.dy, BT, n.F), Tokens: T},
		{Layer: n.flat, In: v(n.y, B, T*n.F)},
	}
}

// NormSites returns the LayerNorm over token rows.
func (n *seqNet) NormSites() []nn.NormSite {
	BT := n.rows * n.T
	if n.h0.IsZero() {
		return []nn.NormSite{{Layer: n.norm}}
	}
	return []nn.NormSite{{Layer: n.norm, X: n.h0.View(0, BT*n.H), Mean: n.mean.View(0, BT), Rstd: n.rstd.View(0, BT), OutGrad: n.dn.View(0, BT*n.H)}}
}

// ParamSites returns the position table, whose per-example gradient is
// the example's (T·H) block of dh₀.
func (n *seqNet) ParamSites() []nn.ParamSite {
	if n.dh0.IsZero() {
		return []nn.ParamSite{{Param: n.pos}}
	}
	return []nn.ParamSite{{Param: n.pos, OutGrad: n.dh0.View(0, n.rows*n.T*n.H)}}
}
