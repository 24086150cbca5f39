package nn

// LinearSite is one Linear layer with the rows of the last pass: In holds
// its input rows a_n (rows, layer.In), valid after Forward, and OutGrad its
// output-gradient rows δ_n (rows, layer.Out), valid after Backward. They are
// views of the network's buffers, overwritten by the next pass.
//
// In a sequence model (the DiT) a layer applied at every token of an
// example has Tokens > 1: In and OutGrad then hold rows·Tokens rows, the
// Tokens rows of example n consecutive, and example n's weight gradient is
// Σ_p δ_{n,p}ᵀ a_{n,p} over its tokens p, so that
// ⟨g_n, g_m⟩ = Σ_{p,q} (δ_{n,p}·δ_{m,q})(a_{n,p}·a_{m,q}).
type LinearSite struct {
	Layer   *Linear
	In      Tensor // a_n, (rows·Tokens, Layer.In)
	OutGrad Tensor // δ_n, (rows·Tokens, Layer.Out)
	// Tokens is the number of rows per example (0 means 1).
	Tokens int
}

// ParamSite is a parameter added to every example's activations (the
// DiT's learned position table), whose per-example gradient is example n's
// row of OutGrad, (rows, Param.Size): the gradient of the loss with
// respect to the sum it enters.
type ParamSite struct {
	Param   *Param
	OutGrad Tensor // per-example gradient rows, (rows, Param.Size)
}

// NormSite is one LayerNorm with the rows of the last pass: its input X
// (rows, Dim), row statistics Mean and Rstd (rows), and OutGrad, the
// gradient of its output (rows, Dim). Per example n the gradients of γ and β
// are OutGrad_n ⊙ x̂_n and OutGrad_n, with x̂_n = (X_n − Mean_n)·Rstd_n.
type NormSite struct {
	Layer      *LayerNorm
	X          Tensor // input rows, (rows, Dim)
	Mean, Rstd Tensor // row mean and 1/√(var + eps), (rows)
	OutGrad    Tensor // gradient of the output, (rows, Dim)
}
