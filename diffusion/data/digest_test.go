package data

import (
	"compress/gzip"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The digests of the real splits, computed independently by Python's
// hashlib over b"paretodiff-mnist\n" + N (8 bytes, little-endian) + the
// IDX bodies of the gzipped files (images after their 16-byte header,
// labels after their 8-byte header).
const (
	trainDigest = "2aae711174e4b6612fa4f44fa9d88f92817f9306ab804fc00e5e0207c19f4806"
	testDigest  = "ce56d3c730154b3eb7ab5cac812fbabc4b8efb3995b444db083e6efefa7e9b7c"
)

func TestDigestOfRealMNIST(t *testing.T) {
	dir, err := FindMNIST()
	require.NoError(t, err)
	tr, err := LoadMNIST(dir, "train")
	require.NoError(t, err)
	te, err := LoadMNIST(dir, "test")
	require.NoError(t, err)
	require.Equal(t, trainDigest, tr.Digest())
	require.Equal(t, testDigest, te.Digest())
	require.Equal(t, testDigest, te.Digest(), "a second call gives the same")

	// The same content from files that are not gzipped has the same digest.
	plain := t.TempDir()
	for _, name := range []string{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		f, err := os.Open(filepath.Join(dir, name+".gz"))
		require.NoError(t, err)
		z, err := gzip.NewReader(f)
		require.NoError(t, err)
		body, err := io.ReadAll(z)
		require.NoError(t, err)
		f.Close()
		require.NoError(t, os.WriteFile(filepath.Join(plain, name), body, 0o644))
	}
	te2, err := LoadMNIST(plain, "test")
	require.NoError(t, err)
	require.NotSame(t, te, te2)
	require.Equal(t, testDigest, te2.Digest())
}

// The modes of 8gaussians are where its samples are: every drawn point is
// within 5σ of the mode it was drawn from, the nearest one.
func TestToyModes(t *testing.T) {
	d, err := NewToy("8gaussians")
	require.NoError(t, err)
	centres, std := d.Modes()
	require.Len(t, centres, 8)
	require.Equal(t, 0.1, std)
	x := make([]float32, 2*4000)
	d.Sample(rand.New(rand.NewPCG(5, 5)), x)
	counts := make([]int, 8)
	for i := 0; i < len(x); i += 2 {
		best, bd := 0, math.Inf(1)
		for k, c := range centres {
			if dd := math.Hypot(float64(x[i])-c[0], float64(x[i+1])-c[1]); dd < bd {
				best, bd = k, dd
			}
		}
		require.Less(t, bd, 5*std)
		counts[best]++
	}
	for _, c := range counts {
		require.InDelta(t, 500, c, 5*math.Sqrt(500)) // binomial, 5 standard deviations
	}
	m, _ := NewToy("moons")
	centres, std = m.Modes()
	require.Nil(t, centres)
	require.Zero(t, std)
}
