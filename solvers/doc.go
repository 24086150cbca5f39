// Package solvers minimises the Pareto weighting problem of package pareto,
//
//	min_{w∈Δ} f(w) = wᵀHw,  H = G + λI,  Δ = {w ≥ 0, Σ_t w_t = 1}
//
// (Hang et al., ICCV 2023, Eq. 10–13; MGDA, Sener & Koltun 2018), in the
// shape of gonum/optimize: Solve(problem, method, *Settings) returns a
// Result{W, F, Gap, Iterations, Status, Elapsed, Trace}, Settings' zero value
// means documented defaults, and reaching a cap is a Status, not an error.
//
// Methods:
//
//	fw        Frank-Wolfe as in MGDA (best-pair closed-form start, exact line search, O(K)/iteration)
//	          with a corrective step on the support (a KKT solve, amortised)
//	afw       away-step Frank-Wolfe, linear convergence, O(K)/iteration
//	pfw       pairwise Frank-Wolfe, linear convergence, O(K)/iteration
//	pgd       projected gradient (sort-based simplex projection, Barzilai-Borwein steps), O(K²)/iteration
//	ugd       the paper's softmax parameterisation (Eq. 12) along the natural gradient, O(K²)/trial step
//	exact     Wolfe's minimum-norm-point active-set method, KKT-exact; the reference for small K
//	two-task  the closed form for K = 2
//	fw-plain  MGDA's Frank-Wolfe as published, no corrective step (reference)
//	ugd-plain the paper's Eq. 13 gradient taken literally (reference)
//
// fw and ugd are not the literal algorithms, and why. MGDA's Frank-Wolfe
// zigzags between the vertices it already has when the optimum lies on a
// proper face of the simplex (Wolfe 1970; the usual case at λ = 0) and
// converges as O(1/t). fw keeps MGDA's iterations and adds, once the
// Frank-Wolfe vertex is already in the support, a step toward the
// minimiser of f on the affine hull of the support (the bordered KKT
// system, von Hohenbalken/Holloway's fully corrective step, clipped to
// the simplex, accepted only if f decreases), which lands on the optimum
// once the support holds the optimal face. Eq. 13's gradient,
// ∇_β f = w ⊙ (∇f − ⟨w, ∇f⟩), is proportional to each task's weight, so
// weights that should be 0 only shrink like 1/t, and a task whose weight
// has collapsed cannot come back. ugd keeps the softmax parameterisation
// and preconditions Eq. 13's gradient by diag(1/w), the inverse Fisher
// metric of the softmax: Δβ = −η(∇f − ⟨w, ∇f⟩), exponentiated gradient
// (entropic mirror descent) written in logits, with a Barzilai-Borwein
// step in that metric, never below the mirror-descent bound 1/L
// (L = 2·max|H_ij|), Armijo backtracking, and logits floored 60 below the
// largest (weight flushed to 0, logit still free to rise). fw-plain and
// ugd-plain keep the literal algorithms for comparison.
//
// The Frank-Wolfe variants keep v = Hw up to date with one or two columns of
// H per iteration, recomputing it from w every max(K, 32) iterations and
// before they claim convergence. fw's best-pair start costs O(K²) once; afw
// and pfw start at the best vertex, O(K), which measured faster overall.
//
// Stopping rule, shared by every method: the Frank-Wolfe duality gap
//
//	gap(w) = 2(wᵀHw − min_t (Hw)_t) ≥ f(w) − f*
//
// falls to Tol·f(w) (relative, default 1e-10) or to AbsTol·Scale() (absolute
// in units of max_t H_tt, default 1e-15, which ends runs on
// Pareto-stationary problems where f* = 0). Both are invariant to scaling G,
// so at λ = 0 the weights do not depend on the units of the gradients.
//
// Invariants:
//   - Result.W is on the simplex (finite, ≥ 0, sums to 1 within rounding)
//     whatever the status; F and Gap are recomputed from W at the end, so
//     the certificate F − f* ≤ Gap holds for the returned point;
//   - Iterations ≤ MaxIter always (the MGDA reference code never enforces
//     its cap); exact counts minor cycles, fw each corrective KKT solve;
//   - runs are deterministic: the same problem and settings give the same
//     bits;
//   - Solve returns an error only for invalid settings or an unknown method;
//     a nil problem is a programmer error (panic).
//
// Convergence, measured (see the tests, BenchmarkSolve and `paretodiff
// compare-solvers`): fw, afw, pfw, pgd, ugd and exact reach the optimum to
// rounding. On the K ≤ 12 test problems (random, regularised,
// rank-deficient, duplicated, scaled by 1e±8, tasks spread over 1e±8) the
// worst relative error is 1e-13 for fw and 6e-12 for ugd (spread family),
// against 1.1e-3 for fw-plain (within its 2C_f/(t + 2) guarantee) and
// 2.1e-5 for ugd-plain at their caps. On K = 1000 l2-normalised random
// gradients in ℝ²⁰⁰ (one core, shared machine, best of 3, relative gap
// 1e-10), at λ = 0 / 0.1 / 1: pfw 4 / 2.7 / 2.5 ms, afw 7.6 / 4.5 / 4.6 ms,
// fw 9.9 / 6.8 / 9.5 ms (241 / 187 / 478 iterations), exact 7.9 / 7.1 / 52
// ms, pgd 19 / 14 / 9 ms, ugd 122 / 54 / 105 ms (1008 / 421 / 652
// iterations), supports 68 / 76 / 152 tasks; in the same runs fw-plain
// stopped at its 10⁵-iteration cap 7e-5 / 7e-5 / 1.5e-6 above the optimum
// after 0.39 / 0.26 / 0.25 s, and ugd-plain (one run each) at its 2·10⁴
// cap 8e-4 / 4e-4 / 1e-5 above after 14–16 s. In BenchmarkSolve at K = 10⁴ (absolute gap
// 1e-9) fw takes 0.9 s, dominated by MGDA's O(K²) best-pair start, against
// 58 ms for pfw, 29 ms for exact and about 5 s for ugd and pgd. pgd and
// ugd are not affine invariant, so tasks whose squared norms differ by
// many orders of magnitude slow them (ugd still meets 1e-8 on the spread
// family within 7000 iterations; pgd stops at its cap up to 2e-4 above);
// use afw, pfw or exact there, or normalise the gradients.
package solvers
