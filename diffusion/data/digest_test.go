package data

import (
	"compress/gzip"
	"io"
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
