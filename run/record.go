package run

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/jsonnum"
)

// Record is one metrics record of a run (a line of MetricsFile): the
// trainer's metrics at a step and, with EvalSpec.Quality, the sample
// quality of the EMA weights there.
type Record struct {
	diffusion.Metrics
	// Quality is the sample quality at this step (nil when not measured).
	Quality *Quality
}

// Quality is one sample-quality measurement.
type Quality struct {
	// Metric names the measure ("SWD", "FD"; lower is better).
	Metric string
	// Value is the measure of draw 0, the same sampler noise at every
	// step, so that the curve over training shows the model's changes.
	Value float64
	// Repeats are the values of Repeats independent draws at the last
	// step (Repeats[0] == Value), the spread from sampling alone; nil
	// elsewhere.
	Repeats []float64
	// Floor is the measure between two independent real sets of the sizes
	// used: the value of a perfect model, up to noise.
	Floor float64
}

type jsonQuality struct {
	Metric  string          `json:"metric"`
	Value   jsonnum.Float   `json:"value"`
	Repeats []jsonnum.Float `json:"repeats,omitempty"`
	Floor   jsonnum.Float   `json:"floor"`
}

// MarshalJSON writes the metrics' flat keys (diffusion.Metrics) and, when
// measured, "quality": {metric, value, repeats, floor}.
func (r Record) MarshalJSON() ([]byte, error) {
	b, err := r.Metrics.MarshalJSON()
	if err != nil || r.Quality == nil {
		return b, err
	}
	q := r.Quality
	qb, err := json.Marshal(jsonQuality{Metric: q.Metric, Value: jsonnum.Float(q.Value), Repeats: jsonnum.Floats(q.Repeats), Floor: jsonnum.Float(q.Floor)})
	if err != nil {
		return nil, fmt.Errorf("run: record of step %d: %w", r.Step, err)
	}
	out := append(b[:len(b)-1], `,"quality":`...)
	return append(append(out, qb...), '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes, and the metrics records of
// earlier releases.
func (r *Record) UnmarshalJSON(b []byte) error {
	if err := r.Metrics.UnmarshalJSON(b); err != nil {
		return err
	}
	var q struct {
		Quality *jsonQuality `json:"quality"`
	}
	if err := json.Unmarshal(b, &q); err != nil {
		return fmt.Errorf("run: record of step %d: quality: %w", r.Step, err)
	}
	r.Quality = nil
	if q.Quality != nil {
		r.Quality = &Quality{Metric: q.Quality.Metric, Value: float64(q.Quality.Value), Repeats: jsonnum.Values(q.Quality.Repeats), Floor: float64(q.Quality.Floor)}
	}
	return nil
}

// parseRecords reads a JSONL file of records; a line that does not parse
// is an error naming it, except a last line without its newline, which an
// interrupted append left (dropped).
func parseRecords(name string, raw []byte) ([]Record, error) {
	var out []Record
	lines := bytes.Split(raw, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			if i == len(lines)-1 {
				break // cut short by a kill: the resumed run writes it again
			}
			return nil, badInputf("run: %s line %d: %v", name, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
