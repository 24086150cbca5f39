package mtl

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/solvers"
)

// Defaults of Config.
const (
	// DefaultC is CAGrad's c, the radius of the ball around the mean
	// gradient in units of its norm (Liu et al. 2021 use c = 0.5 in most
	// experiments, the official code's default).
	DefaultC = 0.5
	// DefaultBeta is GradVac's EMA rate β of the target cosines
	// (Wang et al. 2021 use β = 0.01).
	DefaultBeta = 0.01
	// DefaultMaxIter caps the iterations of the iterative methods: Nash-MTL's
	// Newton steps, CAGrad's root finding on its multiplier and the active-set
	// steps of one projection onto the dual cone (UPGrad, DualProj).
	DefaultMaxIter = 200
	// DefaultTol is the relative tolerance of the iterative methods:
	// Nash-MTL stops when max_k |w_k (Gw)_k − 1| ≤ Tol, CAGrad's root finder
	// when |h(μ)| or its bracket is Tol times the bracket's upper end.
	DefaultTol = 1e-12
	// DefaultRankTol is the relative eigenvalue cut of the pseudo-inverses
	// and square roots (IMTL-G, Aligned-MTL): eigenvalues of G at most
	// RankTol·λ_max(G) count as 0, so duplicated and rank-deficient tasks
	// are handled on the range of G.
	DefaultRankTol = 1e-10
)

// Config holds every method's hyper-parameters. The zero value means the
// defaults; each method reads only its own fields.
type Config struct {
	// C is CAGrad's c > 0 (0 means DefaultC; c → 0 is the mean, the
	// method "mean").
	C float64
	// Seed fixes the random orders of projections of PCGrad and GradVac
	// (rand.NewPCG(Seed, ·)); each call draws the next orders.
	Seed uint64
	// Beta is GradVac's EMA rate β ∈ (0, 1] (0 means DefaultBeta).
	Beta float64
	// MaxIter caps the iterative methods (0 means DefaultMaxIter).
	MaxIter int
	// Tol is the iterative methods' relative tolerance (0 means DefaultTol).
	Tol float64
	// RankTol is the relative eigenvalue cut (0 means DefaultRankTol).
	RankTol float64
	// Solver holds the settings of the MGDA/Pareto solvers (package
	// solvers); nil means their defaults.
	Solver *solvers.Settings
}

// withDefaults fills the zero fields and checks the others.
func (c Config) withDefaults() (Config, error) {
	if c.C == 0 {
		c.C = DefaultC
	}
	if c.Beta == 0 {
		c.Beta = DefaultBeta
	}
	if c.MaxIter == 0 {
		c.MaxIter = DefaultMaxIter
	}
	if c.Tol == 0 {
		c.Tol = DefaultTol
	}
	if c.RankTol == 0 {
		c.RankTol = DefaultRankTol
	}
	switch {
	case !(c.C > 0) || math.IsInf(c.C, 0):
		return c, fmt.Errorf("mtl: c = %v must be finite and > 0", c.C)
	case !(c.Beta > 0) || c.Beta > 1:
		return c, fmt.Errorf("mtl: beta = %v must be in (0, 1]", c.Beta)
	case c.MaxIter < 0:
		return c, fmt.Errorf("mtl: max-iter = %d must be ≥ 1", c.MaxIter)
	case !(c.Tol > 0) || c.Tol >= 1:
		return c, fmt.Errorf("mtl: tol = %v must be in (0, 1)", c.Tol)
	case !(c.RankTol > 0) || c.RankTol >= 1:
		return c, fmt.Errorf("mtl: rank-tol = %v must be in (0, 1)", c.RankTol)
	}
	return c, nil
}

// OptionKeys are the keys Config.Set reads, in the order String writes them.
var OptionKeys = []string{"c", "seed", "beta", "max-iter", "tol", "rank-tol"}

// OptionsHelp describes the keys of Config.Set for command help.
const OptionsHelp = "c=X (cagrad, default 0.5), seed=N (pcgrad, gradvac order), beta=X (gradvac EMA, default 0.01), max-iter=N (200), tol=X (1e-12), rank-tol=X (1e-10)"

