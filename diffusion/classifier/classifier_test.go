package classifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/metrics"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/diffusion/nn/nntest"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
)

const (
	// gorgoniaRelTol bounds the float64 twin's explicit gradients against
	// gorgonia's symbolic ones: the same float64 function, summed in
	// another order.
	gorgoniaRelTol = 1e-10
	// fdRelTol bounds them against central differences with step fdStep in
	// float64: truncation O(h²·f‴) ≈ 1e-10 plus rounding ε/h ≈ 1e-10.
	fdRelTol = 1e-7
	fdStep   = 1e-5
	// xent32Tol: the float32 softmax gradient against the float64 one,
	// entries ≤ 1/B, rounded once to float32 (relative 6e-8).
	xent32Tol = 1e-8
)

func uniform(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * (2*rng.Float64() - 1)
	}
	return v
}

func requireClose(t *testing.T, what string, want, got []float64, relTol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var maxAbs, maxErr float64
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(want[i]))
		maxErr = math.Max(maxErr, math.Abs(want[i]-got[i]))
	}
	require.Greater(t, maxAbs, 1e-6, "%s: all zero, the check would be vacuous", what)
	require.LessOrEqual(t, maxErr/maxAbs, relTol, "%s: max error %g, max value %g", what, maxErr, maxAbs)
}

// twin is a small MLP on the float64 backend with random parameters, inputs
// and labels.
type twin struct {
	be     *nn.CPU[float64]
	net    *MLP
	x, z   nn.Tensor
	labels []int
	rows   int
}

func newTwin(t *testing.T, act nn.Activation) *twin {
	be := nn.NewCPU64()
	arch := Arch{In: 6, Hidden: []int{5, 4}, Classes: 3, Act: act}
	net, err := NewMLP(be, arch)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, uint64(act)))
	copy(be.Data(net.Params().Flat), uniform(rng, net.Params().Len(), 1))
	rows := 5
	tw := &twin{be: be, net: net, rows: rows, x: be.Alloc(rows * 6), z: be.Alloc(rows * 3)}
	copy(be.Data(tw.x), uniform(rng, rows*6, 2))
	for range rows {
		tw.labels = append(tw.labels, rng.IntN(3))
	}
	return tw
}

// loss runs the forward pass and returns the mean cross-entropy, writing
// its gradient with respect to the logits into dz if not nil.
func (tw *twin) loss(dz []float64) float64 {
	tw.net.Forward(tw.z, tw.x, tw.rows)
	if dz == nil {
		dz = make([]float64, tw.rows*3)
	}
	return softmaxXent(dz, tw.be.Data(tw.z), tw.labels, 3)
}

// grad returns the explicit gradient of the loss.
func (tw *twin) grad() []float64 {
	dz := make([]float64, tw.rows*3)
	tw.loss(dz)
	dzT := tw.be.Alloc(len(dz))
	copy(tw.be.Data(dzT), dz)
	tw.net.Params().ZeroGrad(tw.be)
	tw.net.Backward(dzT, tw.rows)
	return append([]float64(nil), tw.be.Data(tw.net.Params().Grad)...)
}

func TestMLPGradientFiniteDifferences(t *testing.T) {
	for _, act := range []nn.Activation{nn.SiLU, nn.GELU} {
		t.Run(act.String(), func(t *testing.T) {
			tw := newTwin(t, act)
			got := tw.grad()
			flat := tw.be.Data(tw.net.Params().Flat)
			want := make([]float64, len(flat))
			for i := range flat {
				v := flat[i]
				flat[i] = v + fdStep
				lp := tw.loss(nil)
				flat[i] = v - fdStep
				lm := tw.loss(nil)
				flat[i] = v
				want[i] = (lp - lm) / (2 * fdStep)
			}
			requireClose(t, "parameter gradient", want, got, fdRelTol)
		})
	}
}

