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
// and pfw start at the best vertex, O(K), which is faster overall in
// BenchmarkSolve (bench/RESULTS.md).
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
// Convergence (the tests, BenchmarkSolve and `paretodiff compare-solvers`;
// bench/RESULTS.md holds measured errors, times, iterations and supports):
// fw, afw, pfw, pgd, ugd and exact reach the optimum to rounding, within
// |f − f*| ≤ 1e-8·f* (1e-13·Scale() where f* ≈ 0), on the K ≤ 12 test
// problems (random, regularised, rank-deficient, duplicated, scaled by
// 1e±8, tasks spread over 1e±8; TestEveryMethodAgreesWithExact) and on
// K = 1000 l2-normalised random gradients in ℝ²⁰⁰ (TestLargeKMethodsAgree).
// fw-plain and ugd-plain, the literal algorithms, converge sublinearly and
// stop at their iteration caps above the optimum (fw-plain within its
// 2C_f/(t + 2) guarantee). At large K, fw's time is dominated by MGDA's
// O(K²) best-pair start. pgd and ugd are not affine invariant, so tasks
// whose squared norms differ by many orders of magnitude slow them: on the
// spread family ugd still meets the 1e-8 bar within its cap, pgd may stop
// at its cap above it (the tests leave pgd out there); use afw, pfw or
// exact there, or normalise the gradients.
package solvers
