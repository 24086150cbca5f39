//go:build darwin || freebsd || linux || netbsd

package cuda

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDlopenErrorNamesTheFile: a failed dlopen's error carries the loader's
// message, which names the file, also from many goroutines at once (dlerror
// is per OS thread, so a goroutine that moved threads between dlopen and
// dlerror would read an empty message).
func TestDlopenErrorNamesTheFile(t *testing.T) {
	const goroutines, tries = 8, 50
	var wg sync.WaitGroup
	errs := make([][]error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tries {
				_, err := systemDlopen(fmt.Sprintf("/nonexistent-paretodiff/lib%d-%d.so", g, i))
				errs[g] = append(errs[g], err)
			}
		}()
	}
	wg.Wait()
	for g := range goroutines {
		for i, err := range errs[g] {
			require.Error(t, err)
			require.Contains(t, err.Error(), fmt.Sprintf("lib%d-%d.so", g, i), "goroutine %d, try %d", g, i)
		}
	}
}
