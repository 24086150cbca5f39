package conflict

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
)

// onlineUsage and onlineHelp describe the specs ParseOnline reads; the
// weighting registry lists them in every command's help.
const (
	onlineUsage = "pareto:METHOD[,lambda=λ][,bins=K|t:K|logsnr:K|edges:…][,every=N][,norm=none|l2|loss|loss+][,tol=ε][,params=SUBSET]"
	onlineHelp  = `the paper's optimisation-based baseline: every N steps (default 1)
solve the Pareto weights of K timestep bins (default 8, equal
width in t) on the step's own batch with METHOD (fw or ugd, or
afw, pfw, pgd, exact, fw-plain, ugd-plain, two-task), λ of Eq. 11
(default 0) and relative
duality-gap tolerance ε (default 1e-4), and weight each bin's
x0-MSE by them; e.g. pareto:ugd,lambda=0.1,bins=8`
	mtlUsage = "mtl:NAME[,bins=K|t:K|logsnr:K|edges:…][,every=N][,norm=none|l2|loss|loss+][,params=SUBSET][,c=X][,seed=N][,beta=X][,max-iter=N][,tol=X][,rank-tol=X]"
	mtlHelp  = `a Gram-based multi-task aggregator as the weighting, computed as
pareto: is (same bins, every, norm, params): NAME is pcgrad,
cagrad (c, default 0.5), imtl-g, nash-mtl, aligned-mtl, upgrad,
dualproj, gradvac (beta, default 0.01) or mean (package mtl);
its weights, rescaled to sum 1, weigh each bin's x0-MSE;
e.g. mtl:upgrad,bins=8 or mtl:cagrad,c=0.4,every=4`
)

// Online families of the weighting registry.
const (
	// FamilyPareto is the online Pareto weighting (package solvers).
	FamilyPareto = "pareto"
	// FamilyMTL is an online multi-task aggregator (package mtl).
	FamilyMTL = "mtl"
)

// The online weightings are families of the weighting registry, so
// weighting.Parse reads "pareto:…" and "mtl:…" wherever this package is
// linked in.
func init() {
	parse := func(spec, _ string, _ bool) (weighting.Weighting, error) { return ParseOnline(spec) }
	weighting.Register(weighting.Family{Name: FamilyPareto, Usage: onlineUsage, Help: onlineHelp, Online: true, Parse: parse})
	weighting.Register(weighting.Family{Name: FamilyMTL, Usage: mtlUsage, Help: mtlHelp, Online: true, Parse: parse})
}

// DefaultOnlineTol is the default relative duality-gap tolerance of an
// online solve (solvers.Settings.Tol): f(w) − f* ≤ 1e-4·f(w) is far below
// the noise of one batch's Gram, so solving further only costs time every
// step (the Grams of the x0 loss are ill-conditioned: per-bin norms span
// several decades).
const DefaultOnlineTol = 1e-4

// DefaultOnlineBins is the number of equal-width bins of an online
// weighting when the spec names none.
const DefaultOnlineBins = 8

// OnlineConfig is an online weighting as a spec says it — the Pareto
// weights of a solver ("pareto:…") or a multi-task aggregator ("mtl:…") —
// a weighting.Weighting that the trainer starts (diffusion.OnlineWeighting),
// which then solves and applies the weights (Online). Its bins are a spec,
// applied to the schedule of the run it starts on.
type OnlineConfig struct {
	// Family is FamilyPareto ("" means it) or FamilyMTL.
	Family string
	// Bins are the tasks, as a spec (default t:8).
	Bins weighting.BinsSpec
	// Method is the solver (as solvers.ParseMethod reads it) of the pareto
	// family or the aggregator (one of mtl.Aggregators) of the mtl family;
	// Lambda and Normalizer are as in SolveConfig (Lambda: pareto only).
	Method     string
	Lambda     float64
	Normalizer pareto.Normalizer
	// Every is how often, in steps, the weights are solved again (default
	// 1: every step); in between the last weights are kept.
	Every int
	// Tol is the pareto family's relative duality-gap tolerance (0:
	// DefaultOnlineTol).
	Tol float64
	// Params is the parameter subset of the Gram (see ParamsHelp; default
	// all).
	Params string
	// Options are the mtl family's hyper-parameters (mtl.Config; zero: the
	// defaults).
	Options mtl.Config
}

