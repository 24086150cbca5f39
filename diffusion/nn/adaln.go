package nn

// The adaLN-Zero pieces of a DiT block (Peebles & Xie 2023, §3.2): a
// Linear layer maps the conditioning SiLU(c) (B, W) of each example to
// k chunks of W factors, (B, k·W) with row stride k·W, and the tokens of
// each example are modulated by its own row:
//
//	modulate:  u = LN(h)·(1 + scale) + shift   (LN without affine, ε = 1e-6)
//	gate:      h ← h + gate ⊙ f(u)
//
// Both factors broadcast over the L tokens of an example (Backend.Modulate).

// adaLN holds what the modulation of one network shares: the sizes and the
// LayerNorm's fixed unit gain and zero shift, which are constants rather
// than parameters (DiT's LayerNorms have elementwise_affine=False), with
// scratch for the gradients Backend.LayerNormBackward forms for them.
type adaLN struct {
	be            Backend
	tokens, width int    // L and W
	ones, zeros   Tensor // (W): γ = 1 and β = 0
	dgamma, dbeta Tensor // (W): discarded gradients of the constants
}

// chunk returns chunk j of the rows rows of a (rows, k·W) modulation
// tensor mod, as the strided (rows, W) view Backend.Modulate reads.
func (a *adaLN) chunk(mod Tensor, k, j, rows int) Tensor {
	return mod.View(j*a.width, (rows-1)*k*a.width+a.width)
}

// normForward writes u = LN(x)·(1 + scale) + shift for the rows·L token
// rows of x, saving the normalised x̂ in ln and its row statistics in mean
// and rstd; scale and shift are chunks jScale and jShift of mod (rows, k·W).
func (a *adaLN) normForward(u, ln, mean, rstd, x, mod Tensor, k, jShift, jScale, rows int) {
	N, W := rows*a.tokens, a.width
	a.be.LayerNorm(ln, mean, rstd, x, a.ones, a.zeros, N, W, ditEps)
	a.be.Modulate(u, ln, a.chunk(mod, k, jScale, rows), a.chunk(mod, k, jShift, rows), rows, a.tokens, W, k*W, 1)
}

// normBackward is normForward's backward pass: from du, the gradient of u
// (overwritten: it becomes the gradient of x̂), it writes the gradients of
// scale and shift into their chunks of dmod and ACCUMULATES the gradient of
// x into dx (the residual trunk's gradient).
func (a *adaLN) normBackward(dx, du, ln, mean, rstd, x, mod, dmod Tensor, k, jShift, jScale, rows int) {
	N, W := rows*a.tokens, a.width
	a.be.ModulateBackward(du, a.chunk(dmod, k, jScale, rows), a.chunk(dmod, k, jShift, rows), du, ln, a.chunk(mod, k, jScale, rows),
		rows, a.tokens, W, k*W, 1)
	a.be.LayerNormBackward(dx, a.dgamma, a.dbeta, du, x, mean, rstd, a.ones, N, W)
}

// gateForward writes hOut = hIn + gate ⊙ f for the rows·L token rows, gate
// being chunk j of mod (rows, k·W).
func (a *adaLN) gateForward(hOut, hIn, f, mod Tensor, k, j, rows int) {
	N, W := rows*a.tokens, a.width
	a.be.Modulate(hOut, f, a.chunk(mod, k, j, rows), Tensor{}, rows, a.tokens, W, k*W, 0)
	a.be.Axpy(hOut.View(0, N*W), 1, hIn.View(0, N*W))
}

// gateBackward writes df = gate ⊙ dh and the gate's gradient Σ_p dh ⊙ f
// into its chunk of dmod; the residual passes dh to hIn unchanged.
func (a *adaLN) gateBackward(df, dh, f, mod, dmod Tensor, k, j, rows int) {
	a.be.ModulateBackward(df, a.chunk(dmod, k, j, rows), Tensor{}, dh, f, a.chunk(mod, k, j, rows), rows, a.tokens, a.width, k*a.width, 0)
}
