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
	usage = "learned[:bins=K|t:K|logsnr:K|edges:…|mlp=H][,lr=η][,base=CLOSED]"
	help  = `EDM2's learned uncertainty weighting (Karras et al. 2024): minimise
Σ L/e^u + u with L the x0-MSE (times the closed form CLOSED, default
constant) and u(t) learned with its own Adam (lr η, default 0.01), per
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
	// Base is the closed form whose weighted x0 loss u divides: the loss
	// of example b is L_b = w(t_b)·‖x0_b − x̂0_b‖²/D, so the effective
	// weight on the x0 loss is w(t)·e^{−u(t)} (nil: weighting.Constant,
	// the x0-MSE itself). base=snr makes L the ε-MSE and base=edm:1 the
	// v-MSE, as EDM2 divides the loss its model trains on; within a bin
	// the weights then follow the base's shape.
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
	c := Config{LR: DefaultLR, Base: weighting.Constant{}}
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
			if err != nil || h < 1 {
				return bad("mlp=%s: want a number of Fourier features ≥ 1", val)
			}
			c.Fourier = h
		case "base":
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
// ",base=CLOSED" last when the base is not constant.
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
	if b := c.base(); b != (weighting.Constant{}) {
		s += ",base=" + b.String()
	}
	return s
}

// base returns Base, weighting.Constant where it is nil.
func (c Config) base() weighting.Strategy {
	if c.Base == nil {
		return weighting.Constant{}
	}
	return c.Base
}

// X0Weight returns the effective weight of u on the x0 loss at a
// timestep of SNR snr: Base's weight times e^{−u} (weighting.Weight with
// target x0, so 1·e^{−u} where SNR = 0).
func (c Config) X0Weight(u, snr float64) float64 {
	return weighting.Weight(c.base(), weighting.X0, snr) * math.Exp(-u)
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
