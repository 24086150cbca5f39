package nn

import (
	"fmt"
	"math"
)

// SinCosPosEmbed2D returns the fixed 2-D sin-cos position table of a
// grid×grid array of patch tokens, (grid², width) in row-major token order,
// exactly DiT's get_2d_sincos_pos_embed (Peebles & Xie 2023, after MAE,
// He et al. 2022): with q = width/4 and ω_k = 1/10000^(k/q), k < q, token
// p = P·grid + Q (patch row P, column Q) has
//
//	[sin(Q·ω), cos(Q·ω), sin(P·ω), cos(P·ω)]   (q features each)
//
// — the first half embeds the column index (DiT's emb_h, which it computes
// from grid[0], the column coordinates of np.meshgrid(grid_w, grid_h)),
// the second half the row index. width must be a positive multiple of 4.
func SinCosPosEmbed2D(grid, width int) []float64 {
	if grid < 1 || width < 4 || width%4 != 0 {
		panic(fmt.Sprintf("nn: SinCosPosEmbed2D: grid %d, width %d (want a multiple of 4)", grid, width))
	}
	q := width / 4
	omega := make([]float64, q)
	for k := range omega {
		omega[k] = 1 / math.Pow(ditPosPeriod, float64(k)/float64(q))
	}
	out := make([]float64, grid*grid*width)
	for P := 0; P < grid; P++ {
		for Q := 0; Q < grid; Q++ {
			row := out[(P*grid+Q)*width : (P*grid+Q+1)*width]
			for k, w := range omega {
				row[k], row[q+k] = math.Sin(float64(Q)*w), math.Cos(float64(Q)*w)
				row[2*q+k], row[3*q+k] = math.Sin(float64(P)*w), math.Cos(float64(P)*w)
			}
		}
	}
	return out
}

// to32 rounds float64 values to float32 for Backend.Upload.
func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