func TestMLPGradientAgainstGorgonia(t *testing.T) {
	tw := newTwin(t, nn.SiLU)
	got := tw.grad()
	loss := tw.loss(nil)

	g := nntest.NewGraph()
	layout := tw.net.Params().Layout()
	flat := tw.be.Data(tw.net.Params().Flat)
	nodes := map[string]*G.Node{}
	var wrt []*G.Node
	for _, l := range layout {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		v := flat[l.Offset : l.Offset+n]
		var node *G.Node
		if len(l.Shape) == 2 {
			node = g.Matrix(l.Name, l.Shape[0], l.Shape[1], v)
		} else {
			node = g.Vector(l.Name, v)
		}
		nodes[l.Name] = node
		wrt = append(wrt, node)
	}
	lin := func(name string, x *G.Node) *G.Node { return g.Linear(x, nodes[name+".weight"], nodes[name+".bias"]) }
	h := g.Act(nn.SiLU, lin("fc0", g.Matrix("x", tw.rows, 6, tw.be.Data(tw.x))))
	h = g.Act(nn.SiLU, lin("fc1", h))
	z := lin("out", h)
	onehot := make([]float64, tw.rows*3)
	for b, y := range tw.labels {
		onehot[b*3+y] = 1
	}
	// L = (1/B) Σ_b (log Σ_k exp(z_bk) − ⟨onehot_b, z_b⟩), the logits small
	// enough for the plain form (gorgonia's LogSumExp fails on matrices).
	lse := G.Must(G.Sum(G.Must(G.Log(G.Must(G.Sum(G.Must(G.Exp(z)), 1))))))
	picked := G.Must(G.Sum(G.Must(G.HadamardProd(z, g.Matrix("onehot", tw.rows, 3, onehot)))))
	L := G.Must(G.Div(G.Must(G.Sub(lse, picked)), G.NewConstant(float64(tw.rows))))
	val, grads, err := g.Gradients(L, wrt...)
	require.NoError(t, err)
	require.InDelta(t, val, loss, gorgoniaRelTol*math.Abs(val))
	for i, l := range layout {
		requireClose(t, l.Name, grads[i], got[l.Offset:l.Offset+len(grads[i])], gorgoniaRelTol)
	}
}

func TestSoftmaxXent32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	B, K := 16, 10
	z64 := uniform(rng, B*K, 30) // large logits: the stable form matters
	z32 := make([]float32, len(z64))
	for i, v := range z64 {
		z32[i] = float32(v)
		z64[i] = float64(z32[i])
	}
	labels := make([]int, B)
	for i := range labels {
		labels[i] = rng.IntN(K)
	}
	d64, d32 := make([]float64, B*K), make([]float32, B*K)
	l64 := softmaxXent(d64, z64, labels, K)
	l32 := softmaxXent(d32, z32, labels, K)
	require.Equal(t, l64, l32, "the loss is computed in float64 from the same values")
	for i := range d64 {
		require.InDelta(t, d64[i], float64(d32[i]), xent32Tol)
	}
	// Each row of the gradient sums to 0 (softmax sums to 1).
	for b := range B {
		s := 0.0
		for k := range K {
			s += d64[b*K+k]
		}
		require.InDelta(t, 0, s, 1e-15)
	}
}

func TestLRSchedule(t *testing.T) {
	// Warm-up 1..4 of 10 steps reaches the peak at step 4, then falls
	// linearly to peak/7 at step 10.
	want := []float64{0.25, 0.5, 0.75, 1, 6.0 / 7, 5.0 / 7, 4.0 / 7, 3.0 / 7, 2.0 / 7, 1.0 / 7}
	for s, w := range want {
		require.InDelta(t, w, lrAt(1, s+1, 10, 4), 1e-15, "step %d", s+1)
	}
}

