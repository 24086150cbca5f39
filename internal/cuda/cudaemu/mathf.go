package cudaemu

import "math"

// CUDA's single-precision math functions as the transcriptions call them:
// the float64 function rounded to float32 (CUDA's are within 2 ulp).

func expf(x float32) float32  { return float32(math.Exp(float64(x))) }
func logf(x float32) float32  { return float32(math.Log(float64(x))) }
func erff(x float32) float32  { return float32(math.Erf(float64(x))) }
func sqrtf(x float32) float32 { return float32(math.Sqrt(float64(x))) }
func cosf(x float32) float32  { return float32(math.Cos(float64(x))) }
func sinf(x float32) float32  { return float32(math.Sin(float64(x))) }
