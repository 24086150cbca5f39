package metrics

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// rows checks that x holds whole rows of length d and returns their number.
func rows[T Float](fn string, x []T, d int) int {
	if d <= 0 || len(x)%d != 0 {
		panic(fmt.Sprintf("metrics: %s: length %d is not a multiple of the dimension %d", fn, len(x), d))
	}
	return len(x) / d
}

// finite returns an error naming the first non-finite value of x.
func finite[T Float](fn, name string, x []T, d int) error {
	for i, v := range x {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("metrics: %s: %s row %d has the non-finite value %v", fn, name, i/d, f)
		}
	}
	return nil
}

// parallel runs f(i) for i in 0..n−1 on GOMAXPROCS goroutines. Each f must
// write only its own outputs, so results do not depend on scheduling.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}
