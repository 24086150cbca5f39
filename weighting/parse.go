package weighting

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The closed-form families, in the order help lists them. Parameters that
// are omitted take the defaults listed in StrategyHelp. Malformed numbers,
// the wrong number of parameters, and negative, zero (where it would make
// the weight degenerate) or non-finite parameters are errors naming the
// problem.
func init() {
	noParams := func(s Strategy) func(spec, args string, hasArgs bool) (Weighting, error) {
		return func(spec, args string, hasArgs bool) (Weighting, error) {
			p, err := params(spec, args, hasArgs)
			if err != nil {
				return nil, err
			}
			return s, atMost(spec, p, 0)
		}
	}
	withGamma := func(mk func(float64) Strategy) func(spec, args string, hasArgs bool) (Weighting, error) {
		return func(spec, args string, hasArgs bool) (Weighting, error) {
			p, err := params(spec, args, hasArgs)
			if err != nil {
				return nil, err
			}
			g, err := gamma(spec, p)
			if err != nil {
				return nil, err
			}
			return mk(g), nil
		}
	}
	for _, f := range []Family{
		{Name: "constant", Aliases: []string{"const", "none"}, Usage: "constant", Help: "1", Parse: noParams(Constant{})},
		{Name: "snr", Usage: "snr", Help: "SNR", Parse: noParams(SNR{})},
		{Name: "max-snr", Usage: "max-snr[:γ]", Help: "max(SNR, γ), γ default 5", Parse: withGamma(func(g float64) Strategy { return MaxSNR{Gamma: g} })},
		{Name: "truncated-snr", Usage: "truncated-snr", Help: "max-snr:1", Parse: noParams(MaxSNR{Gamma: 1})},
		{Name: "min-snr", Usage: "min-snr[:γ]", Help: "min(SNR, γ), γ default 5", Parse: withGamma(func(g float64) Strategy { return MinSNR{Gamma: g} })},
		{Name: "soft-min-snr", Usage: "soft-min-snr[:γ]", Help: "SNR·γ/(SNR+γ), γ default 5", Parse: withGamma(func(g float64) Strategy { return SoftMinSNR{Gamma: g} })},
		{Name: "inv-snr", Usage: "inv-snr", Help: "1/SNR", Parse: noParams(InvSNR{})},
		{Name: "p2", Usage: "p2[:k,p]", Help: "SNR/(k+SNR)^p, default k=1, p=1", Parse: parseP2},
		{Name: "debiased", Usage: "debiased", Help: "√SNR", Parse: noParams(Debiased{})},
		{Name: "edm", Usage: "edm[:σ_d]", Help: "(1+σ_d²·SNR)/σ_d², σ_d default 0.5", Parse: parseEDM},
	} {
		Register(f)
	}
}

// StrategyHelp lists the closed-form specs ParseStrategy accepts, one per
// line, for command help.
func StrategyHelp() string { return Help(true) }

// params reads the comma-separated numbers after a spec's colon.
func params(spec, args string, hasArgs bool) ([]float64, error) {
	if !hasArgs {
		return nil, nil
	}
	var out []float64
	for _, a := range strings.Split(args, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err != nil {
			return nil, fmt.Errorf("weighting: strategy %q: parameter %q is not a number", spec, a)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("weighting: strategy %q: parameter %q is not finite", spec, a)
		}
		out = append(out, v)
	}
	return out, nil
}

func atMost(spec string, p []float64, n int) error {
	if len(p) > n {
		return fmt.Errorf("weighting: strategy %q takes at most %d parameter(s), got %d", spec, n, len(p))
	}
	return nil
}

// gamma reads the optional γ > 0 of the SNR-clipping families.
func gamma(spec string, p []float64) (float64, error) {
	if err := atMost(spec, p, 1); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return DefaultGamma, nil
	}
	if p[0] <= 0 {
		return 0, fmt.Errorf("weighting: strategy %q: γ must be positive, got %g", spec, p[0])
	}
	return p[0], nil
}

func parseP2(spec, args string, hasArgs bool) (Weighting, error) {
	p, err := params(spec, args, hasArgs)
	if err != nil {
		return nil, err
	}
	if len(p) != 0 && len(p) != 2 {
		return nil, fmt.Errorf("weighting: strategy %q wants p2:k,p (two parameters), got %d", spec, len(p))
	}
	w := P2{K: 1, P: 1}
	if len(p) == 2 {
		w = P2{K: p[0], P: p[1]}
	}
	if w.K < 0 {
		return nil, fmt.Errorf("weighting: strategy %q: k must be ≥ 0, got %g", spec, w.K)
	}
	if w.P < 0 {
		return nil, fmt.Errorf("weighting: strategy %q: p must be ≥ 0, got %g", spec, w.P)
	}
	return w, nil
}

func parseEDM(spec, args string, hasArgs bool) (Weighting, error) {
	p, err := params(spec, args, hasArgs)
	if err != nil {
		return nil, err
	}
	if err := atMost(spec, p, 1); err != nil {
		return nil, err
	}
	e := EDM{SigmaData: 0.5}
	if len(p) == 1 {
		e.SigmaData = p[0]
	}
	if e.SigmaData <= 0 {
		return nil, fmt.Errorf("weighting: strategy %q: σ_d must be positive, got %g", spec, e.SigmaData)
	}
	return e, nil
}

// PaperStrategies are the four strategies compared throughout the paper.
var PaperStrategies = []string{"constant", "snr", "max-snr:1", "min-snr:5"}