func TestAccuracy(t *testing.T) {
	probs := []float32{0.1, 0.9, 0.8, 0.2, 0.5, 0.5}
	require.Equal(t, 2.0/3, Accuracy(probs, []int{1, 0, 1}, 2)) // the tie goes to class 0
	require.True(t, math.IsNaN(Accuracy(nil, nil, 2)))
}

func loadMNIST(t *testing.T) (train, test *data.MNIST) {
	t.Helper()
	train, err := data.LoadMNIST("", "train")
	require.NoError(t, err, "MNIST must be in the module cache for CI")
	test, err = data.LoadMNIST("", "test")
	require.NoError(t, err)
	return train, test
}

// testConfig is a reduced classifier that trains in a few seconds: a third
// of the training set, 3 epochs. The default (all of it, 5 epochs)
// takes tens of seconds, too long for every test run; the properties below
// hold for both (the README reports the default's figures).
var testConfig = Config{Epochs: 3, TrainSize: 20000, Seed: 3}

// testMinAccuracy: the reduced classifier reaches about 95.7%; 94% leaves
// room for another seed or summation order without hiding a broken network
// (chance is 10%).
const testMinAccuracy = 0.94

var (
	reducedOnce  sync.Once
	reducedModel *Model
	reducedErr   error
)

// reduced trains testConfig once per test binary (in a cache folder of its
// own, so each run trains).
func reduced(t *testing.T) *Model {
	t.Helper()
	train, test := loadMNIST(t)
	reducedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "classifier-test-*")
		if err != nil {
			reducedErr = err
			return
		}
		reducedModel, reducedErr = MNIST(context.Background(), nn.NewCPU(), train, test, &Options{CacheDir: dir, Config: testConfig})
		os.RemoveAll(dir)
	})
	require.NoError(t, reducedErr)
	return reducedModel
}

func TestReducedClassifierAccuracy(t *testing.T) {
	m := reduced(t)
	require.False(t, m.Cached)
	require.GreaterOrEqual(t, m.TestAccuracy, testMinAccuracy)
	t.Logf("reduced classifier: test accuracy %.4f, trained in %.1f s", m.TestAccuracy, m.TrainSeconds)
}

func TestTrainingIsDeterministic(t *testing.T) {
	train, _ := loadMNIST(t)
	cfg := Config{Arch: Arch{Hidden: []int{32, 16}}, Epochs: 1, TrainSize: 1000, Seed: 9}
	var flats [2][]float32
	for i := range flats {
		c, err := Train(context.Background(), nn.NewCPU(), cfg, MNISTExamples(train), nil)
		require.NoError(t, err)
		ps := c.Net().Params()
		flats[i] = make([]float32, ps.Len())
		c.Net().Backend().Download(flats[i], ps.Flat)
	}
	require.Equal(t, flats[0], flats[1])
}

func TestEvalIsRowIndependent(t *testing.T) {
	m := reduced(t)
	_, test := loadMNIST(t)
	N := EvalBatch + 7 // two batches, the second partial
	x := make([]float32, N*784)
	for i := range N {
		test.Image(x[i*784:(i+1)*784], i)
	}
	F, K := m.Arch().Features(), m.Arch().Classes
	feat, probs := make([]float32, N*F), make([]float32, N*K)
	m.Eval(feat, probs, x)
	for _, i := range []int{0, 999, 1000, N - 1} {
		f1, p1 := make([]float32, F), make([]float32, K)
		m.Eval(f1, p1, x[i*784:(i+1)*784])
		require.Equal(t, feat[i*F:(i+1)*F], f1, "row %d", i)
		require.Equal(t, probs[i*K:(i+1)*K], p1, "row %d", i)
		s := 0.0
		for _, v := range p1 {
			s += float64(v)
		}
		require.InDelta(t, 1, s, 1e-6)
	}
}

