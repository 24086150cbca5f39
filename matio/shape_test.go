package matio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostileShapes are headers whose element count is absurd, overflows int64
// or wraps around to a small number: each must be rejected, with the data
// a naive reader would then accept.
var hostileShapes = []struct {
	name, shape, data, msg string
}{
	// 2³²·2³² wraps to 0 in int64: no data needed.
	{"wrap-to-zero", "(4294967296, 4294967296)", "", "has too many elements"},
	// 53695721·687084323673 = 2·2⁶⁴ + 1 wraps to 1: one float64 of data matches.
	{"wrap-to-one", "(53695721, 687084323673)", "\x00\x00\x00\x00\x00\x00\xf0\x3f", "has too many elements"},
	{"wrap-three-dims", "(2097152, 2097152, 2097152, 2097152)", "", "has too many elements"},
	{"over-int64", "(3037000500, 3037000500)", "", "has too many elements"},
	// The non-zero dimensions count whatever the order.
	{"zero-last", "(1099511627776, 1099511627776, 0)", "", "has too many elements"},
	{"zero-first", "(0, 1099511627776, 1099511627776)", "", "has too many elements"},
	{"just-over", "(1048576, 1048577)", "", "has too many elements"},
	{"dim-too-large", "(1099511627777, 1)", "", "dimension 1099511627777 is too large"},
	{"fifteen-digits", "(999999999999999, 1)", "", "is too large"},
	{"sixteen-digits", "(1000000000000000, 1)", "", "expected a dimension"},
	{"negative", "(-1, 3)", "", "expected a dimension"},
	{"too-many-dims", "(" + strings.Repeat("1, ", maxDims) + "1)", "", "dimensions (at most 64)"},
	// At the limit the header is fine and the data check speaks.
	{"at-limit", "(1048576, 1048576)", "", "file is truncated: shape (1048576, 1048576) of <f8 needs 8796093022208 data bytes, found 0"},
}

func TestHostileShapesAreRejected(t *testing.T) {
	dir := t.TempDir()
	for _, c := range hostileShapes {
		t.Run(c.name, func(t *testing.T) {
			raw := npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': "+c.shape+", }", c.data)
			m, err := DecodeNPY(strings.NewReader(raw), "x")
			require.Nil(t, m)
			require.ErrorContains(t, err, c.msg)
			require.True(t, strings.HasPrefix(err.Error(), "matio: x: "), err.Error())
			v, err := DecodeNPYVector(strings.NewReader(raw), "x")
			require.Nil(t, v)
			require.ErrorContains(t, err, c.msg)
			// A file: its size is known before reading the data.
			p := filepath.Join(dir, c.name+".npy")
			require.NoError(t, os.WriteFile(p, []byte(raw), 0o644))
			m, err = ReadNPY(p)
			require.Nil(t, m)
			require.ErrorContains(t, err, c.msg)
			require.ErrorContains(t, err, p)
		})
	}
}

func TestShapeElems(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  int
	}{
		{nil, 1}, // a scalar
		{[]int{3, 4}, 12},
		{[]int{0, 5}, 0},
		{[]int{1 << 20, 1 << 20}, 1 << 40},
		{[]int{1 << 40, 1, 1}, 1 << 40},
	} {
		n, err := shapeElems(c.shape)
		require.NoError(t, err, c.shape)
		require.Equal(t, c.want, n, c.shape)
	}
	for _, shape := range [][]int{{-1}, {2, -3}, {1 << 41}, {1 << 21, 1 << 20}, {1 << 32, 1 << 32}} {
		_, err := shapeElems(shape)
		require.Error(t, err, shape)
	}
	for _, c := range []struct{ n, esize int }{{-1, 8}, {1, 0}, {1 << 62, 8}} {
		_, err := mulBytes(c.n, c.esize)
		require.Error(t, err, c)
	}
	b, err := mulBytes(1<<40, 8)
	require.NoError(t, err)
	require.Equal(t, int64(1)<<43, b)
}
