package learned

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// usage and help describe the spec Parse reads; the weighting registry
// lists them in every command's help.
const (
	usage = "learned[:bins=K|t:K|logsnr:K|edges:…|mlp=H][,lr=η][,base=target|CLOSED]"
	help  = `EDM2's learned uncertainty weighting (Karras et al. 2024): minimise
Σ L/e^u + u with L the model's own loss (the ε-, x0- or v-MSE; with
base=CLOSED the x0-MSE weighted by that closed form, base=constant the
x0-MSE) and u(t) learned with its own Adam (lr η, default 0.01), per
timestep bin (default bins=t:8) or, with mlp=H, as H Fourier features
of log-SNR and a linear layer (EDM2's); e.g. learned:bins=logsnr:8 or
learned:mlp=128`
)

// The learned weighting is a family of the weighting registry, so
// weighting.Parse reads "learned:…" wherever this package is linked in.
func init() {
	weighting.Register(weighting.Family{
		Name: "learned", Usage: usage, Help: help, Online: true,
		Parse: func(spec, _ string, _ bool) (weighting.Weighting, error) { return Parse(spec) },
	})
}

// Defaults of a spec that leaves an option out.
const (
	// DefaultBins is the number of equal-width bins in t of a bare
	// "learned", the online Pareto weighting's default, so that the two
	// compare bin for bin.
	DefaultBins = 8
	// DefaultLR is the learning rate of u's Adam. It is larger than a
	// network's because u must travel to ln E[L], which for the x0-MSE of
	// the low timesteps is below −5: at 0.01 Adam gets there in a few
	// hundred steps, at a network's 1e-3 only after thousands.
	DefaultLR = 0.01
	// FourierScale is the factor of log-SNR in the Fourier features'
	// input, c = −λ/8 = ln(σ)/4 with σ = e^{−λ/2} the noise level of the
	// variance-exploding view: EDM2's c_noise = ln(σ)/4.
	FourierScale = -1.0 / 8
	// MaxLogSNR bounds |λ| in the Fourier features' input, so that a
	// zero-terminal schedule's λ = −∞ gives a finite feature.
	MaxLogSNR = 20
	// MaxFourier bounds H of mlp=H: the model keeps T·H features (EDM2
	// uses 128).
	MaxFourier = 4096
)

// Config is a learned weighting as a spec says it: a weighting.Weighting
// that the trainer starts (diffusion.OnlineWeighting), giving a *Learned.
// Exactly one of Bins (Kind set) and Fourier (> 0) chooses the model of u.
type Config struct {
	// Bins gives one u per bin of these timestep bins (applied to the
	// run's schedule).
	Bins weighting.BinsSpec
	// Fourier is H > 0 for EDM2's model of u: H Fourier features of the
	// log-SNR and a linear layer (see FourierModel).
	Fourier int
	// LR is the learning rate of u's Adam (0: DefaultLR).
	LR float64
	// Base says which per-example loss u divides. nil (the spec's
	// default, base=target) is the model's own loss, L_b =
	// ‖target_b − pred_b‖²/D, as EDM2 divides the loss its network
	// trains on; a closed form w makes it the w-weighted x0 loss, L_b =
	// w(t_b)·‖x0_b − x̂0_b‖²/D (base=constant: the x0-MSE itself). On the
	// x0 loss the effective weight is b(t)·e^{−u(t)} with b =
	// weighting.Target.LossScale (SNR for ε, SNR + 1 for v, 1 for x0) or
	// b = w (X0Weight).
	Base weighting.Strategy
}