// Fréchet distances on the reduced classifier's features (measured: test
// vs itself 0, 2000 train images vs test ≈ 1, uniform noise ≈ 400+).
const (
	// fdSelfTol: the test statistics against a refit of the same features
	// differ only by rounding (metrics' clamp makes ~1e-15·tr Σ).
	fdSelfTol = 1e-9
	// fdTrainTestMax: 2000 real train digits against the test split; FD's
	// finite-sample bias at N = 2000 with F = 128 dominates.
	fdTrainTestMax = 5.0
	// fdNoiseRatio: noise images must be at least this many times farther
	// than real digits.
	fdNoiseRatio = 20.0
)

func features(m *Model, x []float32) []float32 {
	f := make([]float32, len(x)/784*m.Arch().Features())
	m.Eval(f, nil, x)
	return f
}

func TestFrechetDistanceProperties(t *testing.T) {
	m := reduced(t)
	train, test := loadMNIST(t)
	F := m.Arch().Features()

	testX := make([]float32, test.N*784)
	for i := range test.N {
		test.Image(testX[i*784:(i+1)*784], i)
	}
	self, err := metrics.FitStats(features(m, testX), F)
	require.NoError(t, err)
	fdSelf, err := metrics.FrechetStats(self, m.TestStats)
	require.NoError(t, err)
	require.InDelta(t, 0, fdSelf, fdSelfTol)

	const N = 2000
	rng := rand.New(rand.NewPCG(11, 0))
	real := make([]float32, N*784)
	train.Sample(rng, real)
	st, err := metrics.FitStats(features(m, real), F)
	require.NoError(t, err)
	fdReal, err := metrics.FrechetStats(st, m.TestStats)
	require.NoError(t, err)

	noise := make([]float32, N*784)
	for i := range noise {
		noise[i] = float32(2*rng.Float64() - 1)
	}
	st, err = metrics.FitStats(features(m, noise), F)
	require.NoError(t, err)
	fdNoise, err := metrics.FrechetStats(st, m.TestStats)
	require.NoError(t, err)
	t.Logf("FD train-vs-test %.3f, noise-vs-test %.1f", fdReal, fdNoise)
	require.Less(t, fdReal, fdTrainTestMax)
	require.Greater(t, fdNoise, fdNoiseRatio*fdReal)

	// Label entropies: real digits are classified confidently and cover the
	// ten classes; the entropy of a uniform class mix is ln 10.
	probs := make([]float32, N*10)
	m.Eval(nil, probs, real)
	ls, err := metrics.LabelEntropy(probs, 10)
	require.NoError(t, err)
	require.Less(t, ls.MeanEntropy, 0.3)
	require.InDelta(t, math.Log(10), ls.MarginalEntropy, 0.01)
}

