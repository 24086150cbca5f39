// Package pareto is the multi-objective (min-norm) weighting problem of the
// Min-SNR-γ paper (Hang et al., ICCV 2023, §3.3), after MGDA (Sener & Koltun
// 2018): tasks t = 1..K (timesteps or bins of timesteps) with gradients g_t,
// Gram matrix G_ij = ⟨g_i, g_j⟩, and
//
//	minimise f(w) = wᵀ(G + λI)w   over the simplex Δ = {w ≥ 0, Σ_t w_t = 1}   (Eq. 10, 11)
//
// whose minimiser gives the common descent direction δ* = −Σ_t w_t g_t
// (Eq. 9, Theorem 1). With λ = 0 the minimum is ‖Σ_t w_t g_t‖²; if it is 0 the
// tasks are Pareto stationary, otherwise δ* decreases every task to first
// order: ⟨δ*, g_t⟩ ≤ 0 for all t (Eq. 8). λ > 0 (Eq. 11) spreads the weights
// over more tasks.
//
// A Problem is built from a Gram matrix (NewFromGram) or from per-task
// gradients (NewFromGrads, which forms G in float64). It carries the
// certificates used by package solvers and by the analyses: the objective
// and its gradient ∇f(w) = 2(G + λI)w, the Frank-Wolfe duality gap
//
//	gap(w) = ⟨∇f(w), w − e_i⟩ = 2(f(w) − ((G + λI)w)_i),  i = argmin_t ((G + λI)w)_t,
//
// which bounds f(w) − f* from above, the KKT residual, the Eq. 8 check and
// the evaluation of an arbitrary weighting (the paper's Fig. 4).
//
// Gradient normalisers (MGDA): each task's gradient is divided by a scale
// s_t before the problem is formed — none: 1, l2: ‖g_t‖, loss: L_t,
// loss+: L_t·‖g_t‖ — so G_ij becomes G_ij/(s_i s_j). Weights returned by a
// solver belong to the normalised tasks; RawWeights converts them to weights
// on the original losses (w_t/s_t, renormalised).
//
// Invariants:
//   - a Problem is immutable after construction and safe for concurrent
//     readers; G is stored symmetric (the two triangles of the input are
//     averaged after the symmetry check), finite, with G_tt ≥ 0, and small
//     enough that (G + λI)w cannot overflow;
//   - G is the normalised Gram matrix: from gradients it is formed after the
//     rows are divided by s_t (so it is semidefinite up to rounding); a Gram
//     input is normalised and then checked to be semidefinite within
//     Options.PSDTol, so f(w) ≥ −PSDTol·trace(G) on the simplex;
//   - K ≥ 1, λ ≥ 0 and finite, every scale s_t > 0 and finite;
//   - methods that take a weight vector panic if its length is not K (a
//     programmer error); Evaluate and Normalize return errors for bad
//     weights (user data);
//   - a task whose gradient is exactly zero keeps scale 1 under the l2 and
//     loss+ normalisers (a zero gradient stays zero), instead of dividing by 0;
//   - all arithmetic is float64.
package pareto
