package pareto

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Normalizer selects how each task's gradient is scaled before the problem
// is formed (MGDA's gradient normalisers): g_t ← g_t / s_t.
type Normalizer int

const (
	// NormNone keeps the gradients: s_t = 1.
	NormNone Normalizer = iota
	// NormL2 divides by the gradient norm: s_t = ‖g_t‖.
	NormL2
	// NormLoss divides by the task loss: s_t = L_t (needs Options.Losses).
	NormLoss
	// NormLossPlus divides by loss times norm: s_t = L_t·‖g_t‖ (needs Options.Losses).
	NormLossPlus
)

// Normalizers lists the normalisers in their command-line spelling order.
var Normalizers = []Normalizer{NormNone, NormL2, NormLoss, NormLossPlus}

// String returns the command-line name: none, l2, loss or loss+.
func (n Normalizer) String() string {
	switch n {
	case NormNone:
		return "none"
	case NormL2:
		return "l2"
	case NormLoss:
		return "loss"
	case NormLossPlus:
		return "loss+"
	}
	return fmt.Sprintf("Normalizer(%d)", int(n))
}

// ParseNormalizer parses none, l2, loss or loss+.
func ParseNormalizer(s string) (Normalizer, error) {
	for _, n := range Normalizers {
		if s == n.String() {
			return n, nil
		}
	}
	return 0, fmt.Errorf("pareto: unknown normalizer %q (want none, l2, loss or loss+)", s)
}

// Default validation tolerances (see Options).
const (
	// DefaultSymTol is the default symmetry tolerance: |G_ij − G_ji| may be at
	// most 1e-6·√(G_ii·G_jj), room for a Gram accumulated in float32 by another
	// program, while a transposed or garbled matrix is still caught.
	DefaultSymTol = 1e-6
	// DefaultPSDTol is the default semidefiniteness tolerance: the smallest
	// eigenvalue of G may be as low as −1e-6·trace(G) (float32 rounding of a
	// rank-deficient Gram), no lower.
	DefaultPSDTol = 1e-6
	// DefaultMaxPSDCheck is the largest K for which the full semidefiniteness
	// test (a Cholesky factorisation, O(K³)) runs by default; above it only
	// the 2×2 minors are checked (O(K²)).
	DefaultMaxPSDCheck = 1024
)

// Config configures a Problem. The zero value means λ = 0, no
// normalisation and the default validation tolerances.
type Config struct {
	// Lambda is the regularisation λ ≥ 0 of Eq. 11: f(w) = wᵀ(G + λI)w.
	// It applies to the normalised Gram.
	Lambda float64
	// Normalizer scales the gradients before the Gram is formed.
	Normalizer Normalizer
	// Losses holds the K per-task losses L_t (finite, > 0), needed by
	// NormLoss and NormLossPlus and ignored otherwise.
	Losses []float64
	// SymTol is the relative symmetry tolerance of NewFromGram: an input
	// with |G_ij − G_ji| > SymTol·√(G_ii·G_jj) is rejected. 0 means
	// DefaultSymTol.
	SymTol float64
	// PSDTol is the semidefiniteness tolerance of NewFromGram: an input
	// whose smallest eigenvalue is below −PSDTol·trace(G) is rejected, as is
	// one with |G_ij| > (1 + PSDTol)·√(G_ii·G_jj) + PSDTol·trace(G)/K. 0 means
	// DefaultPSDTol.
	PSDTol float64
	// MaxPSDCheck is the largest K for which the eigenvalue test (a
	// Cholesky factorisation, O(K³); BenchmarkNewFromGramPSDCheck times it
	// at K = 1000, see bench/RESULTS.md) runs;
	// 0 means DefaultMaxPSDCheck and a negative value turns it off (the 2×2
	// minors are always checked).
	MaxPSDCheck int
}

// Problem is the min-norm weighting problem min_{w∈Δ} wᵀ(G + λI)w over K
// tasks, with G the (normalised) Gram matrix. Build it with NewFromGram or
// NewFromGrads; it is immutable.
type Problem struct {
	k      int
	g      []float64 // g is (K, K) row-major, symmetric: the normalised Gram
	lambda float64
	norm   Normalizer
	scales []float64  // scales is (K): s_t, the normaliser's divisor of task t
	grads  *mat.Dense // grads is (K, P), the normalised gradients; nil when built from a Gram
	maxDg  float64    // max_t G_tt (without λ)
}

