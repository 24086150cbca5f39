package data

import "math"

// Modes returns the centres of a mixture distribution's components and
// their common standard deviation: for 8gaussians the eight points
// √2·(cos(kπ/4), sin(kπ/4)), k = 0..7, and 0.1. Other distributions have no
// modes (nil, 0). Metrics use them to count the samples near each mode.
func (d *Toy) Modes() (centres [][2]float64, std float64) {
	if d.name != "8gaussians" {
		return nil, 0
	}
	for k := range 8 {
		th := float64(k) * math.Pi / 4
		centres = append(centres, [2]float64{math.Sqrt2 * math.Cos(th), math.Sqrt2 * math.Sin(th)})
	}
	return centres, 0.1
}
