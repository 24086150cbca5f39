package classifier

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/stretchr/testify/require"
)

// lockedLog is a log safe for concurrent writers that closes waiting at
// its first line saying it waits.
type lockedLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	once    sync.Once
	waiting chan struct{}
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(string(p), "waiting") {
		l.once.Do(func() { close(l.waiting) })
	}
	return l.buf.Write(p)
}

// Two callers of MNIST on one empty cache at once, the second arriving
// while the first trains (the first pauses after its first step until the
// second waits, or has ended): one trains, the other waits for it and
// loads its file, so that both measure with the same classifier.
func TestConcurrentCallersTrainOnce(t *testing.T) {
	train, test := loadMNIST(t)
	dir := t.TempDir()
	cfg := Config{Arch: Arch{Hidden: []int{16, 8}}, Epochs: 1, TrainSize: 500, Seed: 3}
	log := &lockedLog{waiting: make(chan struct{})}
	secondDone := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	pause := func(Progress) {
		once.Do(func() {
			close(started)
			select {
			case <-log.waiting:
			case <-secondDone:
			}
		})
	}
	models := make([]*Model, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		models[0], errs[0] = MNIST(context.Background(), nn.NewCPU(), train, test, &Options{CacheDir: dir, Config: cfg, Log: log, Progress: pause})
	}()
	<-started
	go func() {
		defer wg.Done()
		defer close(secondDone)
		models[1], errs[1] = MNIST(context.Background(), nn.NewCPU(), train, test, &Options{CacheDir: dir, Config: cfg, Log: log})
	}()
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.False(t, models[0].Cached)
	require.True(t, models[1].Cached, "the second loads the first's file")
	require.Equal(t, 1, strings.Count(log.buf.String(), "training the MNIST feature classifier once"), log.buf.String())
	require.Contains(t, log.buf.String(), "another process is training it (pid ")
	require.Equal(t, models[0].TestStats.Mean, models[1].TestStats.Mean)
}