// NewFromGram builds a problem from a K×K Gram matrix G_ij = ⟨g_i, g_j⟩
// (any gonum matrix; it is copied). G is checked: finite, square, K ≥ 1,
// symmetric within Options.SymTol, non-negative diagonal; the two triangles
// are averaged. The normaliser's gradient norms are ‖g_t‖ = √G_tt. The
// normalised matrix — the one the problem holds — must be positive
// semidefinite within Options.PSDTol.
func NewFromGram(G mat.Matrix, opts Config) (*Problem, error) {
	if G == nil {
		return nil, fmt.Errorf("pareto: Gram matrix is nil")
	}
	r, c := G.Dims()
	if r != c {
		return nil, fmt.Errorf("pareto: Gram matrix is %d×%d, not square", r, c)
	}
	k := r
	if err := checkCommon(k, opts); err != nil {
		return nil, err
	}
	g := make([]float64, k*k) // g is (K, K)
	for i := range k {
		for j := range k {
			v := G.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("pareto: Gram entry [%d,%d] is %v (values must be finite)", i, j, v)
			}
			g[i*k+j] = v
		}
	}
	norms := make([]float64, k) // norms is (K): ‖g_t‖
	for i := range k {
		d := g[i*k+i]
		if d < 0 {
			return nil, fmt.Errorf("pareto: Gram diagonal [%d,%d] = %g is negative (it is a squared norm)", i, i, d)
		}
		norms[i] = math.Sqrt(d)
	}
	symTol := opts.SymTol
	if symTol == 0 {
		symTol = DefaultSymTol
	}
	for i := range k {
		for j := i + 1; j < k; j++ {
			a, b := g[i*k+j], g[j*k+i]
			bound := norms[i] * norms[j]
			if math.Abs(a-b) > symTol*bound {
				return nil, fmt.Errorf("pareto: Gram matrix is not symmetric: [%d,%d] = %g but [%d,%d] = %g (allowed difference %.3g·√(G_ii·G_jj) = %.3g)",
					i, j, a, j, i, b, symTol, symTol*bound)
			}
			m := a/2 + b/2
			g[i*k+j], g[j*k+i] = m, m
		}
	}
	scales, err := taskScales(norms, opts)
	if err != nil {
		return nil, err
	}
	if opts.Normalizer != NormNone {
		for i := range k {
			for j := range k {
				g[i*k+j] = g[i*k+j] / scales[i] / scales[j]
			}
		}
	}
	if err := checkPSD(k, g, opts); err != nil {
		return nil, err
	}
	return newProblem(k, g, nil, scales, opts)
}

// checkPSD rejects a Gram matrix that is clearly not positive semidefinite.
func checkPSD(k int, g []float64, opts Config) error {
	what := "Gram matrix"
	if opts.Normalizer != NormNone {
		what = "normalised Gram matrix (" + opts.Normalizer.String() + ")"
	}
	psdTol := opts.PSDTol
	if psdTol == 0 {
		psdTol = DefaultPSDTol
	}
	trace := 0.0
	for i := range k {
		trace += g[i*k+i]
	}
	for i := range k {
		for j := i + 1; j < k; j++ {
			bound := math.Sqrt(g[i*k+i]) * math.Sqrt(g[j*k+j])
			if m := math.Abs(g[i*k+j]); m > (1+psdTol)*bound+psdTol*trace/float64(k) {
				return fmt.Errorf("pareto: %s is not positive semidefinite: |G[%d,%d]| = %g exceeds √(G[%d,%d]·G[%d,%d]) = %g (Cauchy-Schwarz)",
					what, i, j, m, i, i, j, j, bound)
			}
		}
	}
	maxCheck := opts.MaxPSDCheck
	if maxCheck == 0 {
		maxCheck = DefaultMaxPSDCheck
	}
	if k > maxCheck || k < 2 || !(trace > 0) {
		return nil
	}
	// G + τI is positive definite iff λ_min(G) > −τ.
	tau := psdTol * trace
	sym := mat.NewSymDense(k, nil)
	for i := range k {
		for j := i; j < k; j++ {
			sym.SetSym(i, j, g[i*k+j])
		}
		sym.SetSym(i, i, g[i*k+i]+tau)
	}
	var chol mat.Cholesky
	if !chol.Factorize(sym) {
		return fmt.Errorf("pareto: %s is not positive semidefinite: smallest eigenvalue %.4g < −%.3g·trace = %.4g",
			what, minEigen(sym, tau), psdTol, -tau)
	}
	return nil
}

