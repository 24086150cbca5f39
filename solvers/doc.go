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
//	fw        Frank-Wolfe as in MGDA: best-pair closed-form start, exact line search, O(K)/iteration
//	afw       away-step Frank-Wolfe, linear convergence, O(K)/iteration
//	pfw       pairwise Frank-Wolfe, linear convergence, O(K)/iteration
//	pgd       projected gradient (sort-based simplex projection, Barzilai-Borwein steps), O(K²)/iteration
//	ugd       the paper's gradient descent on softmax logits (Eq. 12–13), O(K²)/trial step
//	exact     Wolfe's minimum-norm-point active-set method, KKT-exact; the reference for small K
//	two-task  the closed form for K = 2
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
//     its cap); exact counts minor cycles;
//   - runs are deterministic: the same problem and settings give the same
//     bits;
//   - Solve returns an error only for invalid settings or an unknown method;
//     a nil problem is a programmer error (panic).
//
// Convergence, measured (see the tests and BenchmarkSolve): afw, pfw, exact
// and pgd reach the optimum to rounding (relative error ~1e-15). fw and ugd
// are sublinear when the optimum lies on a proper face of the simplex, the
// usual case at λ = 0 — Frank-Wolfe zigzags (Wolfe 1970), and softmax
// weights off the support only shrink like 1/t — and stop at their caps
// above it: on the K ≤ 12 test problems by up to 1e-3 (fw, within its
// O(1/t) guarantee) and 2e-5 (ugd) relative, on a K = 1000 problem by 7e-5
// and 8e-4. Both converge linearly when the optimum has full support. pgd
// and ugd are not affine invariant and crawl when the tasks' squared norms
// differ by many orders of magnitude; use afw, pfw or exact there, or
// normalise the gradients.
package solvers
