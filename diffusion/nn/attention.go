package nn

import "math"

// Attention is multi-head scaled dot-product self-attention over the tokens
// of each example (Vaswani et al. 2017, Eq. 1), on a fused qkv buffer in
// timm's layout: row n of qkv (batch·Tokens, 3·Width) holds q, k and v of
// token n in its three Width-column chunks, and head h uses columns
// h·dh … (h+1)·dh of each chunk, dh = Width/Heads. For example b and head h,
//
//	A_bh = softmax(q_bh k_bhᵀ / √dh)    (Tokens, Tokens), row-wise
//	o_bh = A_bh v_bh                    (Tokens, dh)
//
// and the heads are concatenated, o being (batch·Tokens, Width). It has no
// parameters; the projections around it are Linear layers. Every product is
// one Backend.GemmBatched call per head over the batch, on strided views of
// the qkv buffer, so it runs unchanged on any backend.
type Attention struct {
	Tokens, Width, Heads int // L, W and H
	be                   Backend
}

// NewAttention returns the attention of heads heads over tokens tokens of
// width features (a multiple of heads).
func NewAttention(be Backend, tokens, width, heads int) *Attention {
	return &Attention{Tokens: tokens, Width: width, Heads: heads, be: be}
}

// ProbsLen returns the length of the attention weights of batch examples,
// (batch, Heads, Tokens, Tokens): the A_bh, example-major.
func (a *Attention) ProbsLen(batch int) int { return batch * a.Heads * a.Tokens * a.Tokens }

// scale is the softmax's 1/√dh.
func (a *Attention) scale() float32 { return float32(1 / math.Sqrt(float64(a.Width/a.Heads))) }

// Forward writes out (batch·Tokens, Width) from qkv (batch·Tokens, 3·Width)
// and saves the attention weights in probs (ProbsLen(batch)) for Backward.
func (a *Attention) Forward(out, probs, qkv Tensor, batch int) {
	L, W, H := a.Tokens, a.Width, a.Heads
	dh, LL := W/H, L*L
	qkv, probs, out = qkv.View(0, batch*L*3*W), probs.View(0, a.ProbsLen(batch)), out.View(0, batch*L*W)
	for h := 0; h < H; h++ {
		q, k := tail(qkv, h*dh), tail(qkv, W+h*dh)
		a.be.GemmBatched(false, true, L, L, dh, 1, q, 3*W, L*3*W, k, 3*W, L*3*W, 0, tail(probs, h*LL), L, H*LL, batch)
	}
	a.be.Softmax(probs, probs, batch*H*L, L, a.scale())
	for h := 0; h < H; h++ {
		v := tail(qkv, 2*W+h*dh)
		a.be.GemmBatched(false, false, L, dh, L, 1, tail(probs, h*LL), L, H*LL, v, 3*W, L*3*W, 0, tail(out, h*dh), W, L*W, batch)
	}
}

// Backward writes dqkv (batch·Tokens, 3·Width) from dout, the gradient of
// Forward's output, and the forward pass's qkv and probs; dprobs
// (ProbsLen(batch)) is scratch. With S = q kᵀ/√dh and A = softmax(S):
//
//	dv = Aᵀ do,   dA = do vᵀ,   dS = A ⊙ (dA − rowsum(dA ⊙ A))/√dh,
//	dq = dS k,    dk = dSᵀ q.
func (a *Attention) Backward(dqkv, dprobs, dout, qkv, probs Tensor, batch int) {
	L, W, H := a.Tokens, a.Width, a.Heads
	dh, LL := W/H, L*L
	qkv, dqkv, dout = qkv.View(0, batch*L*3*W), dqkv.View(0, batch*L*3*W), dout.View(0, batch*L*W)
	probs, dprobs = probs.View(0, a.ProbsLen(batch)), dprobs.View(0, a.ProbsLen(batch))
	for h := 0; h < H; h++ {
		v, do, p := tail(qkv, 2*W+h*dh), tail(dout, h*dh), tail(probs, h*LL)
		a.be.GemmBatched(false, true, L, L, dh, 1, do, W, L*W, v, 3*W, L*3*W, 0, tail(dprobs, h*LL), L, H*LL, batch)
		a.be.GemmBatched(true, false, L, dh, L, 1, p, L, H*LL, do, W, L*W, 0, tail(dqkv, 2*W+h*dh), 3*W, L*3*W, batch)
	}
	a.be.SoftmaxBackward(dprobs, probs, dprobs, batch*H*L, L, a.scale())
	for h := 0; h < H; h++ {
		q, k, ds := tail(qkv, h*dh), tail(qkv, W+h*dh), tail(dprobs, h*LL)
		a.be.GemmBatched(false, false, L, dh, L, 1, ds, L, H*LL, k, 3*W, L*3*W, 0, tail(dqkv, h*dh), 3*W, L*3*W, batch)
		a.be.GemmBatched(true, false, L, dh, L, 1, ds, L, H*LL, q, 3*W, L*3*W, 0, tail(dqkv, W+h*dh), 3*W, L*3*W, batch)
	}
}

// tail returns t from element off to its end.
func tail(t Tensor, off int) Tensor { return t.View(off, t.Len()-off) }
