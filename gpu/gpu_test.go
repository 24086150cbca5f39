package gpu_test

import (
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/gpu"
	"github.com/stretchr/testify/require"
)

// Importing the package registers "cuda"; without a GPU, opening it fails
// with the same one-line reason Available gives, and "auto" falls back.
func TestRegistersCUDA(t *testing.T) {
	be, err := nn.NewBackend("auto")
	require.NoError(t, err)
	require.NotNil(t, be)
	if err := gpu.Available(); err != nil {
		_, cerr := nn.NewBackend("cuda")
		require.Error(t, cerr)
		require.NotContains(t, cerr.Error(), "\n")
		require.Equal(t, "cpu", be.Name())
		return
	}
	cb, err := nn.NewBackend("cuda")
	require.NoError(t, err)
	require.Equal(t, "cuda", cb.Name())
}
