package conflict

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/mtl"
)

// onlineState is what Online.PassState writes: JSON numbers round-trip
// float64 exactly.
type onlineState struct {
	// Weighting is the configuration's spec.
	Weighting string `json:"weighting"`
	// W are the last solve's weights on the bins (absent before the first
	// solve) and Solves the number of solves.
	W      []float64 `json:"w,omitempty"`
	Solves int       `json:"solves"`
	// Aggregator is a stateful aggregator's state (mtl.Stateful: GradVac's
	// EMA targets); absent for the others.
	Aggregator json.RawMessage `json:"aggregator,omitempty"`
}

// PassState returns the weighting's state as JSON (diffusion.StatePass):
// the last weights, which the steps between solves apply (every=N), the
// number of solves and a stateful aggregator's state. PCGrad's and
// GradVac's orders need none: the solve of step s projects in call s's
// orders of their seed (mtl.Sequenced).
func (o *Online) PassState() json.RawMessage {
	s := onlineState{Weighting: o.cfg.String(), W: o.w, Solves: o.solves}
	if a, ok := o.stateful(); ok {
		s.Aggregator = a.State()
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // finite float64s: solveFrom refuses non-finite weights
	}
	return b
}

// SetPassState sets the weighting's state to a PassState's
// (diffusion.StatePass). A state of another configuration is an error. A
// checkpoint without state (nil: written before online weightings saved
// one) starts afresh, solving at the first step, except for a stateful
// aggregator, whose run cannot resume exactly without (an error).
func (o *Online) SetPassState(raw json.RawMessage) error {
	agg, stateful := o.stateful()
	if raw == nil {
		if stateful {
			return fmt.Errorf("conflict: the checkpoint holds no state of %s (written before it was saved), so the run cannot resume exactly", agg.Name())
		}
		return nil
	}
	var s onlineState
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("conflict: online weighting state: %w", err)
	}
	switch {
	case s.Weighting != o.cfg.String():
		return fmt.Errorf("conflict: online weighting state of %q, not %q", s.Weighting, o.cfg.String())
	case s.W != nil && len(s.W) != o.cfg.Bins.K:
		return fmt.Errorf("conflict: online weighting state of %d weights for %d bins", len(s.W), o.cfg.Bins.K)
	case s.Solves < 0:
		return errors.New("conflict: online weighting state with a negative number of solves")
	case stateful && s.Aggregator == nil:
		return fmt.Errorf("conflict: online weighting state without %s's state", agg.Name())
	}
	if stateful {
		if err := agg.SetState(s.Aggregator); err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
	}
	o.w, o.solves, o.last = s.W, s.Solves, Solution{}
	return nil
}

// stateful returns the aggregator when it carries state between solves.
func (o *Online) stateful() (mtl.Stateful, bool) {
	if len(o.aggs) != 1 {
		return nil, false
	}
	a, ok := o.aggs[0].(mtl.Stateful)
	return a, ok
}

var _ diffusion.StatePass = (*Online)(nil)
