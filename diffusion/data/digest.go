package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
)

var digests sync.Map // *MNIST → string

// Digest returns the hex SHA-256 of the split's content: the bytes
// "paretodiff-mnist\n", N as a little-endian uint64, the pixels (N, 784) and
// the labels (N). It identifies the data whatever the files were called or
// whether they were gzipped, so caches of anything computed from MNIST (such
// as a trained classifier) can tell whether they still match their data.
// It is computed once per loaded split.
func (m *MNIST) Digest() string {
	if d, ok := digests.Load(m); ok {
		return d.(string)
	}
	h := sha256.New()
	h.Write([]byte("paretodiff-mnist\n"))
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(m.N))
	h.Write(n[:])
	h.Write(m.pixels)
	h.Write(m.labels)
	d := hex.EncodeToString(h.Sum(nil))
	digests.Store(m, d)
	return d
}