// Parse reads a learned weighting spec: "learned" (8 bins of equal width
// in t), "learned:bins=K" (K bins of equal width in t), "learned:bins=SPEC"
// with SPEC any bins spec (weighting.BinsHelp; the commas of edges:… are
// part of it), or "learned:mlp=H" (H Fourier features), each with an
// optional ",lr=η".
func Parse(spec string) (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("learned: weighting %q: "+format, append([]any{spec}, a...)...)
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(spec), ":")
	if name != "learned" {
		return bad("not a learned[:…] spec")
	}
	c := Config{LR: DefaultLR}
	var fields []string
	if strings.TrimSpace(rest) != "" {
		fields = joinEdges(strings.Split(rest, ","))
	}
	for _, f := range fields {
		key, val, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return bad("option %q is not key=value", f)
		}
		switch key {
		case "bins":
			if _, err := strconv.Atoi(val); err == nil {
				val = "t:" + val // bins=K: equal width in t
			}
			b, err := weighting.ParseBinsSpec(val)
			if err != nil {
				return bad("%v", err)
			}
			c.Bins = b
		case "mlp":
			h, err := strconv.Atoi(val)
			if err != nil || h < 1 || h > MaxFourier {
				return bad("mlp=%s: want a number of Fourier features from 1 to %d", val, MaxFourier)
			}
			c.Fourier = h
		case "base":
			if val == "target" {
				c.Base = nil
				continue
			}
			b, err := weighting.ParseStrategy(val)
			if err != nil {
				return bad("base=%s: %v", val, err)
			}
			c.Base = b
		case "lr":
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return bad("lr=%s: want a finite number > 0", val)
			}
			c.LR = v
		default:
			return bad("unknown option %q (want bins, mlp, lr or base)", key)
		}
	}
	switch {
	case c.Fourier > 0 && c.Bins.Kind != "":
		return bad("give bins or mlp, not both")
	case c.Fourier == 0 && c.Bins.Kind == "":
		c.Bins = weighting.BinsSpec{Kind: "t", K: DefaultBins}
	}
	return c, nil
}

// joinEdges puts the comma-separated values of an option back together
// (bins=edges:0,10,1000, base=p2:1,1): a field without "=" continues the
// option before it.
func joinEdges(fields []string) []string {
	var out []string
	for _, f := range fields {
		n := len(out)
		if n > 0 && !strings.Contains(f, "=") {
			out[n-1] += "," + f
			continue
		}
		out = append(out, f)
	}
	return out
}

// String returns the canonical spec, which Parse reads back:
// "learned:bins=t:8,lr=0.01" or "learned:mlp=128,lr=0.01", with
// ",base=CLOSED" last when the base is a closed form.
func (c Config) String() string {
	lr := c.LR
	if lr == 0 {
		lr = DefaultLR
	}
	model := "bins=" + c.Bins.String()
	if c.Fourier > 0 {
		model = "mlp=" + strconv.Itoa(c.Fourier)
	}
	s := "learned:" + model + ",lr=" + strconv.FormatFloat(lr, 'g', -1, 64)
	if c.Base != nil {
		s += ",base=" + c.Base.String()
	}
	return s
}

// BaseWeight returns b(t), the weight on the x0 loss of the loss u divides,
// for a model of the given target at a timestep of SNR snr: the target's
// LossScale without Base, Base's X0Weight with it; 1 where SNR = 0, the
// toolkit's rule there (weighting.Weight).
func (c Config) BaseWeight(target weighting.Target, snr float64) float64 {
	if c.Base == nil {
		return 1 / weighting.Weight(weighting.Constant{}, target, snr)
	}
	return weighting.Weight(c.Base, weighting.X0, snr)
}

// X0Weight returns the effective weight on the x0 loss of a timestep with
// log-variance u and SNR snr, for a model of the given target:
// BaseWeight·e^{−u}. Without Base it is SNR·e^{−u} for ε, (SNR + 1)·e^{−u}
// for v, e^{−u} for x0 and (1 + √SNR)²·e^{−u} for the flow velocity.
func (c Config) X0Weight(target weighting.Target, u, snr float64) float64 {
	return c.BaseWeight(target, snr) * math.Exp(-u)
}

// Start binds a new Learned weighting of this configuration to the trainer
// (diffusion.OnlineWeighting): it builds u's model on the trainer's
// schedule (the Fourier features from the trainer's seed), with u = 0.
func (c Config) Start(tr *diffusion.Trainer) (diffusion.StepPass, error) {
	tc := tr.Config()
	m, err := c.Model(tc.Schedule, tc.Seed)
	if err != nil {
		return nil, err
	}
	return newLearned(c, tr, m), nil
}

// Model returns the configuration's model of u on a schedule, with its
// parameters at zero (u = 0 everywhere); seed draws the Fourier features.
func (c Config) Model(sched *diffusion.Schedule, seed uint64) (Model, error) {
	if c.Fourier > 0 {
		return NewFourierModel(sched, c.Fourier, seed), nil
	}
	bins, err := c.Bins.Bins(sched.LogSNRs())
	if err != nil {
		return nil, fmt.Errorf("learned: %w", err)
	}
	return NewBinModel(bins), nil
}

var _ diffusion.OnlineWeighting = Config{}
