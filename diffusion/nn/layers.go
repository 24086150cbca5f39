package nn

// Linear is the affine map y = x·Wᵀ + b (PyTorch's nn.Linear layout), with
// W (Out, In) and b (Out).
//
// Per-example gradients of a Linear layer factor: for one input row a_n and
// its output-gradient row δ_n, ∂L_n/∂W = δ_nᵀ a_n (an outer product) and
// ∂L_n/∂b = δ_n. Backward therefore needs nothing but the rows it is given,
// and a caller that keeps x and dy (see ResMLP.LinearSites) can form
// per-example or per-group gradient products afterwards without another
// backward pass, e.g. the "ghost" identity for the weight gradients
// g_k = Σ_{n∈k} δ_nᵀ a_n of two groups of rows,
// ⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} (δ_n·δ_m)(a_n·a_m), which package
// diffusion/gram uses to form per-bin Gram matrices.
type Linear struct {
	Name    string // parameter-name prefix, such as "block0.fc1"
	In, Out int    // input and output widths
	W, B    *Param // weight (Out, In) and bias (Out)
	be      Backend
}

// NewLinear registers a Linear layer's parameters "name.weight" (Out, In,
// with weight decay) and "name.bias" (Out), both initialised U(±1/√In) as
// PyTorch does.
func NewLinear(be Backend, ps *ParamSet, name string, in, out int) *Linear {
	return newLinear(be, ps, name, in, out, Uniform(linearBound(in)), Uniform(linearBound(in)))
}

// newLinear is NewLinear with the weight drawn from wInit and the bias from
// bInit.
func newLinear(be Backend, ps *ParamSet, name string, in, out int, wInit, bInit Init) *Linear {
	return &Linear{
		Name: name, In: in, Out: out, be: be,
		W: ps.Add(name+".weight", []int{out, in}, true, wInit),
		B: ps.Add(name+".bias", []int{out}, false, bInit),
	}
}

// Forward computes y = x·Wᵀ + b; x is (rows, In), y is (rows, Out).
func (l *Linear) Forward(y, x Tensor, rows int) {
	l.be.Gemm(false, true, rows, l.Out, l.In, 1, x, l.In, l.W.Value, l.In, 0, y, l.Out)
	l.be.AddBias(y, l.B.Value, rows, l.Out)
}

// Backward accumulates dW += dyᵀ·x and db += Σ_rows dy, and writes
// dx = dy·W unless dx is absent. x is the (rows, In) input of the forward
// pass, dy the (rows, Out) gradient of the output.
func (l *Linear) Backward(dx, dy, x Tensor, rows int) { l.backward(dx, dy, x, rows, 0) }

// backward is Backward with dx = dy·W + beta·dx: beta = 1 accumulates
// the input gradient (a DiT's conditioning vector feeds every adaLN layer).
func (l *Linear) backward(dx, dy, x Tensor, rows int, beta float32) {
	l.be.Gemm(true, false, l.Out, l.In, rows, 1, dy, l.Out, x, l.In, 1, l.W.Grad, l.In)
	l.be.SumRows(l.B.Grad, dy, rows, l.Out)
	if !dx.IsZero() {
		l.be.Gemm(false, false, rows, l.In, l.Out, 1, dy, l.Out, l.W.Value, l.In, beta, dx, l.In)
	}
}

// LayerNormEps is the ε added to the variance in every LayerNorm, PyTorch's
// default.
const LayerNormEps = 1e-5

// LayerNorm normalises each row of its (rows, Dim) input and applies the
// gain γ (Dim, initialised to 1) and shift β (Dim, initialised to 0); see
// Backend.LayerNorm for the formula.
type LayerNorm struct {
	Name        string // parameter-name prefix, such as "block0.norm"
	Dim         int    // row length
	Gamma, Beta *Param // gain γ and shift β, (Dim) each
	be          Backend
}

// NewLayerNorm registers "name.weight" (γ) and "name.bias" (β), without
// weight decay.
func NewLayerNorm(be Backend, ps *ParamSet, name string, dim int) *LayerNorm {
	return &LayerNorm{
		Name: name, Dim: dim, be: be,
		Gamma: ps.Add(name+".weight", []int{dim}, false, Const(1)),
		Beta:  ps.Add(name+".bias", []int{dim}, false, Const(0)),
	}
}

// Forward writes y (rows, Dim) and the row statistics mean and rstd (rows).
func (n *LayerNorm) Forward(y, mean, rstd, x Tensor, rows int) {
	n.be.LayerNorm(y, mean, rstd, x, n.Gamma.Value, n.Beta.Value, rows, n.Dim, LayerNormEps)
}

// Backward accumulates into dx (rows, Dim; absent to skip) and the
// parameter gradients, from the forward pass's x, mean and rstd.
func (n *LayerNorm) Backward(dx, dy, x, mean, rstd Tensor, rows int) {
	n.be.LayerNormBackward(dx, n.Gamma.Grad, n.Beta.Grad, dy, x, mean, rstd, n.Gamma.Value, rows, n.Dim)
}
