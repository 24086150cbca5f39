package analyze

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
)

// DefaultRelativeLambda is the λ of the weights "with λ" relative to each
// probe's mean diagonal tr(G)/K (conflict.RelativeLambda) when neither the
// Config nor the log gives an absolute λ: the demo's.
const DefaultRelativeLambda = 0.1

// Config says what Analyze computes. The zero value means: every method of
// conflict.DefaultCompareMethods, the paper's closed forms
// (weighting.PaperStrategies), the log's normaliser, and λ the log's when
// it is positive, otherwise DefaultRelativeLambda·tr(G)/K of each probe.
type Config struct {
	// Methods are solver and aggregator names (conflict.ParseMethods).
	Methods []string
	// Closed are closed-form weighting specs (weighting.ParseStrategy).
	Closed []string
	// Normalizer is the gradient normaliser's name (none, l2, loss,
	// loss+); empty means the log's.
	Normalizer string
	// Lambda, when positive, is the absolute λ of the weights "with λ" at
	// every probe. Zero means the log's λ, or RelativeLambda.
	Lambda float64
	// RelativeLambda is the relative λ used when there is no absolute one
	// (zero: DefaultRelativeLambda).
	RelativeLambda float64
}

// resolved is a Config checked and completed against a log.
type resolved struct {
	methods    []string
	closed     []string
	normalizer pareto.Normalizer
	lambda     lambdaRule
	// options are the aggregators' hyper-parameters the log's probes used
	// (Info.MTLOptions; zero: the defaults).
	options mtl.Config
}

// lambdaRule is how the λ of a probe's weights "with λ" is chosen.
type lambdaRule struct {
	// absolute, when positive, is the λ of every probe; otherwise λ is
	// relative·tr(G)/K of the probe's normalised Gram.
	absolute, relative float64
	// source says where an absolute λ comes from ("the log", "--lambda").
	source string
}

// of returns the λ for the normalised problem p.
func (l lambdaRule) of(p *pareto.Problem) float64 {
	if l.absolute > 0 {
		return l.absolute
	}
	return conflict.RelativeLambda(p.Gram(), l.relative)
}

// String describes the rule for the report.
func (l lambdaRule) String() string {
	if l.absolute > 0 {
		return fmt.Sprintf("λ = %g (%s)", l.absolute, l.source)
	}
	return fmt.Sprintf("λ = %g·tr(G)/K of each probe's normalised Gram", l.relative)
}

// resolve checks c and fills in its defaults from the log's info.
func (c Config) resolve(info conflict.Info) (resolved, error) {
	r := resolved{methods: c.Methods, closed: c.Closed}
	opts, err := mtl.ParseOptions(info.MTLOptions)
	if err != nil {
		return r, fmt.Errorf("analyze: the log's mtl_options: %w", err)
	}
	r.options = opts
	if len(r.methods) == 0 {
		r.methods = conflict.DefaultCompareMethods
	}
	for _, m := range r.methods {
		if _, err := conflict.ParseMethods(m); err != nil {
			return r, fmt.Errorf("analyze: %w", err)
		}
		if m == "two-task" && len(info.Edges) != 3 {
			return r, fmt.Errorf("analyze: two-task is the closed form for 2 bins, the log has %d", len(info.Edges)-1)
		}
	}
	if len(r.closed) == 0 {
		r.closed = weighting.PaperStrategies
	}
	for _, s := range r.closed {
		if _, err := weighting.ParseStrategy(s); err != nil {
			return r, fmt.Errorf("analyze: closed form: %w", err)
		}
	}
	if c.Normalizer == "" {
		if r.normalizer, err = info.Norm(); err != nil {
			return r, err
		}
	} else if r.normalizer, err = pareto.ParseNormalizer(c.Normalizer); err != nil {
		return r, fmt.Errorf("analyze: %w", err)
	}
	for _, v := range []float64{c.Lambda, c.RelativeLambda} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return r, fmt.Errorf("analyze: λ must be finite and ≥ 0, got %g", v)
		}
	}
	r.lambda = lambdaRule{relative: c.RelativeLambda}
	if r.lambda.relative == 0 {
		r.lambda.relative = DefaultRelativeLambda
	}
	switch {
	case c.Lambda > 0:
		r.lambda.absolute, r.lambda.source = c.Lambda, "given"
	case info.Lambda > 0 && r.normalizer.String() == normalizerOf(info):
		r.lambda.absolute, r.lambda.source = info.Lambda, "the log's"
	}
	return r, nil
}

// normalizerOf is the name of the log's normaliser ("none" when it names
// none).
func normalizerOf(info conflict.Info) string {
	if info.Normalizer == "" {
		return pareto.NormNone.String()
	}
	return info.Normalizer
}