// family returns the config's family, FamilyPareto when unset.
func (c OnlineConfig) family() string {
	if c.Family == "" {
		return FamilyPareto
	}
	return c.Family
}

// ParseOnline reads an online weighting spec, "pareto:…" or "mtl:…" (see
// the families' help). Options not given take their defaults: 8 bins of
// equal width in t, λ = 0, every step, no normalisation, all parameters,
// the aggregator's default hyper-parameters.
func ParseOnline(spec string) (OnlineConfig, error) {
	bad := func(format string, a ...any) (OnlineConfig, error) {
		return OnlineConfig{}, fmt.Errorf("conflict: weighting %q: "+format, append([]any{spec}, a...)...)
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(spec), ":")
	if name != FamilyPareto && name != FamilyMTL {
		return bad("not a pareto:METHOD or mtl:NAME spec")
	}
	fields := strings.Split(rest, ",")
	c := OnlineConfig{Family: name, Method: strings.TrimSpace(fields[0]), Every: 1, Tol: DefaultOnlineTol, Params: "all",
		Bins: weighting.BinsSpec{Kind: "t", K: DefaultOnlineBins}}
	if err := c.checkMethod(); err != nil {
		return bad("%v", err)
	}
	for _, f := range fields[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return bad("option %q is not key=value", f)
		}
		if err := c.set(key, val); err != nil {
			return bad("%v", err)
		}
	}
	if c.Bins.K < 2 {
		return bad("bins=%s: the online weighting needs at least 2 bins", c.Bins)
	}
	if err := checkMethodsFor([]string{c.Method}, c.Bins.K); err != nil {
		return bad("%v", err)
	}
	return c, nil
}

// checkMethod checks that the method belongs to the family.
func (c OnlineConfig) checkMethod() error {
	if c.family() == FamilyMTL {
		if !slices.Contains(mtl.Aggregators, c.Method) {
			return fmt.Errorf("name an aggregator (%s), as in mtl:upgrad; the solvers are pareto:METHOD", strings.Join(mtl.Aggregators, ", "))
		}
		return nil
	}
	if c.Method == "" {
		return errors.New("name a solver, as in pareto:fw or pareto:ugd")
	}
	if _, err := solvers.ParseMethod(c.Method); err != nil {
		return fmt.Errorf("conflict: %w", err)
	}
	return nil
}

// set reads one key=value option of the spec.
func (c *OnlineConfig) set(key, val string) error {
	switch {
	case key == "bins":
		if _, err := strconv.Atoi(val); err == nil {
			val = "t:" + val // bins=K: equal width in t
		}
		b, err := weighting.ParseBinsSpec(val)
		if err != nil {
			return err
		}
		c.Bins = b
	case key == "every":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return fmt.Errorf("every=%s: want an integer ≥ 1", val)
		}
		c.Every = n
	case key == "norm":
		n, err := pareto.ParseNormalizer(val)
		if err != nil {
			return err
		}
		c.Normalizer = n
	case key == "params":
		c.Params = val
	case c.family() == FamilyMTL:
		if !slices.Contains(mtl.OptionKeys, key) {
			return fmt.Errorf("unknown option %q (want bins, every, norm, params or %s)", key, strings.Join(mtl.OptionKeys, ", "))
		}
		return c.Options.Set(key, val)
	case key == "lambda":
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("lambda=%s: want a finite number ≥ 0", val)
		}
		c.Lambda = v
	case key == "tol":
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("tol=%s: want a finite number > 0", val)
		}
		c.Tol = v
	default:
		return fmt.Errorf("unknown option %q (want lambda, bins, every, norm, tol or params)", key)
	}
	return nil
}

// String returns the canonical spec, which ParseOnline reads back.
func (c OnlineConfig) String() string {
	var s string
	if c.family() == FamilyMTL {
		s = fmt.Sprintf("mtl:%s,bins=%s,every=%d,norm=%s", c.Method, c.Bins, c.Every, c.Normalizer)
		if o := c.Options.String(); o != "" {
			s += "," + o
		}
	} else {
		tol := c.Tol
		if tol == 0 {
			tol = DefaultOnlineTol
		}
		s = fmt.Sprintf("pareto:%s,lambda=%s,bins=%s,every=%d,norm=%s,tol=%s", c.Method, strconv.FormatFloat(c.Lambda, 'g', -1, 64), c.Bins, c.Every, c.Normalizer, strconv.FormatFloat(tol, 'g', -1, 64))
	}
	if c.Params != "" && c.Params != "all" {
		s += ",params=" + c.Params
	}
	return s
}

