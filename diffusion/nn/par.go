package nn

import (
	"runtime"
	"sync"
)

// parGrain is the least work (elements) per goroutine of an element-wise
// operation; smaller operations run on the calling goroutine.
const parGrain = 16384

// parFor runs f over [0, n) split into contiguous ranges on up to GOMAXPROCS
// goroutines, each with at least grain units (cost-weighted elements). It
// is used only where every output element is computed on its own, so the
// results do not depend on the split.
func parFor(n, grain int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func(lo, hi int) { defer wg.Done(); f(lo, hi) }(w*n/workers, (w+1)*n/workers)
	}
	f(0, n/workers)
	wg.Wait()
}
