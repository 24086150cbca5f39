package diffusion

import "github.com/paretodiff/paretodiff/weighting"

// Denoiser is a network that predicts its Target from a noisy batch. It is
// what samplers and metrics need of a trained model; the training engine's
// models satisfy it, and tests use closed-form denoisers.
type Denoiser interface {
	// Dim returns D, the length of one flattened example.
	Dim() int
	// Target returns what the network predicts (ε, x0 or v).
	Target() weighting.Target
	// Predict writes the prediction for x_t into out. xt and out are (B, D)
	// row-major with B = len(t); t holds each example's timestep in 0..T−1.
	Predict(out, xt []float32, t []int)
}