// DefaultDensity is the timestep density a run with this weighting draws
// when none is asked for: for K bins of equal width in t,
// "stratified:K" (weighting.Stratified{T, K} gives every bin the same
// number of examples per batch); otherwise "" (no preference: uniform).
func (c OnlineConfig) DefaultDensity() string {
	if c.Bins.Kind == "t" {
		return weighting.Stratified{K: c.Bins.K}.String()
	}
	return ""
}

// Start binds a new Online weighting of this configuration to the trainer
// (diffusion.OnlineWeighting): it resolves the bins on the trainer's
// schedule and prepares the Gram pass over the selected parameters.
func (c OnlineConfig) Start(tr *diffusion.Trainer) (diffusion.StepPass, error) {
	o, err := NewOnline(c)
	if err != nil {
		return nil, err
	}
	if err := o.bind(tr); err != nil {
		return nil, err
	}
	return o, nil
}

// Online is online Pareto weighting, the paper's optimisation-based
// baseline (§3.3), or an online multi-task aggregator (the mtl family), as
// a training weighting. Every Every steps, on the step's own batch, it
// groups the examples by bin, computes the exact K×K Gram of the bins'
// task-loss gradients g_k = ∇L_k with one forward and backward pass
// (gram.Pass; L_k the bin's mean unweighted x0-MSE) and solves
// w = argmin_{w∈Δ} wᵀ(G + λI)w — or takes the aggregator's weights,
// rescaled to sum to 1 (mtl.Result.Normalized: the aggregator's direction,
// its length left to the learning rate) — after the chosen normalisation,
// converted back to the original losses. The step then minimises
//
//	L = Σ_k w_k·L_k,   L_k = (1/n_k)·Σ_{b∈k} ‖x0_b − x̂0_b‖²/D
//
// over the bins with n_k > 0 examples in the batch (w renormalised over
// them), so its gradient is the common descent direction −δ* of Eq. 9
// (the aggregator's d for the mtl family).
// Per example b in bin k, the weight on its x0 loss is w_k·B/n_k, which
// for a stratified batch (n_k = B/K, weighting.Stratified) is K·w_k:
// uniform weights w_k = 1/K give back the plain unweighted x0 loss. On the
// model's own target the weight is that times
// weighting.Weight(Constant, target, SNR(t_b)) (1/SNR for ε, 1/(SNR+1) for
// v, t² for the flow velocity on the flow schedule), as for any strategy.
//
// Cost: a step that solves makes one forward pass and two backward passes
// (one for the Gram, one with the solved weights for the training
// gradient; backpropagation is linear in the output gradient, so the
// forward pass serves both) plus the Gram's row products
// (BenchmarkOnlineStepVsPlain measures it against a plain step); every=N
// amortises it. Empty bins get no weight. Online is a diffusion.StatePass:
// its last weights and a stateful aggregator's state (mtl:gradvac's EMA
// targets) are in every checkpoint (PassState), and mtl:pcgrad's and
// mtl:gradvac's orders at step s are call s's of their seed
// (mtl.Sequenced), so a resumed run is bit-identical to an uninterrupted
// one, for every N. The aggregator is built once per Online, so its state
// carries over from solve to solve. A bin that is empty in a solving batch
// gets weight 0 at that solve (it has no loss and no gradient there); for
// mtl:gradvac it also keeps the EMA targets of its pairs, as no cosine of
// them is observed (mtl.TaskSubset), so a density that leaves bins empty
// (uniform timesteps, small batches) trains too.
//
// Use: put the OnlineConfig (weighting.Parse("pareto:…")) in the
// TrainConfig's Weighting; the trainer starts it (OnlineConfig.Start) and
// makes every step's pass with it (Trainer.StepPass returns it). Online is
// not safe for concurrent use.
type Online struct {
	cfg    OnlineConfig
	bins   weighting.Bins // cfg.Bins on the trainer's schedule
	solve  SolveConfig
	aggs   []mtl.Aggregator // the one method, kept across solves
	tr     *diffusion.Trainer
	bg     *gram.Pass
	w      []float64 // (K) weights on the bins' task losses, nil before the first solve
	last   Solution
	solves int
	err    error
}

