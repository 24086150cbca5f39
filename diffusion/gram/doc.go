// Package gram forms the Gram matrix G_kl = ⟨g_k, g_l⟩ of the per-bin
// task-loss gradients g_k = ∇θ L_k of a diffusion model whose batch is
// grouped into K timestep bins, the input of the Pareto weighting problem
// (package pareto). L_k = (1/n_k)·Σ_{n∈k} u_n·mse_n is bin k's task loss,
// by default (u_n = 1 in x0 units) the unweighted x0-MSE of the model's x0
// prediction.
//
// Pass makes one forward and one backward pass over the batch and returns
// both the training gradient of any per-example coefficients c and the
// exact Gram, by the per-example ("ghost") identity of Linear layers,
//
//	⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} (δ_n·δ_m)·(a_n·a_m + 1),
//
// with a_n and δ_n a layer's input and output-gradient rows (see Pass),
// and over the token rows of a sequence model (a DiT): a layer applied at
// every token p of an example gives
//
//	⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} Σ_{p,q} (δ_{n,p}·δ_{m,q})·(a_{n,p}·a_{m,q} + 1),
//
// the same identity over the batch's B·T token rows (nn.LinearSite.Tokens),
// and a parameter added to every example (a learned position table,
// nn.ParamSite, through the optional ParamSiteNetwork) enters through its
// per-example gradient rows. Layer by layer, Pass takes these ghost
// products or materialises the bins' gradients, whichever costs less.
// BinGradients and BinGradientRows are the brute-force reference (one pass
// per bin); FromRows and Cosine turn gradient rows into a Gram matrix and
// a Gram matrix into cosines; GroupByBin orders a batch's rows by bin.
//
// The Gram of n_k examples per bin is exact for the batch but, as an
// estimate of the true gradients' Gram, its diagonal carries each bin's
// sampling noise, E Ĝ_kk = ‖g_k‖² + tr Σ_k/n_k (Estimator Plain).
// Pass.RunSplit (Estimator Split) makes the same one pass over the 2K
// halves of the bins (Halves) and forms, with SplitFromHalves, the
// unbiased split-half estimate ½(⟨ĝ_iA, ĝ_jB⟩ + ⟨ĝ_iB, ĝ_jA⟩), its
// nearest PSD matrix (ProjectPSD) and each bin's signal fraction, next to
// the plain Gram of the same batch.
//
// Invariants:
//   - A batch given to Pass.Run or BinGradients has its rows grouped by
//     bin, bins in order (GroupByBin and diffusion.DrawBins make them so);
//     bin k is the next counts[k] rows.
//   - A network's sites may have T rows per example (token rows; T may
//     differ between layers): example n is rows n·T … (n+1)·T − 1 of the
//     site, and bin k is its examples' token rows. A site whose rows do not
//     fit the batch makes Run return an error.
//   - Every Gram is K×K, row-major, exactly symmetric (G_kl and G_lk are
//     the same float64) and accumulated in float64; an empty bin has a zero
//     row and column and a NaN task loss.
//   - Pass.Run leaves in the network's gradient buffer the gradient of
//     Σ_n c_n·mse_n, bit for bit that of a plain diffusion.Objective.Loss
//     pass with the same coefficients; it agrees with the brute force to
//     float32 rounding (1e-5 of √(G_kk·G_ll) on the float32 CPU backend,
//     1e-6 on its float64 twin, tested).
//   - A SplitResult's Raw has expectation G (no noise term on the
//     diagonal) when each bin's examples are independent draws; its Gram
//     is PSD and equals Raw when Raw is PSD; its Plain is Pass.Run's Gram
//     of the same batch to rounding, and RunSplit leaves Pass.Run's
//     training gradient bit for bit. A non-empty bin needs ≥ 2 examples
//     for it (halves of ⌊n/2⌋ and ⌈n/2⌉).
//   - On the CPU backends every function is deterministic: the same inputs
//     give the same bits, whatever the number of threads (a golden test
//     pins Pass.Run's).
package gram
