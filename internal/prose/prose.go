// Package prose formats measured numbers for the sentences of generated
// reports (the demo's, the reproductions'): one way to write a number in
// words, shared by every report.
package prose

import (
	"fmt"
	"math"
	"strconv"
)

// F3 writes a number with 3 significant digits ("0.0338", "1.2e+03"), and
// NaN as "n/a".
func F3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// Pct writes a fraction as a percentage: "42%", or "0.3%" below 10%; NaN
// is "n/a".
func Pct(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0%"
	case math.Abs(v) < 0.1:
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// Ordinal writes 1 as "1st", 2 as "2nd", 11 as "11th" and so on.
func Ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// Change is the verb of a change from a to b: "fell", "rose" or "stayed".
func Change(a, b float64) string {
	switch {
	case b < a:
		return "fell"
	case b > a:
		return "rose"
	}
	return "stayed"
}