// NewOnline checks the configuration and returns the weighting, not yet
// bound to a trainer (OnlineConfig.Start binds one).
func NewOnline(cfg OnlineConfig) (*Online, error) {
	if cfg.Bins.K < 2 {
		return nil, errors.New("conflict: online Pareto weighting needs at least 2 bins")
	}
	if cfg.Every == 0 {
		cfg.Every = 1
	}
	if cfg.Every < 0 {
		return nil, fmt.Errorf("conflict: online Pareto weighting: every must be ≥ 1, got %d", cfg.Every)
	}
	if cfg.Tol == 0 {
		cfg.Tol = DefaultOnlineTol
	}
	if !(cfg.Tol > 0) || math.IsInf(cfg.Tol, 0) {
		return nil, fmt.Errorf("conflict: online Pareto weighting: tol must be finite and > 0, got %g", cfg.Tol)
	}
	if err := cfg.checkMethod(); err != nil {
		return nil, fmt.Errorf("conflict: online weighting: %w", err)
	}
	s := SolveConfig{Methods: []string{cfg.Method}, Lambda: cfg.Lambda, Normalizer: cfg.Normalizer, Settings: &solvers.Settings{Tol: cfg.Tol},
		Options: cfg.Options}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	aggs, err := s.Aggregators()
	if err != nil {
		return nil, err
	}
	return &Online{cfg: cfg, solve: s, aggs: aggs}, nil
}

// Config returns the configuration.
func (o *Online) Config() OnlineConfig { return o.cfg }

// bind connects the weighting to the trainer whose config holds it.
func (o *Online) bind(tr *diffusion.Trainer) error {
	bins, err := o.cfg.Bins.Bins(tr.Config().Schedule.LogSNRs())
	if err != nil {
		return fmt.Errorf("conflict: online Pareto weighting: %w", err)
	}
	obj := tr.Objective()
	var names []string
	for _, p := range obj.Net.Params().Params() {
		names = append(names, p.Name)
	}
	sel, err := ParseParams(o.cfg.Params, names)
	if err != nil {
		return err
	}
	bg, err := gram.NewPass(obj, gram.Config{Params: sel})
	if err != nil {
		return fmt.Errorf("conflict: %w", err)
	}
	o.tr, o.bg, o.bins = tr, bg, bins
	return nil
}

// Weights returns the current weights on the bins' task losses (nil before
// the first solve).
func (o *Online) Weights() []float64 { return append([]float64(nil), o.w...) }

// Last returns the last solve's result and the number of solves so far
// (after a resume: the count includes the solves before, the result is
// zero until the next solve).
func (o *Online) Last() (Solution, int) { return o.last, o.solves }

// Err returns the error that stopped the weighting, if any (training stops
// with it, wrapped by the trainer's step; Err has it alone).
func (o *Online) Err() error { return o.err }

// String returns the configuration's spec.
func (o *Online) String() string { return o.cfg.String() }

// Pass is the trainer's StepPass (diffusion.StepPass). On a step that solves, one forward pass
// over the batch grouped by bin serves twice: its backward pass with the
// task coefficients gives the Gram (gram.Pass), and after the solve
// a second backward pass with the solved weights (Objective.Rebackward)
// gives the training gradient. Other steps are plain passes with the last
// weights.
func (o *Online) Pass(step int, b diffusion.Batch, c, mse []float64) (float64, error) {
	if o.tr == nil {
		return 0, o.fail(step, errors.New("not bound to a trainer (start it with OnlineConfig.Start)"))
	}
	if o.err != nil {
		return 0, o.err
	}
	obj := o.tr.Objective()
	if o.w != nil && (step-1)%o.cfg.Every != 0 {
		if err := o.coefficients(b.T, c); err != nil {
			return 0, o.fail(step, err)
		}
		return obj.Loss(b, c, mse, true), nil
	}
	grouped, counts, order := gram.GroupByBin(b, o.bins)
	res, err := o.bg.Run(grouped, counts, nil)
	if err != nil {
		return 0, o.fail(step, err)
	}
	if err := o.solveFrom(step, res, counts); err != nil {
		return 0, o.fail(step, err)
	}
	if err := o.coefficients(b.T, c); err != nil {
		return 0, o.fail(step, err)
	}
	B := b.Len()
	cg, mseg := make([]float64, B), make([]float64, B)
	for i, r := range order {
		cg[i] = c[r]
	}
	o.tr.Net().Params().ZeroGrad(o.tr.Net().Backend())
	L := obj.Rebackward(cg, mseg)
	for i, r := range order {
		mse[r] = mseg[i]
	}
	return L, nil
}

