// Package export writes a trained paretodiff model's weights in other
// frameworks' formats, under documented names, so that it can be loaded
// outside the toolkit (the PyTorch twin of python/paretodiff_torch/twins.py
// loads the safetensors file and predicts the same).
//
// Tour:
//   - FromCheckpoint takes a checkpoint's EMA or raw weights and returns a
//     Model: its tensors (Tensors) and its Meta, the network spec and the
//     diffusion it was trained for.
//   - Model.WriteSafetensors writes the safetensors file: the tensors, then
//     schedule.alpha and schedule.sigma, and Meta as JSON under the
//     metadata key MetaKey.
//
// Names and layouts (NamingHelp says the same for the command line): a
// ResMLP's parameters keep their names in the engine (nn.ResMLP):
// time1.weight (W, TimeDim), time1.bias (W), time2.weight (W, W), time2.bias,
// in.weight (W, D), in.bias, blockI.norm.weight and blockI.norm.bias (W),
// blockI.fc1.weight (H, W), blockI.fc1.bias (H), blockI.fc2.weight (W, H),
// blockI.fc2.bias (W) for I = 0 … Depth−1, norm_out.weight, norm_out.bias
// (W), out.weight (D, W), out.bias (D), and with the learned input skip
// skip.weight (D, D), skip.bias (D); every weight is (out, in) as
// PyTorch's nn.Linear holds it (y = x·Wᵀ + b), float32, C order.
// A DiT's parameters (nn.DiT) likewise: patch.weight (W, P), patch.bias,
// pos (L, W) with a learned position table, time1 and time2, per block
// blockI.adaln (6W, W), blockI.qkv (3W, W), blockI.proj, blockI.fc1 and
// blockI.fc2, then final.adaln (2W, W), final.linear (P, W) and the learned
// skip; its Meta holds the DiT configuration under "dit" (Format
// DiTFormatVersion). schedule.alpha and schedule.sigma are α_t and σ_t
// (float64, (T)), which the input skips' gains need (diffusion.SkipGains).
//
// Invariants:
//   - The same checkpoint and choice of weights give the same bytes.
//   - Files are written atomically (package matio); a checkpoint whose
//     network cannot be built is an error, before anything is written.
package export
