// Package jsonnum is the toolkit's one JSON codec for floating-point
// values that may be non-finite: a finite value is a JSON number, written
// with the fewest digits that read back exactly; NaN and ±Inf, which JSON
// numbers cannot hold, are the strings "NaN", "+Inf" and "-Inf". Every
// JSON file the toolkit writes (metrics logs, probe logs, run records)
// uses it, so one reader takes them all.
//
// Invariants: Unmarshal(Marshal(v)) == v bit for bit for every finite v
// and for ±Inf; NaN reads back as NaN.
package jsonnum

import (
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 with the package's JSON form.
type Float float64

// MarshalJSON writes a number, or a quoted "NaN", "+Inf" or "-Inf".
func (f Float) MarshalJSON() ([]byte, error) { return Append(nil, float64(f)), nil }

// UnmarshalJSON reads a number or one of the quoted non-finite forms.
func (f *Float) UnmarshalJSON(b []byte) error {
	v, err := Parse(b)
	*f = Float(v)
	return err
}

// Append appends the JSON form of v to b.
func Append(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.AppendQuote(b, strconv.FormatFloat(v, 'g', -1, 64))
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// Parse reads the JSON form of a value.
func Parse(b []byte) (float64, error) {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return 0, fmt.Errorf("jsonnum: %s is not a number", s)
		}
		s = u
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("jsonnum: %q is not a number", s)
	}
	return v, nil
}

// Floats converts values to their JSON form.
func Floats(v []float64) []Float {
	if v == nil {
		return nil
	}
	out := make([]Float, len(v))
	for i, x := range v {
		out[i] = Float(x)
	}
	return out
}

// Values converts back from the JSON form.
func Values(v []Float) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