// maxEntry is the largest Gram entry and λ allowed for K tasks.
func maxEntry(k int) float64 { return math.MaxFloat64 / 16 / float64(k) / float64(k) }

// minEigen returns the smallest eigenvalue of sym − τI, for error
// messages only: NaN if it cannot be computed. The matrix is scaled to unit
// trace first, and a panic inside LAPACK on extreme values (seen with
// subnormal entries) is turned into NaN.
func minEigen(sym *mat.SymDense, tau float64) (ev float64) {
	defer func() {
		if recover() != nil {
			ev = math.NaN()
		}
	}()
	tr := mat.Trace(sym)
	if !(tr > 0) || math.IsInf(tr, 0) {
		return math.NaN()
	}
	var scaled mat.SymDense
	scaled.ScaleSym(1/tr, sym)
	var es mat.EigenSym
	if !es.Factorize(&scaled, false) {
		return math.NaN()
	}
	return es.Values(nil)[0]*tr - tau
}

// NewFromGrads builds a problem from per-task gradients, one task per row
// (K×P, any gonum matrix; it is copied). Each row is divided by the
// normaliser's scale first, and G = grads·gradsᵀ is then formed in float64,
// so the Gram matrix is semidefinite up to rounding. The normalised
// gradients are kept, so Direction and Descent use the vectors themselves.
func NewFromGrads(grads mat.Matrix, opts Config) (*Problem, error) {
	if grads == nil {
		return nil, fmt.Errorf("pareto: gradient matrix is nil")
	}
	k, p := grads.Dims()
	if err := checkCommon(k, opts); err != nil {
		return nil, err
	}
	if p < 1 {
		return nil, fmt.Errorf("pareto: gradients have %d columns; need at least one parameter", p)
	}
	a := mat.NewDense(k, p, nil) // a is (K, P)
	norms := make([]float64, k)  // norms is (K): ‖g_t‖
	for i := range k {
		row := a.RawRowView(i)
		for j := range p {
			v := grads.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("pareto: gradient entry [%d,%d] (task %d, parameter %d) is %v (values must be finite)", i, j, i, j, v)
			}
			row[j] = v
		}
		norms[i] = floats.Norm(row, 2)
		if math.IsInf(norms[i], 0) || math.IsInf(norms[i]*norms[i], 0) {
			return nil, fmt.Errorf("pareto: squared norm of gradient %d overflows float64", i)
		}
	}
	scales, err := taskScales(norms, opts)
	if err != nil {
		return nil, err
	}
	if opts.Normalizer != NormNone {
		for i := range k {
			floats.Scale(1/scales[i], a.RawRowView(i))
		}
	}
	var sym mat.SymDense
	sym.SymOuterK(1, a)
	g := make([]float64, k*k) // g is (K, K)
	for i := range k {
		for j := range k {
			g[i*k+j] = sym.At(i, j)
		}
	}
	return newProblem(k, g, a, scales, opts)
}

// checkCommon validates what both constructors share.
func checkCommon(k int, opts Config) error {
	if k < 1 {
		return fmt.Errorf("pareto: need at least one task, got K = %d", k)
	}
	if math.IsNaN(opts.Lambda) || math.IsInf(opts.Lambda, 0) || opts.Lambda < 0 {
		return fmt.Errorf("pareto: λ = %v must be finite and ≥ 0", opts.Lambda)
	}
	if opts.SymTol < 0 || math.IsNaN(opts.SymTol) || opts.PSDTol < 0 || math.IsNaN(opts.PSDTol) {
		return fmt.Errorf("pareto: tolerances must be ≥ 0 (SymTol %v, PSDTol %v)", opts.SymTol, opts.PSDTol)
	}
	switch opts.Normalizer {
	case NormNone, NormL2:
	case NormLoss, NormLossPlus:
		if opts.Losses == nil {
			return fmt.Errorf("pareto: normalizer %s needs the per-task losses", opts.Normalizer)
		}
		if len(opts.Losses) != k {
			return fmt.Errorf("pareto: normalizer %s: got %d losses for %d tasks", opts.Normalizer, len(opts.Losses), k)
		}
		for t, l := range opts.Losses {
			if !(l > 0) || math.IsInf(l, 0) {
				return fmt.Errorf("pareto: normalizer %s: loss of task %d is %v; losses must be finite and > 0", opts.Normalizer, t, l)
			}
		}
	default:
		return fmt.Errorf("pareto: unknown normalizer %d", int(opts.Normalizer))
	}
	return nil
}