func TestCacheLoadsRetrainsOnCorruptionAndMismatch(t *testing.T) {
	train, test := loadMNIST(t)
	dir := t.TempDir()
	cfg := Config{Arch: Arch{Hidden: []int{16, 8}}, Epochs: 1, TrainSize: 500, Seed: 2}
	var log bytes.Buffer
	get := func() *Model {
		m, err := MNIST(context.Background(), nn.NewCPU(), train, test, &Options{CacheDir: dir, Config: cfg, Log: &log})
		require.NoError(t, err)
		return m
	}
	params := func(m *Model) []float32 {
		ps := m.Net().Params()
		v := make([]float32, ps.Len())
		m.Net().Backend().Download(v, ps.Flat)
		return v
	}
	first := get()
	require.False(t, first.Cached)
	require.Contains(t, log.String(), "training the MNIST feature classifier once")
	files, _ := filepath.Glob(filepath.Join(dir, "mnist-classifier-*.bin"))
	require.Equal(t, []string{first.Path}, files)

	log.Reset()
	second := get()
	require.True(t, second.Cached)
	require.Empty(t, log.String())
	require.Equal(t, params(first), params(second))
	require.Equal(t, first.TestAccuracy, second.TestAccuracy)
	require.Equal(t, first.TestStats.Mean, second.TestStats.Mean)
	require.True(t, equalSym(first.TestStats, second.TestStats))

	raw, err := os.ReadFile(first.Path)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		reason string
	}{
		{"flipped weight bit", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, "SHA-256 mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, "SHA-256 mismatch"},
		{"not a cache file", func([]byte) []byte { return []byte("hello") }, "bad magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(first.Path, tc.damage(append([]byte(nil), raw...)), 0o644))
			log.Reset()
			m := get()
			require.False(t, m.Cached)
			require.Contains(t, log.String(), tc.reason)
			require.Equal(t, params(first), params(m), "retraining is seeded")
			again, err := Load(first.Path, nn.NewCPU())
			require.NoError(t, err, "the file is rewritten")
			require.True(t, again.Cached)
		})
	}

	// A valid file whose content does not match what is asked for: other
	// data, or another configuration, at the expected path.
	for _, tc := range []struct {
		name   string
		change func(m *Model)
		reason string
	}{
		{"other data", func(m *Model) { m.TrainDigest = "00" }, "digest mismatch"},
		{"other config", func(m *Model) { m.Config.Seed++ }, "configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := *first
			tc.change(&m)
			require.NoError(t, m.Save(first.Path))
			log.Reset()
			got := get()
			require.False(t, got.Cached)
			require.Contains(t, log.String(), tc.reason)
		})
	}
}

func equalSym(a, b metrics.Stats) bool {
	n := a.Cov.SymmetricDim()
	for i := range n {
		for j := range n {
			if a.Cov.At(i, j) != b.Cov.At(i, j) {
				return false
			}
		}
	}
	return true
}

func TestCacheDir(t *testing.T) {
	d, err := CacheDir("/x")
	require.NoError(t, err)
	require.Equal(t, "/x", d)
	t.Setenv(CacheEnv, "/from/env")
	d, err = CacheDir("")
	require.NoError(t, err)
	require.Equal(t, "/from/env", d)
}

func TestTrainRejectsBadConfig(t *testing.T) {
	train, _ := loadMNIST(t)
	for _, cfg := range []Config{
		{Epochs: -1}, {Batch: -2}, {LR: math.Inf(1)}, {TrainSize: -1}, {WeightDecay: -1},
		{Arch: Arch{Hidden: []int{0}}}, {Arch: Arch{Classes: 1}}, {Arch: Arch{In: 3}}, {Arch: Arch{Hidden: []int{1 << 21}}},
	} {
		_, err := Train(context.Background(), nn.NewCPU(), cfg, MNISTExamples(train), nil)
		require.Error(t, err, "%+v", cfg)
		require.Contains(t, err.Error(), "classifier: ")
	}
}

func TestArchParamsMatchesTheNetwork(t *testing.T) {
	for _, a := range []Arch{{}, {In: 3, Hidden: []int{4}, Classes: 2}, {Hidden: []int{7, 5, 3}}} {
		net, err := NewMLP(nn.NewCPU(), a)
		require.NoError(t, err)
		require.Equal(t, net.Params().Len(), net.Arch().params())
	}
}

// A well-formed file (valid SHA-256) whose header asks for a huge network
// is rejected by its sizes before anything is allocated.
func TestLoadChecksSizesBeforeAllocating(t *testing.T) {
	hdr := []byte(`{"config":{"arch":{"in":784,"hidden":[1048576],"classes":10}}}`)
	var b bytes.Buffer
	b.WriteString(cacheMagic)
	b.Write([]byte{byte(len(hdr)), 0, 0, 0})
	b.Write(hdr)
	b.Write(make([]byte, 64))
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	p := filepath.Join(t.TempDir(), "c.bin")
	require.NoError(t, os.WriteFile(p, b.Bytes(), 0o644))
	_, err := Load(p, nn.NewCPU())
	require.ErrorContains(t, err, "64 bytes of arrays for 833617930 parameters and 1048576 features")
}