// fail records the first error, naming the step, and returns it.
func (o *Online) fail(step int, err error) error {
	if o.err == nil {
		o.err = fmt.Errorf("conflict: online Pareto weighting at step %d: %w", step, err)
	}
	return o.err
}

// coefficients writes the training coefficients of the batch with
// timesteps t for the current weights: c_b = u_b·(w_k/mass)/n_k for b in
// bin k, where u_b converts the model's target loss to the x0 loss and
// mass = Σ w_k over the bins present.
func (o *Online) coefficients(t []int, c []float64) error {
	counts := make([]int, o.bins.K())
	for _, tt := range t {
		counts[o.bins.Of(tt)]++
	}
	var mass float64
	for k, n := range counts {
		if n > 0 {
			mass += o.w[k]
		}
	}
	if !(mass > 0) {
		return errors.New("the solved weights put no mass on the bins of this batch")
	}
	cfg := o.tr.Config()
	for i, tt := range t {
		k := o.bins.Of(tt)
		u := weighting.Weight(weighting.Constant{}, cfg.Target, cfg.Schedule.SNR(tt))
		c[i] = u * (o.w[k] / mass) / float64(counts[k])
	}
	return nil
}

// solveFrom solves step's weights from a Gram pass over bins with the
// given numbers of examples. A Sequenced aggregator (PCGrad, GradVac)
// projects in the step's call of its orders, so the orders do not depend
// on how many solves this process made.
func (o *Online) solveFrom(step int, res gram.Result, counts []int) error {
	for _, a := range o.aggs {
		if s, ok := a.(mtl.Sequenced); ok {
			s.SetCall(uint64(step))
		}
	}
	// Solve over the bins present in the batch.
	var idx []int
	for k, n := range counts {
		if n > 0 {
			idx = append(idx, k)
		}
	}
	K := len(idx)
	sub := mat.NewSymDense(K, nil)
	losses := make([]float64, K)
	for i, k := range idx {
		losses[i] = res.BinLoss[k]
		for j := i; j < K; j++ {
			sub.SetSym(i, j, res.Gram[k*len(counts)+idx[j]])
		}
	}
	var sol Solution
	if K == 1 {
		sol = Solution{Method: o.cfg.Method, W: []float64{1}, Status: "single-bin"}
	} else {
		sols, err := o.solve.SolveTasks(o.aggs, sub, losses, idx, len(counts))
		if err != nil {
			return err
		}
		sol = sols[0]
	}
	w := make([]float64, len(counts))
	for i, k := range idx {
		if math.IsNaN(sol.W[i]) || math.IsInf(sol.W[i], 0) {
			return fmt.Errorf("%s: the weight of bin %d is %v", sol.Method, k, sol.W[i])
		}
		w[k] = sol.W[i]
	}
	if !(massOn(w, idx) > 0) {
		// A degenerate solve (IMTL-G when 1ᵀG⁺n ≤ 0, where its Σα = 1
		// direction would raise every bin's loss) gives no weights to
		// normalise: the step keeps the last weights, or the mean before the
		// first, rather than stopping a training run on one batch.
		w = o.fallback(idx)
		sol.Status += "; kept the last weights"
	}
	sol.W = w
	o.w, o.last = w, sol
	o.solves++
	return nil
}

// massOn returns Σ_k w_k over the bins idx.
func massOn(w []float64, idx []int) float64 {
	var m float64
	for _, k := range idx {
		m += w[k]
	}
	return m
}

// fallback returns the weights of a step whose solve was degenerate: the
// last weights when they put positive mass on the bins idx, else equal
// weights on them.
func (o *Online) fallback(idx []int) []float64 {
	if o.w != nil && massOn(o.w, idx) > 0 {
		return append([]float64(nil), o.w...)
	}
	w := make([]float64, o.bins.K())
	for _, k := range idx {
		w[k] = 1 / float64(len(idx))
	}
	return w
}