// taskScales returns the normaliser's divisors s_t from the gradient norms.
func taskScales(norms []float64, opts Config) ([]float64, error) {
	scales := make([]float64, len(norms))
	for t, norm := range norms {
		s := 1.0
		switch opts.Normalizer {
		case NormL2:
			if norm > 0 {
				s = norm
			}
		case NormLoss:
			s = opts.Losses[t]
		case NormLossPlus:
			if norm > 0 {
				s = opts.Losses[t] * norm
			}
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("pareto: normalizer %s: scale of task %d is %v", opts.Normalizer, t, s)
		}
		scales[t] = s
	}
	return scales, nil
}

// newProblem checks the normalised Gram g for overflow and wraps it.
func newProblem(k int, g []float64, grads *mat.Dense, scales []float64, opts Config) (*Problem, error) {
	maxDg := 0.0
	for i, v := range g {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("pareto: normalizer %s produced a non-finite Gram entry [%d,%d]", opts.Normalizer, i/k, i%k)
		}
	}
	for t := range k {
		maxDg = math.Max(maxDg, g[t*k+t])
	}
	// (G + λI)w and wᵀ(G + λI)w must not overflow for any w ∈ Δ.
	if limit := maxEntry(k); maxDg > limit || opts.Lambda > limit {
		return nil, fmt.Errorf("pareto: Gram diagonal up to %g and λ = %g exceed %g, where sums of K = %d terms could overflow float64; rescale the gradients",
			maxDg, opts.Lambda, limit, k)
	}
	return &Problem{k: k, g: g, lambda: opts.Lambda, norm: opts.Normalizer, scales: scales, grads: grads, maxDg: maxDg}, nil
}

// K returns the number of tasks.
func (p *Problem) K() int { return p.k }

// Lambda returns the regularisation λ of Eq. 11.
func (p *Problem) Lambda() float64 { return p.lambda }

// Normalizer returns the normaliser the problem was built with.
func (p *Problem) Normalizer() Normalizer { return p.norm }

// HasGrads reports whether the problem keeps the gradient vectors (built by
// NewFromGrads).
func (p *Problem) HasGrads() bool { return p.grads != nil }

// WithLambda returns the same problem with another λ ≥ 0; the Gram matrix
// is shared, not copied.
func (p *Problem) WithLambda(lambda float64) (*Problem, error) {
	if math.IsNaN(lambda) || math.IsInf(lambda, 0) || lambda < 0 {
		return nil, fmt.Errorf("pareto: λ = %v must be finite and ≥ 0", lambda)
	}
	if lambda > maxEntry(p.k) {
		return nil, fmt.Errorf("pareto: λ = %g exceeds %g, where sums could overflow float64", lambda, maxEntry(p.k))
	}
	q := *p
	q.lambda = lambda
	return &q, nil
}

// Row returns row i of the normalised Gram matrix G (without λ), K values.
// The slice is shared with the problem: do not modify it. Solvers use it to
// update (G + λI)w in O(K) when one weight changes.
func (p *Problem) Row(i int) []float64 { return p.g[i*p.k : (i+1)*p.k : (i+1)*p.k] }

// At returns the normalised Gram entry G_ij (without λ).
func (p *Problem) At(i, j int) float64 { return p.g[i*p.k+j] }

// Gram returns a copy of the normalised Gram matrix G (without λ).
func (p *Problem) Gram() *mat.SymDense {
	s := mat.NewSymDense(p.k, nil)
	for i := range p.k {
		for j := i; j < p.k; j++ {
			s.SetSym(i, j, p.g[i*p.k+j])
		}
	}
	return s
}

// Scale returns max_t (G_tt + λ), the largest objective value at a vertex
// of the simplex: f(w) ≤ Scale() for every w ∈ Δ. Solvers measure absolute
// tolerances in this unit, which makes them invariant to scaling G.
func (p *Problem) Scale() float64 { return p.maxDg + p.lambda }

// Scales returns a copy of the normaliser's divisors s_t (all 1 for
// NormNone).
func (p *Problem) Scales() []float64 { return append([]float64(nil), p.scales...) }

// String summarises the problem, e.g. "K=10 λ=0 normalizer=l2".
func (p *Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "K=%d λ=%g normalizer=%s", p.k, p.lambda, p.norm)
	if p.grads != nil {
		_, c := p.grads.Dims()
		fmt.Fprintf(&b, " P=%d", c)
	}
	return b.String()
}
