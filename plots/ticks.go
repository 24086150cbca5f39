package plots

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// maxLabels is the most labelled ticks an axis gets.
const maxLabels = 6

// Ticks labels a linear axis at nice steps: 1, 2, 2.5 or 5 times a power
// of ten, the smallest giving at most six labels; every label has the
// decimals the step needs and no more (0, 2500, 5000 rather than 0.00,
// 2500.00, 5000.00). Unlabelled minor ticks divide the steps.
//
// On an Integer axis (training steps, timesteps, bins, counts) the step is
// 1, 2 or 5 times a power of ten and at least 1, so every label is an
// integer.
type Ticks struct{ Integer bool }

// Ticks returns the ticks of [lo, hi].
func (t Ticks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		if !math.IsNaN(lo) && !math.IsInf(lo, 0) {
			return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
		}
		return nil
	}
	mults := []float64{1, 2, 2.5, 5}
	if t.Integer {
		mults = []float64{1, 2, 5}
	}
	e := math.Floor(math.Log10((hi - lo) / maxLabels))
	var step, mult float64
	for step == 0 {
		for _, m := range mults {
			s := m * math.Pow(10, e)
			if t.Integer && s < 1 {
				continue
			}
			if count(lo, hi, s) <= maxLabels {
				step, mult = s, m
				break
			}
		}
		e++
	}
	dec := 0
	if !t.Integer {
		dec = max(0, -int(math.Floor(math.Log10(step)+1e-9)))
		if mult == 2.5 && step < 10 {
			dec++
		}
	}
	var minor float64
	switch {
	case mult == 2:
		minor = step / 4
	default:
		minor = step / 5
	}
	if t.Integer && (minor < 1 || minor != math.Trunc(minor)) {
		minor = 1
		if step == 1 {
			minor = 0
		}
	}
	var ts []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+1e-9*step; k++ {
		v := k * step
		if v == 0 || math.Abs(v) < 1e-9*step {
			v = 0
		}
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', dec, 64)})
	}
	if minor > 0 {
		for k := math.Ceil(lo/minor - 1e-9); k*minor <= hi+1e-9*minor; k++ {
			v := k * minor
			if r := math.Abs(v/step - math.Round(v/step)); r > 1e-6 {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

// count is the number of multiples of s in [lo, hi].
func count(lo, hi, s float64) int {
	return int(math.Floor(hi/s+1e-9) - math.Ceil(lo/s-1e-9) + 1)
}

// LogTicks labels a logarithmic axis as densely as it reads: at 1, 2 and
// 5 times the powers of ten on an axis spanning up to three decades,
// at every power up to seven decades and at every second, third, … power
// beyond, with unlabelled ticks at the other integer multiples while they
// are not too dense. On an axis spanning less than a factor of 10 it uses
// Ticks' steps instead, placed on the log scale. Labels are plain decimals
// from 0.0001 to 10000 and 1e-5, 2e8 beyond.
type LogTicks struct{}

// Ticks returns the ticks of [lo, hi].
func (LogTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return nil
	}
	decades := math.Log10(hi / lo)
	if decades < 1 {
		return Ticks{}.Ticks(lo, hi)
	}
	labelled := func(m, e int) bool { return m == 1 }
	minorToo := decades <= 7
	switch {
	case decades <= 3:
		labelled = func(m, e int) bool { return m == 1 || m == 2 || m == 5 }
	case decades > 7:
		every := int(math.Ceil(decades / 7))
		labelled = func(m, e int) bool { return m == 1 && e%every == 0 }
	}
	var ts []plot.Tick
	for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
		p := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			switch {
			case labelled(m, e):
				ts = append(ts, plot.Tick{Value: v, Label: logLabel(m, e)})
			case m == 1 || minorToo:
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

// logLabel writes m·10^e.
func logLabel(m, e int) string {
	if e >= -4 && e <= 4 {
		return strconv.FormatFloat(float64(m)*math.Pow10(e), 'f', max(0, -e), 64)
	}
	return fmt.Sprintf("%de%d", m, e)
}

// SymLog is an axis scale that is linear within ±C of zero and
// logarithmic beyond: f(y) = sign(y)·log(1 + |y|/C). It shows changes of a
// few percent next to changes of several hundred.
type SymLog struct{ C float64 }

func (s SymLog) f(y float64) float64 {
	return math.Copysign(math.Log1p(math.Abs(y)/s.C), y)
}

// Normalize maps x in [lo, hi] to [0, 1].
func (s SymLog) Normalize(lo, hi, x float64) float64 {
	a, b := s.f(lo), s.f(hi)
	return (s.f(x) - a) / (b - a)
}

// SymLogTicks labels a SymLog axis at 0 and ±C·{1, 2, 5, 10, 20, 50, …}.
type SymLogTicks struct{ C float64 }

// Ticks returns the ticks of [lo, hi].
func (t SymLogTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	if lo <= 0 && hi >= 0 {
		ts = append(ts, plot.Tick{Value: 0, Label: "0"})
	}
	for _, sign := range []float64{-1, 1} {
		for e := 0.0; e < 8; e++ {
			for _, m := range []float64{1, 2, 5} {
				v := sign * m * math.Pow(10, e) * t.C
				if v < lo || v > hi {
					continue
				}
				label := strconv.FormatFloat(v, 'f', -1, 64)
				if v > 0 {
					label = "+" + label
				}
				ts = append(ts, plot.Tick{Value: v, Label: label})
			}
		}
	}
	return ts
}
