package reproduce

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/internal/golden"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// TestFiguresGolden compares every figure of `reproduce all --scale smoke`
// (seed 1, the CPU: bit-reproducible) with its golden image in testdata,
// named TARGET_FILE.png, so a change in how any target's figure looks
// shows as a failing test. The goldens were drawn on amd64: elsewhere the
// compiler may fuse multiply-adds, which moves the trained models' numbers
// (and so the curves) by more than the tolerance, so the test is skipped.
func TestFiguresGolden(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("golden figures of trained models are drawn on amd64")
	}
	dir, err := smokeRun()
	require.NoError(t, err)
	var names []string
	for name := range wantFiles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for f := range wantFiles[name] {
			if !strings.HasSuffix(f, ".png") {
				continue
			}
			t.Run(name+"/"+f, func(t *testing.T) {
				got, err := os.ReadFile(filepath.Join(dir, name, f))
				require.NoError(t, err)
				golden.PNG(t, filepath.Join("testdata", name+"_"+f), got, *update)
			})
		}
	}
}
