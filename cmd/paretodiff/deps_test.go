package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testOnlyPackages may be imported by tests only: the shipped binary
// carries no GPU emulator and no test helpers.
var testOnlyPackages = []string{
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu",
	"github.com/paretodiff/paretodiff/internal/cuda/cudatest",
	"testing",
}

// TestBinaryCarriesNoTestPackages asks the go command for the packages
// the binary links. It skips where there is no go command or no module
// (the GPU machine runs a prebuilt test binary).
func TestBinaryCarriesNoTestPackages(t *testing.T) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	mod, err := exec.Command(gocmd, "env", "GOMOD").Output()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(mod)), "go.mod") {
		t.Skip("not inside the module")
	}
	out, err := exec.Command(gocmd, "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/paretodiff/paretodiff/internal/cuda", "the check sees the CUDA code")
	for _, p := range testOnlyPackages {
		require.NotContains(t, deps, p)
	}
}
