package prose

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProse(t *testing.T) {
	require.Equal(t, "0.0338", F3(0.033814))
	require.Equal(t, "1.23e+03", F3(1234.5))
	require.Equal(t, "n/a", F3(math.NaN()))
	require.Equal(t, "42%", Pct(0.4201))
	require.Equal(t, "0.3%", Pct(0.003))
	require.Equal(t, "-5.0%", Pct(-0.05))
	require.Equal(t, "0%", Pct(0))
	require.Equal(t, "n/a", Pct(math.NaN()))
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 112: "112th"} {
		require.Equal(t, want, Ordinal(n))
	}
	require.Equal(t, "fell", Change(2, 1))
	require.Equal(t, "rose", Change(1, 2))
	require.Equal(t, "stayed", Change(1, 1))
}