// Set sets the option key (one of OptionKeys) from its text.
func (c *Config) Set(key, val string) error {
	bad := func() error { return fmt.Errorf("mtl: %s=%s: want %s", key, val, OptionsHelp) }
	switch key {
	case "seed":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return bad()
		}
		c.Seed = n
		return nil
	case "max-iter":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return bad()
		}
		c.MaxIter = n
		return nil
	}
	dst := map[string]*float64{"c": &c.C, "beta": &c.Beta, "tol": &c.Tol, "rank-tol": &c.RankTol}[key]
	if dst == nil {
		return fmt.Errorf("mtl: unknown option %q (want %s)", key, strings.Join(OptionKeys, ", "))
	}
	v, err := strconv.ParseFloat(val, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return bad()
	}
	*dst = v
	if _, err := c.withDefaults(); err != nil {
		return err
	}
	return nil
}

// ParseOptions reads "key=value,key=value" (see OptionsHelp) into a
// Config; "" is the zero Config.
func ParseOptions(s string) (Config, error) {
	var c Config
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return c, fmt.Errorf("mtl: option %q is not key=value", f)
		}
		if err := c.Set(strings.TrimSpace(key), strings.TrimSpace(val)); err != nil {
			return c, err
		}
	}
	return c, nil
}

// String returns the options that differ from the zero Config as
// "key=value,…", which ParseOptions reads back (Solver is not written).
func (c Config) String() string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var parts []string
	vals := map[string]string{}
	if c.C != 0 {
		vals["c"] = g(c.C)
	}
	if c.Seed != 0 {
		vals["seed"] = strconv.FormatUint(c.Seed, 10)
	}
	if c.Beta != 0 {
		vals["beta"] = g(c.Beta)
	}
	if c.MaxIter != 0 {
		vals["max-iter"] = strconv.Itoa(c.MaxIter)
	}
	if c.Tol != 0 {
		vals["tol"] = g(c.Tol)
	}
	if c.RankTol != 0 {
		vals["rank-tol"] = g(c.RankTol)
	}
	for _, k := range OptionKeys {
		if v, ok := vals[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ",")
}

// Aggregators are the names of the Gram-based multi-task methods of this
// package, in the order of the comparisons.
var Aggregators = []string{"mean", "pcgrad", "cagrad", "imtl-g", "nash-mtl", "aligned-mtl", "upgrad", "dualproj", "gradvac"}

// Names returns every name New accepts: Aggregators, then the solvers of
// package solvers (fw, afw, pfw, pgd, ugd, exact, two-task, fw-plain,
// ugd-plain).
func Names() []string {
	out := append([]string(nil), Aggregators...)
	for _, m := range append(append([]solvers.Method(nil), solvers.Methods...), solvers.TwoTask) {
		out = append(out, m.String())
	}
	for _, m := range solvers.PlainMethods {
		out = append(out, m.String())
	}
	return out
}

// IsSolver reports whether name is one of package solvers' methods (whose
// weights are on the simplex and minimise Eq. 11).
func IsSolver(name string) bool {
	_, err := solvers.ParseMethod(name)
	return err == nil
}

// NamesHelp lists the names for command help.
const NamesHelp = "mean, pcgrad, cagrad, imtl-g, nash-mtl, aligned-mtl, upgrad, dualproj, gradvac, or a Pareto solver (fw, afw, pfw, pgd, ugd, exact, two-task, fw-plain, ugd-plain)"

// New returns the named method (see Names) with the configuration c. An
// unknown name or an invalid c is an error.
func New(name string, c Config) (Aggregator, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if m, err := solvers.ParseMethod(name); err == nil {
		return solverMethod{m: m, set: c.Solver}, nil
	}
	switch name {
	case "mean":
		return mean{}, nil
	case "pcgrad":
		return newPCGrad(c), nil
	case "cagrad":
		return cagrad{c: c}, nil
	case "imtl-g":
		return imtlG{c: c}, nil
	case "nash-mtl":
		return nashMTL{c: c}, nil
	case "aligned-mtl":
		return alignedMTL{c: c}, nil
	case "upgrad":
		return upgrad{c: c}, nil
	case "dualproj":
		return dualProj{c: c}, nil
	case "gradvac":
		return newGradVac(c), nil
	}
	return nil, fmt.Errorf("mtl: unknown method %q (want %s)", name, NamesHelp)
}

// Known reports whether New accepts name.
func Known(name string) bool { return slices.Contains(Names(), name) }
