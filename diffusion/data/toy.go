package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// ToyNames lists the toy distributions NewToy accepts.
var ToyNames = []string{"8gaussians", "swissroll", "checkerboard", "moons"}

// Toy is a seeded 2-D distribution. Each example is drawn as follows (u
// uniform on [0, 1), z standard normal, all from the rng in this order):
//
//   - 8gaussians: k = ⌊8u⌋, x = √2·(cos(kπ/4), sin(kπ/4)) + 0.1·(z₁, z₂);
//     eight modes on a circle of radius √2.
//   - swissroll: s = 1.5π(1 + 2u), x = s·(cos s, sin s)/5 + 0.05·(z₁, z₂)
//     (scikit-learn's make_swiss_roll in the plane, as in FFJORD, scaled).
//   - checkerboard: a = 4u₁ − 2, b = u₂ − 2·⌊2u₃⌋, x = (a, b + (⌊a⌋ mod 2));
//     the black squares of a 4×4 board on [−2, 2]² (FFJORD's, unscaled).
//   - moons: θ = πu₁, upper moon (cos θ, sin θ) or lower moon
//     (1 − cos θ, 0.5 − sin θ) by u₂ < ½, plus 0.05·(z₁, z₂), then shifted
//     by (−0.5, −0.25) and scaled by 1.5 (scikit-learn's make_moons, centred).
type Toy struct{ name string }

// NewToy returns the named toy distribution (see ToyNames).
func NewToy(name string) (*Toy, error) {
	for _, n := range ToyNames {
		if n == name {
			return &Toy{name: name}, nil
		}
	}
	return nil, fmt.Errorf("data: unknown toy distribution %q (want %s)", name, strings.Join(ToyNames, ", "))
}

// Name returns the distribution's name.
func (d *Toy) Name() string { return d.name }

// String returns "toy:NAME", the spec Open reads.
func (d *Toy) String() string { return "toy:" + d.name }

// Dim returns 2.
func (d *Toy) Dim() int { return 2 }

// Sample fills x with len(x)/2 points.
func (d *Toy) Sample(rng *rand.Rand, x []float32) {
	if len(x)%2 != 0 {
		panic(fmt.Sprintf("data: Toy.Sample: len(x) = %d is odd", len(x)))
	}
	for i := 0; i < len(x); i += 2 {
		a, b := d.point(rng)
		x[i], x[i+1] = float32(a), float32(b)
	}
}

func (d *Toy) point(rng *rand.Rand) (float64, float64) {
	switch d.name {
	case "8gaussians":
		k := float64(rng.IntN(8))
		th := k * math.Pi / 4
		return math.Sqrt2*math.Cos(th) + 0.1*rng.NormFloat64(), math.Sqrt2*math.Sin(th) + 0.1*rng.NormFloat64()
	case "swissroll":
		s := 1.5 * math.Pi * (1 + 2*rng.Float64())
		return s*math.Cos(s)/5 + 0.05*rng.NormFloat64(), s*math.Sin(s)/5 + 0.05*rng.NormFloat64()
	case "checkerboard":
		a := 4*rng.Float64() - 2
		b := rng.Float64() - 2*float64(rng.IntN(2))
		return a, b + math.Mod(math.Floor(a)+4, 2) // +4 keeps the floor positive for mod
	case "moons":
		th := math.Pi * rng.Float64()
		var a, b float64
		if rng.Float64() < 0.5 {
			a, b = math.Cos(th), math.Sin(th)
		} else {
			a, b = 1-math.Cos(th), 0.5-math.Sin(th)
		}
		a += 0.05 * rng.NormFloat64()
		b += 0.05 * rng.NormFloat64()
		return 1.5 * (a - 0.5), 1.5 * (b - 0.25)
	}
	panic("data: invalid toy " + d.name)
}
