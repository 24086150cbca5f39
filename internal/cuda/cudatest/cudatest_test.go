package cudatest

import (
	"testing"

	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// TestSkipEmulated: with cuda.SkipEmulatorEnv set to 1 the test stops at
// SkipEmulated, skipped; with it unset or set to anything else it runs on.
func TestSkipEmulated(t *testing.T) {
	for _, c := range []struct {
		env     string
		skipped bool
	}{{"1", true}, {"", false}, {"0", false}} {
		t.Run("env="+c.env, func(t *testing.T) {
			t.Setenv(cuda.SkipEmulatorEnv, c.env)
			require.Equal(t, !c.skipped, Emulated())
			ranOn := false
			var inner *testing.T
			t.Run("test", func(t *testing.T) {
				inner = t
				SkipEmulated(t)
				ranOn = true
			})
			require.Equal(t, c.skipped, inner.Skipped())
			require.Equal(t, !c.skipped, ranOn)
		})
	}
}

// TestRequired follows cuda.RequireEnv: only "1" requires a GPU.
func TestRequired(t *testing.T) {
	for env, want := range map[string]bool{"1": true, "": false, "true": false} {
		t.Setenv(cuda.RequireEnv, env)
		require.Equal(t, want, Required(), "%s=%q", cuda.RequireEnv, env)
	}
}
