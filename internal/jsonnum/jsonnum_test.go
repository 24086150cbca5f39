package jsonnum

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, v := range []float64{0, -0.5, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1)} {
		b, err := json.Marshal(Float(v))
		require.NoError(t, err)
		var f Float
		require.NoError(t, json.Unmarshal(b, &f))
		require.Equal(t, math.Float64bits(v), math.Float64bits(float64(f)), string(b))
	}
	b, _ := json.Marshal([]Float{Float(math.NaN()), 2, Float(math.Inf(1))})
	require.Equal(t, `["NaN",2,"+Inf"]`, string(b))
	var back []Float
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, math.IsNaN(float64(back[0])))
	require.Equal(t, []float64{2, math.Inf(1)}, Values(back[1:]))
}

func TestRejectsNonNumbers(t *testing.T) {
	for _, in := range []string{`"abc"`, `true`, `"1`, `{}`} {
		var f Float
		require.Error(t, json.Unmarshal([]byte(in), &f), in)
	}
	require.Nil(t, Floats(nil))
	require.Nil(t, Values(nil))
}
