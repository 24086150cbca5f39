package diffusion

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// scheduleRelTol is the relative agreement demanded with the Python reference
// values: both sides are float64 products of ≤ 1000 factors, so rounding
// differs by a few hundred ulps at most.
const scheduleRelTol = 1e-12

// Reference ᾱ_t computed by an independent pure-Python implementation
// (cumulative product of 1 − β over explicit loops, then the Lin et al.
// rescale): see testdata/schedule_ref.py, which printed these.
var scheduleRefs = []struct {
	name       string
	T, t       int
	alphaBar   float64
	zeroTermAB float64
}{
	{"cosine", 1000, 0, 0.999958715775178, 0.9999587157751779},
	{"cosine", 1000, 1, 0.9999125759273678, 0.9999125736533471},
	{"cosine", 1000, 250, 0.8458879864968832, 0.845880710452926},
	{"cosine", 1000, 500, 0.49228517244880304, 0.4922645385316662},
	{"cosine", 1000, 999, 2.4287669070348567e-09, 0},
	{"cosine", 50, 49, 9.71193029871257e-07, 0},
	{"linear", 1000, 0, 0.9999, 0.9999},
	{"linear", 1000, 1, 0.9997800920720721, 0.9997793254331531},
	{"linear", 1000, 250, 0.5214230306185275, 0.5188605367916812},
	{"linear", 1000, 500, 0.07779665836502386, 0.07524621570432667},
	{"linear", 1000, 999, 4.0358297653756754e-05, 0},
	{"linear", 50, 49, 7.74476569922673e-06, 0},
	{"scaled-linear", 1000, 0, 0.99915, 0.99915},
	{"scaled-linear", 1000, 1, 0.9982960278384514, 0.9982334461401825},
	{"scaled-linear", 1000, 250, 0.6737926252333215, 0.6524570153414769},
	{"scaled-linear", 1000, 500, 0.2763326838229746, 0.2410187827573158},
	{"scaled-linear", 1000, 999, 0.004660098513077234, 0},
	{"scaled-linear", 50, 49, 0.763763285673763, 0},
}

func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

func TestScheduleMatchesReference(t *testing.T) {
	for _, c := range scheduleRefs {
		s, err := NewSchedule(c.name, c.T, false)
		require.NoError(t, err)
		require.LessOrEqual(t, relErr(s.AlphaBar(c.t), c.alphaBar), scheduleRelTol, "%s T=%d t=%d ᾱ", c.name, c.T, c.t)
		z, err := NewSchedule(c.name, c.T, true)
		require.NoError(t, err)
		require.LessOrEqual(t, relErr(z.AlphaBar(c.t), c.zeroTermAB), scheduleRelTol, "%s T=%d t=%d zero-terminal ᾱ", c.name, c.T, c.t)
	}
}

func TestScheduleInvariants(t *testing.T) {
	for _, name := range ScheduleNames {
		for _, zt := range []bool{false, true} {
			for _, T := range []int{2, 10, 21, 1000, 4000} {
				if name == "linear" && T <= 20 {
					continue // β would reach 1; TestScheduleErrors covers it
				}
				s, err := NewSchedule(name, T, zt)
				require.NoError(t, err)
				require.Equal(t, T, s.T())
				for i := 0; i < T; i++ {
					a, sg := s.Alpha(i), s.Sigma(i)
					require.InDelta(t, 1, a*a+sg*sg, 1e-15, "%v t=%d α²+σ²", s, i)
					require.GreaterOrEqual(t, s.AlphaBar(i), 0.0)
					require.Less(t, s.AlphaBar(i), 1.0)
					if i > 0 {
						require.Less(t, s.SNR(i), s.SNR(i-1), "%v: SNR must fall at t=%d", s, i)
						require.Less(t, s.LogSNR(i), s.LogSNR(i-1), "%v: log-SNR must fall at t=%d", s, i)
					}
					if s.SNR(i) > 0 {
						require.InDelta(t, math.Log(s.SNR(i)), s.LogSNR(i), 1e-9*math.Max(1, math.Abs(s.LogSNR(i))))
					}
					// ᾱ_t = Π(1 − β_s): rebuild it from the β we report.
					if i == T-1 && !zt {
						prod := 1.0
						for j := 0; j < T; j++ {
							prod *= 1 - s.Beta(j)
						}
						require.LessOrEqual(t, relErr(prod, s.AlphaBar(i)), 1e-12)
					}
				}
				if zt {
					raw, _ := NewSchedule(name, T, false)
					require.Equal(t, 0.0, s.SNR(T-1), "zero-terminal SNR at the end")
					require.True(t, math.IsInf(s.LogSNR(T-1), -1))
					require.Equal(t, raw.AlphaBar(0), s.AlphaBar(0), "zero-terminal keeps ᾱ_0")
					require.True(t, s.IsZeroTerminal())
					require.True(t, strings.HasSuffix(s.String(), "+zero-terminal"))
				} else {
					require.Greater(t, s.SNR(T-1), 0.0)
				}
			}
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	_, err := NewSchedule("quadratic", 1000, false)
	require.ErrorContains(t, err, `unknown schedule "quadratic"`)
	_, err = NewSchedule("cosine", 1, false)
	require.ErrorContains(t, err, "T ≥ 2")
	for _, T := range []int{MaxT + 1, math.MaxInt} { // a T from a file cannot ask for an absurd allocation
		_, err = NewSchedule("cosine", T, false)
		require.ErrorContains(t, err, "too long (at most 1048576)")
	}
	s, err := NewSchedule("cosine", MaxT, false)
	require.NoError(t, err)
	require.Equal(t, MaxT, s.T())
	_, err = NewSchedule("linear", 20, false)
	require.ErrorContains(t, err, "linear schedule with T=20")
	_, err = FromBetas("x", []float64{0.1, 1.5})
	require.ErrorContains(t, err, "β_1")
}

// The cosine schedule's SNR at the midpoint: ᾱ(0.5)/ᾱ(0) from the continuous
// formula differs from the discrete product only by the 0.999 clip, which is
// inactive before the last steps.
func TestCosineMidpointClosedForm(t *testing.T) {
	f := func(s float64) float64 { c := math.Cos((s + 0.008) / 1.008 * math.Pi / 2); return c * c }
	s := Cosine(1000)
	require.InDelta(t, f(0.5)/f(0), s.AlphaBar(499), 1e-12)
}
