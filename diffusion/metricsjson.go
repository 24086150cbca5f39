package diffusion

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/internal/jsonnum"
)

// MarshalJSON writes the record as one JSON object with flat keys in a
// fixed order: step, loss, eval_loss, x0_mse_LO_HI for each range,
// grad_norm, lr, steps_per_s, elapsed_s, and pass_params when the run's
// weighting has parameters (ParamPass). Non-finite values are the strings
// "NaN", "+Inf", "-Inf" (package jsonnum).
func (m Metrics) MarshalJSON() ([]byte, error) {
	if len(m.X0MSE) != len(m.Ranges) {
		return nil, fmt.Errorf("diffusion: metrics of step %d: %d x0-MSE values for %d ranges", m.Step, len(m.X0MSE), len(m.Ranges))
	}
	b := []byte(`{"step":` + strconv.Itoa(m.Step))
	num := func(key string, v float64) {
		b = append(b, `,"`+key+`":`...)
		b = jsonnum.Append(b, v)
	}
	num("loss", m.Loss)
	num("eval_loss", m.EvalLoss)
	for i, r := range m.Ranges {
		num(rangeKey(r), m.X0MSE[i])
	}
	num("grad_norm", m.GradNorm)
	num("lr", m.LR)
	num("steps_per_s", m.StepsPerSec)
	num("elapsed_s", m.Elapsed.Seconds())
	if m.PassParams != nil {
		b = append(b, `,"pass_params":[`...)
		for i, v := range m.PassParams {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonnum.Append(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// rangeKey is the JSON key of a range's x0-MSE: "x0_mse_LO_HI".
func rangeKey(r [2]int) string { return fmt.Sprintf("x0_mse_%d_%d", r[0], r[1]) }

// UnmarshalJSON reads what MarshalJSON writes (also the records of earlier
// releases, which have the same keys); unknown keys are ignored, so a
// record may carry more fields.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("diffusion: metrics record: %w", err)
	}
	step, ok := raw["step"]
	if !ok {
		return fmt.Errorf("diffusion: metrics record has no step")
	}
	*m = Metrics{}
	if err := json.Unmarshal(step, &m.Step); err != nil || m.Step < 0 {
		return fmt.Errorf("diffusion: metrics record: step %s is not a count", step)
	}
	get := func(key string, dst *float64) error {
		v, ok := raw[key]
		if !ok {
			return nil
		}
		f, err := jsonnum.Parse(v)
		if err != nil {
			return fmt.Errorf("diffusion: metrics record of step %d: %s: %w", m.Step, key, err)
		}
		*dst = f
		return nil
	}
	var elapsed float64
	for key, dst := range map[string]*float64{"loss": &m.Loss, "eval_loss": &m.EvalLoss, "grad_norm": &m.GradNorm, "lr": &m.LR, "steps_per_s": &m.StepsPerSec, "elapsed_s": &elapsed} {
		if err := get(key, dst); err != nil {
			return err
		}
	}
	m.Elapsed = time.Duration(math.Round(elapsed * float64(time.Second))) // exact for what MarshalJSON wrote
	if v, ok := raw["pass_params"]; ok {
		var ps []json.RawMessage
		if err := json.Unmarshal(v, &ps); err != nil {
			return fmt.Errorf("diffusion: metrics record of step %d: pass_params: %w", m.Step, err)
		}
		m.PassParams = make([]float64, len(ps))
		for i, p := range ps {
			f, err := jsonnum.Parse(p)
			if err != nil {
				return fmt.Errorf("diffusion: metrics record of step %d: pass_params: %w", m.Step, err)
			}
			m.PassParams[i] = f
		}
	}
	for key := range raw {
		rest, ok := strings.CutPrefix(key, "x0_mse_")
		if !ok {
			continue
		}
		lo, hi, ok := strings.Cut(rest, "_")
		a, errA := strconv.Atoi(lo)
		c, errC := strconv.Atoi(hi)
		if !ok || errA != nil || errC != nil || a < 0 || c <= a {
			return fmt.Errorf("diffusion: metrics record of step %d: key %q is not x0_mse_LO_HI", m.Step, key)
		}
		m.Ranges = append(m.Ranges, [2]int{a, c})
	}
	sort.Slice(m.Ranges, func(i, j int) bool { return m.Ranges[i][0] < m.Ranges[j][0] })
	m.X0MSE = make([]float64, len(m.Ranges))
	for i, r := range m.Ranges {
		if err := get(rangeKey(r), &m.X0MSE[i]); err != nil {
			return err
		}
	}
	return nil
}
