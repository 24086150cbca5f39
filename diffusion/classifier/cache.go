package classifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/metrics"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/filelock"
	"gonum.org/v1/gonum/mat"
)

// CacheEnv names an environment variable that, when set, is the folder for
// cached classifiers (overriding the user cache folder).
const CacheEnv = "PARETODIFF_CACHE"

// cacheMagic starts every cache file; the digit is the format version.
const cacheMagic = "PDIFFCL1"

// Model is a classifier trained on MNIST together with what its cache file
// keeps beside the weights.
type Model struct {
	*Classifier
	// Config is the classifier's configuration, defaults filled in.
	Config Config
	// TrainDigest and TestDigest identify the data it was trained and
	// tested on (data.MNIST.Digest).
	TrainDigest, TestDigest string
	// TestAccuracy is the share of the test split classified correctly.
	TestAccuracy float64
	// TestStats is the Gaussian fit of the test split's feature rows: the
	// reference statistics of the Fréchet distance.
	TestStats metrics.Stats
	// TrainSeconds is how long training took, and Backend where it ran.
	TrainSeconds float64
	Backend      string
	// Path is the cache file; Cached reports whether the model was loaded
	// from it rather than trained in this call.
	Path   string
	Cached bool
}

// Options configures MNIST. The zero value (or nil) means the defaults.
type Options struct {
	// CacheDir is the folder of the cache files; "" means $PARETODIFF_CACHE,
	// else the "paretodiff" folder in os.UserCacheDir.
	CacheDir string
	// Config is the classifier to train (zero fields: defaults).
	Config Config
	// Log, if set, receives a line when training starts and ends and when a
	// cache file is not used, and why.
	Log io.Writer
	// Progress, if set, is called after every training step.
	Progress func(Progress)
}

// CacheDir returns the folder cache files go to: dir if not empty, else
// $PARETODIFF_CACHE, else os.UserCacheDir()/paretodiff.
func CacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("classifier: no cache folder (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "paretodiff"), nil
}

// cacheHeader is the JSON header of a cache file.
type cacheHeader struct {
	Config       Config      `json:"config"`
	TrainDigest  string      `json:"train_digest"`
	TestDigest   string      `json:"test_digest"`
	TestAccuracy float64     `json:"test_accuracy"`
	TrainSeconds float64     `json:"train_seconds"`
	Backend      string      `json:"backend"`
	Layout       []nn.Layout `json:"layout"`
	// Features is F, the size of the test statistics; StatsN their rows.
	Features int `json:"features"`
	StatsN   int `json:"stats_n"`
}

// lockCache takes the lock of a cache file (path + ".lock"), so that of
// the processes sharing a cache folder (a sweep's tasks on a shared
// volume) one trains a missing classifier and the others wait for it and
// load it, rather than each training its own. Where the folder cannot
// hold a lock file (read-only, no file locks) it goes on without one: the
// classifier is then trained as if the cache were private. Only a
// cancelled wait is an error.
func lockCache(ctx context.Context, dir, path string, log io.Writer) (unlock func(), err error) {
	none := func() {}
	if os.MkdirAll(dir, 0o755) != nil {
		return none, nil
	}
	l, err := filelock.Acquire(ctx, path+".lock", func(holder string) {
		if log != nil {
			fmt.Fprintf(log, "classifier: another process is training it (%s holds %s.lock); waiting\n", holder, path)
		}
	})
	switch {
	case err == nil:
		return func() { l.Release() }, nil
	case ctx.Err() != nil:
		return nil, err
	}
	return none, nil
}

// cacheKey names the cache file of a configuration and its data: the first
// 16 hex digits of SHA-256 over the format, the configuration's JSON and
// the two data digests.
func cacheKey(cfg Config, trainDigest, testDigest string) string {
	cj, _ := json.Marshal(cfg)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", cacheMagic, cj, trainDigest, testDigest)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// MNIST returns the classifier of opts.Config trained on the train split,
// with its test accuracy and the feature statistics of the test split. It
// loads it from the cache folder when a file there matches the
// configuration and both data digests and passes its SHA-256 check; a
// missing, corrupt or mismatching file is never trusted: the classifier is
// trained again (seeded, so the result is the same on the same backend) and
// the file replaced atomically. Failing to write the cache is reported on
// Log, not returned. Training uses be; the cached weights serve any
// backend.
func MNIST(ctx context.Context, be nn.Backend, train, test *data.MNIST, opts *Options) (*Model, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	cfg := o.Config.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir, err := CacheDir(o.CacheDir)
	if err != nil {
		return nil, err
	}
	trainD, testD := train.Digest(), test.Digest()
	path := filepath.Join(dir, "mnist-classifier-"+cacheKey(cfg, trainD, testD)+".bin")
	unlock, err := lockCache(ctx, dir, path, o.Log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := Load(path, be)
	if err == nil {
		if reason := m.mismatch(cfg, trainD, testD); reason != "" {
			err = errors.New(reason)
		}
	}
	if err == nil {
		return m, nil
	}
	if o.Log != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(o.Log, "classifier: not using the cached classifier %s: %v; training it again\n", path, err)
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "classifier: training the MNIST feature classifier once (%d epochs); it is cached in %s\n", cfg.Epochs, dir)
	}
	start := time.Now()
	c, err := Train(ctx, be, cfg, MNISTExamples(train), o.Progress)
	if err != nil {
		return nil, err
	}
	m = &Model{Classifier: c, Config: cfg, TrainDigest: trainD, TestDigest: testD,
		TrainSeconds: time.Since(start).Seconds(), Backend: be.Name(), Path: path}
	if err := m.fitTest(test); err != nil {
		return nil, err
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "classifier: trained in %.1f s; test accuracy %.2f%%\n", m.TrainSeconds, 100*m.TestAccuracy)
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = m.Save(path)
	}
	if err != nil && o.Log != nil {
		fmt.Fprintf(o.Log, "classifier: cannot cache the classifier: %v\n", err)
	}
	return m, nil
}

