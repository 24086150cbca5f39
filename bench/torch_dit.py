#!/usr/bin/env python3
"""PyTorch DiT of paretodiff's architecture, and its training-step benchmark.

The DiT is paretodiff_torch.twins.DiTTwin (python/paretodiff_torch/twins.py: the
diffusion transformer of Peebles & Xie, ICCV 2023, as diffusion/nn builds it, with
the Go names and layouts; its doc gives the forward pass), initialised by its
reset_parameters (DiT's initialize_weights: adaLN-Zero) and with PyTorch's fused
attention where it has one (torch >= 2.0), on MNIST-shaped (B, 784) inputs: one
channel, side sqrt(dim).

The benchmark times the training step of bench/torch_resmlp_cuda.py (one
implementation of it for both models: noised on the cosine schedule, min-SNR-5
weighted eps-MSE, backward, clip_grad_norm_(1), AdamW lr 1e-3, EMA, loss.item()
every step, as the Go trainer does) and its K = 32 per-bin Gram probe, on
MNIST-shaped random data (D = 784, uniform in [-1, 1)), on the GPU in full FP32 or
on the CPU:

  python3 bench/torch_dit.py --presets dit,dit-s --batch 256 --steps 200            # GPU
  /usr/bin/python3 bench/torch_dit.py --device cpu --threads 2 --steps 20 --gram-probes 0
  python3 bench/torch_dit.py --like go-dit.jsonl   # each configuration bench/gpustep --model dit timed
                                                   # (--presets if the file is missing or empty)

Prints one JSON object per preset (the keys of torch_resmlp_cuda.py, plus the
DiT's configuration). The presets here are the Go presets' values when this was
written; --like takes the configuration from the Go side's output instead, and
--patch, --width, --depth, --heads, --mlp-ratio override a preset. Depends on
torch >= 1.13 and numpy (and python/paretodiff_torch: ../python from this file, in
the tree and in the folder scripts/gpu-check.sh builds).
"""
import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "python")]

from paretodiff_torch.twins import DiTTwin  # noqa: E402

# PRESETS: "dit" is the small model for MNIST on a 2-core CPU, "dit-s" is DiT-S
# (patch 2, width 384, depth 12, 6 heads); the Go presets (diffusion/nn) are
# the authority, and run.sh passes theirs with --like.
PRESETS = {
    "dit": dict(patch=4, width=64, depth=4, heads=4, mlp_ratio=4),
    "dit-s": dict(patch=2, width=384, depth=12, heads=6, mlp_ratio=4),
}


def build(dim, cfg):
    """The initialised DiT of configuration cfg on one-channel square images of dim pixels."""
    side = math.isqrt(dim)
    if side * side != dim:
        raise SystemExit("torch_dit.py: dim %d is not a square image's" % dim)
    try:
        return DiTTwin(1, side, fused_attention=True, **cfg).reset_parameters()
    except ValueError as e:
        raise SystemExit("torch_dit.py: %s" % e)


CONFIG_KEYS = ("patch", "width", "depth", "heads", "mlp_ratio")


def configs(a):
    """The (name, dim, batch, DiT keyword arguments) to time, from --like or --presets."""
    out = []
    if a.like:
        recs = []
        if os.path.exists(a.like):
            with open(a.like) as f:
                recs = [json.loads(line) for line in f if line.strip()]
        for r in recs:
            out.append((r["size"], r.get("dim", 784), r["batch"], {k: r[k] for k in CONFIG_KEYS}))
        if out:
            return out
        print("torch_dit.py: no configurations in %s: timing --presets %s" % (a.like, a.presets), file=sys.stderr)
    for name in a.presets.split(","):
        if name not in PRESETS:
            raise SystemExit("torch_dit.py: unknown preset %r (want %s)" % (name, ", ".join(PRESETS)))
        cfg = dict(PRESETS[name])
        for k in CONFIG_KEYS:
            if getattr(a, k) is not None:
                cfg[k] = getattr(a, k)
        out.append((name, 784, a.batch, cfg))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="dit")
    ap.add_argument("--like", default="", help="a JSON-lines file of bench/gpustep --model dit: time its configurations"
                    " (--presets when it holds none)")
    ap.add_argument("--batch", type=int, default=256)
    for k in CONFIG_KEYS:
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=None)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--gram-bins", type=int, default=32)
    ap.add_argument("--gram-per-bin", type=int, default=8)
    ap.add_argument("--gram-probes", type=int, default=3, help="timed Gram probes after one untimed (0: no probe)")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads on the CPU (0: PyTorch's default)")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_dit.py: PyTorch sees no CUDA device")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    import torch_resmlp_cuda as trc  # the one training step and Gram probe of both benchmarks

    trc.full_fp32()
    dev = torch.device("cuda:0" if a.device == "cuda" else "cpu")
    for name, dim, batch, cfg in configs(a):
        torch.manual_seed(1)
        model = build(dim, cfg).to(dev)
        res = trc.bench_model(model, name, dim, batch, a, dev)
        res.update(model="dit", attention="sdpa" if model.fused_attention else "math",
                   threads=torch.get_num_threads(), **cfg)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
