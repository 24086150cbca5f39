package weighting

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// StrategyHelp lists the specs Parse accepts, one per line, for command help.
const StrategyHelp = `constant            1
snr                 SNR
max-snr[:γ]         max(SNR, γ), γ default 5 (truncated-snr = max-snr:1)
min-snr[:γ]         min(SNR, γ), γ default 5
soft-min-snr[:γ]    SNR·γ/(SNR+γ), γ default 5
inv-snr             1/SNR
p2[:k,p]            SNR/(k+SNR)^p, default k=1, p=1
debiased            √SNR
edm[:σ_d]           (1+σ_d²·SNR)/σ_d², σ_d default 0.5`

// Parse reads a strategy spec "name[:params]" such as "min-snr:5", "p2:1,0.5"
// or "edm:0.5". Parameters that are omitted take the defaults listed in
// StrategyHelp. Unknown names, malformed numbers, the wrong number of
// parameters, and negative, zero (where it would make the weight degenerate)
// or non-finite parameters are errors naming the problem.
func Parse(spec string) (Strategy, error) {
	name, args, hasArgs := strings.Cut(strings.TrimSpace(spec), ":")
	var params []float64
	if hasArgs {
		for _, a := range strings.Split(args, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil {
				return nil, fmt.Errorf("weighting: strategy %q: parameter %q is not a number", spec, a)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("weighting: strategy %q: parameter %q is not finite", spec, a)
			}
			params = append(params, v)
		}
	}
	nparams := func(max int) error {
		if len(params) > max {
			return fmt.Errorf("weighting: strategy %q takes at most %d parameter(s), got %d", spec, max, len(params))
		}
		return nil
	}
	gamma := func() (float64, error) {
		if err := nparams(1); err != nil {
			return 0, err
		}
		if len(params) == 0 {
			return DefaultGamma, nil
		}
		if params[0] <= 0 {
			return 0, fmt.Errorf("weighting: strategy %q: γ must be positive, got %g", spec, params[0])
		}
		return params[0], nil
	}
	switch name {
	case "constant", "const", "none":
		return Constant{}, nparams(0)
	case "snr":
		return SNR{}, nparams(0)
	case "inv-snr":
		return InvSNR{}, nparams(0)
	case "debiased":
		return Debiased{}, nparams(0)
	case "truncated-snr":
		return MaxSNR{Gamma: 1}, nparams(0)
	case "max-snr":
		g, err := gamma()
		return MaxSNR{Gamma: g}, err
	case "min-snr":
		g, err := gamma()
		return MinSNR{Gamma: g}, err
	case "soft-min-snr":
		g, err := gamma()
		return SoftMinSNR{Gamma: g}, err
	case "p2":
		if len(params) != 0 && len(params) != 2 {
			return nil, fmt.Errorf("weighting: strategy %q wants p2:k,p (two parameters), got %d", spec, len(params))
		}
		w := P2{K: 1, P: 1}
		if len(params) == 2 {
			w = P2{K: params[0], P: params[1]}
		}
		if w.K < 0 {
			return nil, fmt.Errorf("weighting: strategy %q: k must be ≥ 0, got %g", spec, w.K)
		}
		if w.P < 0 {
			return nil, fmt.Errorf("weighting: strategy %q: p must be ≥ 0, got %g", spec, w.P)
		}
		return w, nil
	case "edm":
		if err := nparams(1); err != nil {
			return nil, err
		}
		e := EDM{SigmaData: 0.5}
		if len(params) == 1 {
			e.SigmaData = params[0]
		}
		if e.SigmaData <= 0 {
			return nil, fmt.Errorf("weighting: strategy %q: σ_d must be positive, got %g", spec, e.SigmaData)
		}
		return e, nil
	}
	return nil, fmt.Errorf("weighting: unknown strategy %q (want one of constant, snr, max-snr:γ, min-snr:γ, soft-min-snr:γ, inv-snr, p2:k,p, debiased, edm:σ_d)", name)
}

// MustParse is Parse that panics on error, for specs fixed in code.
func MustParse(spec string) Strategy {
	s, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// PaperStrategies are the four strategies compared throughout the paper.
var PaperStrategies = []string{"constant", "snr", "max-snr:1", "min-snr:5"}