// mismatch says why a loaded model is not the one asked for ("" if it is).
func (m *Model) mismatch(cfg Config, trainD, testD string) string {
	a, _ := json.Marshal(cfg)
	b, _ := json.Marshal(m.Config)
	switch {
	case !bytes.Equal(a, b):
		return fmt.Sprintf("its configuration %s is not %s", b, a)
	case m.TrainDigest != trainD || m.TestDigest != testD:
		return "it was trained on other MNIST data (digest mismatch)"
	}
	return ""
}

// fitTest classifies the test split and sets TestAccuracy and TestStats.
func (m *Model) fitTest(test *data.MNIST) error {
	a := m.Arch()
	feat := make([]float32, test.N*a.Features()) // (N, F)
	probs := make([]float32, test.N*a.Classes)   // (N, K)
	labels := m.EvalExamples(feat, probs, MNISTExamples(test))
	m.TestAccuracy = Accuracy(probs, labels, a.Classes)
	st, err := metrics.FitStats(feat, a.Features())
	if err != nil {
		return fmt.Errorf("classifier: test features: %w", err)
	}
	m.TestStats = st
	return nil
}

// Save writes the model to path atomically. The format: the 8 bytes
// "PDIFFCL1", a little-endian uint32 header length, the JSON header
// (configuration, data digests, accuracy, parameter layout), the P
// parameters as little-endian float32, the test statistics' mean (F) and
// covariance (F, F) as little-endian float64, and the SHA-256 of everything
// before it (32 bytes).
func (m *Model) Save(path string) error {
	ps := m.net.Params()
	F := m.Arch().Features()
	if len(m.TestStats.Mean) != F || m.TestStats.Cov == nil {
		panic("classifier: Model.Save without test statistics")
	}
	hdr, err := json.Marshal(cacheHeader{
		Config: m.Config, TrainDigest: m.TrainDigest, TestDigest: m.TestDigest, TestAccuracy: m.TestAccuracy,
		TrainSeconds: m.TrainSeconds, Backend: m.Backend, Layout: ps.Layout(), Features: F, StatsN: m.TestStats.N,
	})
	if err != nil {
		return fmt.Errorf("classifier: cache header: %w", err)
	}
	params := make([]float32, ps.Len())
	m.net.be.Download(params, ps.Flat)
	var buf bytes.Buffer
	buf.WriteString(cacheMagic)
	binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
	buf.Write(hdr)
	binary.Write(&buf, binary.LittleEndian, params)
	binary.Write(&buf, binary.LittleEndian, m.TestStats.Mean)
	for i := range F {
		for j := range F {
			binary.Write(&buf, binary.LittleEndian, m.TestStats.Cov.At(i, j))
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return atomicfile.WriteBytes(path, buf.Bytes())
}

// Load reads a model written by Save and builds its network on be. It
// checks the magic, the SHA-256, that the arrays match the header's
// layout, and that the values are finite. The error wraps os.ErrNotExist
// when there is no file.
func Load(path string, be nn.Backend) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("classifier: cache file %s: "+format, append([]any{path}, a...)...)
	}
	if len(raw) < len(cacheMagic)+4+sha256.Size || string(raw[:len(cacheMagic)]) != cacheMagic {
		return nil, bad("not a paretodiff classifier (bad magic)")
	}
	body := raw[:len(raw)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], raw[len(body):]) {
		return nil, bad("SHA-256 mismatch (damaged or truncated)")
	}
	rest := body[len(cacheMagic):]
	hl := int(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if hl > len(rest) {
		return nil, bad("header of %d bytes in a file of %d", hl, len(raw))
	}
	var h cacheHeader
	if err := json.Unmarshal(rest[:hl], &h); err != nil {
		return nil, bad("header: %v", err)
	}
	rest = rest[hl:]
	// Check the sizes before allocating anything the header asks for.
	arch := h.Config.Arch.WithDefaults()
	if err := arch.validate(); err != nil {
		return nil, bad("%v", err)
	}
	if P, F := arch.params(), arch.Features(); len(rest) != 4*P+8*(F+F*F) {
		return nil, bad("%d bytes of arrays for %d parameters and %d features", len(rest), P, F)
	}
	net, err := NewMLP(be, arch)
	if err != nil {
		return nil, bad("%v", err)
	}
	ps := net.Params()
	F := net.arch.Features()
	if !reflect.DeepEqual(h.Layout, ps.Layout()) || h.Features != F {
		return nil, bad("parameter layout differs from the configuration's network")
	}
	P := ps.Len()
	params := make([]float32, P)
	stats := make([]float64, F+F*F)
	binary.Read(bytes.NewReader(rest[:4*P]), binary.LittleEndian, params)
	binary.Read(bytes.NewReader(rest[4*P:]), binary.LittleEndian, stats)
	for _, v := range params {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, bad("non-finite parameter")
		}
	}
	be.Upload(ps.Flat, params)
	cov := mat.NewSymDense(F, nil)
	for i := range F {
		for j := i; j < F; j++ {
			cov.SetSym(i, j, stats[F+i*F+j])
		}
	}
	return &Model{
		Classifier: New(net), Config: h.Config, TrainDigest: h.TrainDigest, TestDigest: h.TestDigest,
		TestAccuracy: h.TestAccuracy, TestStats: metrics.Stats{Mean: stats[:F], Cov: cov, N: h.StatsN},
		TrainSeconds: h.TrainSeconds, Backend: h.Backend, Path: path, Cached: true,
	}, nil
}
