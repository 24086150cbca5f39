#!/usr/bin/env python3
"""PyTorch DiT of paretodiff's architecture, and its training-step benchmark.

DiT is the diffusion transformer of Peebles & Xie (ICCV 2023) as paretodiff
builds it (diffusion/nn's DiT is the authority; the same names, layouts and
initialisation):

    tokens = patchify(x)                    (B, L, P): L = (S/p)^2 patches in row-major
                                            order, features ordered (row i, column j, channel c)
    h      = patch(tokens) + pos            pos: DiT's fixed 2-D sin-cos table, or the
                                            parameter "pos" initialised to it (learned_pos)
    c      = time2(SiLU(time1(emb(t))))     emb: cos-first, 256 frequencies, period 10000
    per block i (DiT's adaLN-Zero block; LN: LayerNorm without affine, eps 1e-6):
      shift1, scale1, gate1, shift2, scale2, gate2 = block{i}.adaln(SiLU(c))
      h += gate1 * block{i}.proj(attention(block{i}.qkv(LN(h)*(1+scale1)+shift1)))
      h += gate2 * block{i}.fc2(GELU_tanh(block{i}.fc1(LN(h)*(1+scale2)+shift2)))
    shift, scale = final.adaln(SiLU(c))
    y      = unpatchify(final.linear(LN(h)*(1+scale)+shift))
    out    = y [+ c_r*x (sigma_data > 0)] [+ g_r*skip(x) (skip)]

attention is multi-head softmax(q k^T / sqrt(dh)) v, q, k, v the three W-column
chunks of qkv and head h their columns h*dh ... (h+1)*dh (timm's layout). The
skips' per-row gains c_r, g_r are the caller's (diffusion.SkipGains), as for the
ResMLP. Init (DiT's initialize_weights): every Linear xavier-uniform with zero
bias, time1 and time2 weights N(0, 0.02^2), every adaln Linear and final.linear
zero (adaLN-Zero), skip zero.

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
torch >= 1.13 and numpy (and python/paretodiff_torch, found beside bench/).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "python")]

from paretodiff_torch.twins import timestep_embedding  # noqa: E402

# PRESETS: "dit" is the small model for MNIST on a 2-core CPU, "dit-s" is DiT-S
# (patch 2, width 384, depth 12, 6 heads); the Go presets (diffusion/nn) are
# the authority, and run.sh passes theirs with --like.
PRESETS = {
    "dit": dict(patch=4, width=64, depth=4, heads=4, mlp_ratio=4),
    "dit-s": dict(patch=2, width=384, depth=12, heads=6, mlp_ratio=4),
}
# FREQ_DIM, MAX_PERIOD: the timestep embedding's size and period.
FREQ_DIM, MAX_PERIOD = 256, 10000.0
# LN_EPS: the blocks' LayerNorm eps (DiT's 1e-6).
LN_EPS = 1e-6


def sincos_pos_table(width, grid):
    """DiT's get_2d_sincos_pos_embed(width, grid): (grid*grid, width) float32.

    Token n = (row r, column q) of the grid gets [emb(q), emb(r)], each half
    [sin(pos*w_i), cos(pos*w_i)] with w_i = 1/10000^(i/(width/4)), i < width/4;
    the first half embeds the column index, as DiT's meshgrid(grid_w, grid_h) does.
    Computed in float64.
    """
    if width % 4:
        raise ValueError("the sin-cos position table needs a width divisible by 4, got %d" % width)
    quarter = width // 4
    omega = 1.0 / 10000.0 ** (np.arange(quarter, dtype=np.float64) / quarter)
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")

    def emb(pos):
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([emb(cols), emb(rows)], axis=1).astype(np.float32)


def patchify(x, channels, side, p):
    """(B, C*S*S) channels-first images -> (B, L, p*p*C) tokens (row-major patches, (i, j, c) features)."""
    B, g = x.shape[0], side // p
    x = x.reshape(B, channels, g, p, g, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, g * g, p * p * channels)


def unpatchify(tokens, channels, side, p):
    """The inverse of patchify: (B, L, p*p*C) -> (B, C*S*S)."""
    B, g = tokens.shape[0], side // p
    x = tokens.reshape(B, g, g, p, p, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(B, channels * side * side)


def modulate(u, shift, scale):
    """u*(1 + scale) + shift, per example (B, W) broadcast over the tokens of u (B, L, W)."""
    return u * (1 + scale[:, None]) + shift[:, None]


def layer_norm(h):
    return F.layer_norm(h, h.shape[-1:], eps=LN_EPS)


def attention(q, k, v):
    """softmax(q k^T / sqrt(dh)) v for (B, H, L, dh) each; PyTorch's fused kernel where it has one (>= 2.0)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return a @ v


class _Block(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.adaln = nn.Linear(width, 6 * width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)


class _Final(nn.Module):
    def __init__(self, width, out):
        super().__init__()
        self.adaln = nn.Linear(width, 2 * width)
        self.linear = nn.Linear(width, out)


class DiT(nn.Module):
    """The DiT of paretodiff (see the module doc), on (B, dim) inputs at integer timesteps.

    Parameters carry the Go names: patch, pos (learned_pos only; otherwise a buffer),
    time1, time2, block0.adaln ... block{depth-1}.fc2, final.adaln, final.linear and
    skip (skip only), each Linear as nn.Linear (weight (out, in), bias (out)).
    """

    def __init__(self, dim=784, channels=1, patch=4, width=64, depth=4, heads=4, mlp_ratio=4,
                 learned_pos=False, sigma_data=0.0, skip=False):
        super().__init__()
        side = math.isqrt(dim // channels) if channels > 0 else 0
        if channels <= 0 or side * side * channels != dim:
            raise ValueError("dim %d is not channels (%d) x a square side" % (dim, channels))
        if patch <= 0 or side % patch:
            raise ValueError("patch %d does not divide the side %d" % (patch, side))
        if heads <= 0 or width % heads:
            raise ValueError("heads %d does not divide the width %d" % (heads, width))
        self.dim, self.channels, self.side, self.p = dim, channels, side, patch
        self.width, self.depth, self.heads = width, depth, heads
        self.sigma_data = float(sigma_data)
        P, L = patch * patch * channels, (side // patch) ** 2
        self.patch = nn.Linear(P, width)
        table = torch.from_numpy(sincos_pos_table(width, side // patch))
        if learned_pos:
            self.pos = nn.Parameter(table.clone())
        else:
            self.register_buffer("pos", table, persistent=False)
        self.time1 = nn.Linear(FREQ_DIM, width)
        self.time2 = nn.Linear(width, width)
        for i in range(depth):
            self.add_module("block%d" % i, _Block(width, mlp_ratio * width))
        self.final = _Final(width, P)
        self.skip = nn.Linear(dim, dim) if skip else None
        self.tokens = L
        self.reset_parameters()

    def reset_parameters(self):
        """DiT's initialize_weights (adaLN-Zero), with the skip at zero."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for lin in (self.time1, self.time2):
            nn.init.normal_(lin.weight, std=0.02)
        zero = [self.final.adaln, self.final.linear] + [b.adaln for b in self.blocks()]
        if self.skip is not None:
            zero.append(self.skip)
        for lin in zero:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def blocks(self):
        return [getattr(self, "block%d" % i) for i in range(self.depth)]

    def forward(self, x, t, c_skip=None, g_skip=None):
        """The prediction for x_t (B, dim) at integer timesteps t (B); c_skip and g_skip
        (B) are the input skips' gains, needed with sigma_data > 0 and with skip."""
        B, W, H = x.shape[0], self.width, self.heads
        h = self.patch(patchify(x, self.channels, self.side, self.p)) + self.pos
        c = self.time2(F.silu(self.time1(timestep_embedding(t, FREQ_DIM, MAX_PERIOD).to(x.dtype))))
        sc = F.silu(c)
        for b in self.blocks():
            shift1, scale1, gate1, shift2, scale2, gate2 = b.adaln(sc).chunk(6, dim=1)
            qkv = b.qkv(modulate(layer_norm(h), shift1, scale1))
            q, k, v = (z.reshape(B, self.tokens, H, W // H).transpose(1, 2) for z in qkv.chunk(3, dim=-1))
            a = attention(q, k, v).transpose(1, 2).reshape(B, self.tokens, W)
            h = h + gate1[:, None] * b.proj(a)
            u = modulate(layer_norm(h), shift2, scale2)
            h = h + gate2[:, None] * b.fc2(F.gelu(b.fc1(u), approximate="tanh"))
        shift, scale = self.final.adaln(sc).chunk(2, dim=1)
        y = unpatchify(self.final.linear(modulate(layer_norm(h), shift, scale)), self.channels, self.side, self.p)
        if self.sigma_data > 0:
            y = y + c_skip.to(x.dtype)[:, None] * x
        if self.skip is not None:
            y = y + g_skip.to(x.dtype)[:, None] * self.skip(x)
        return y


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
        model = DiT(dim, **cfg).to(dev)
        res = trc.bench_model(model, name, dim, batch, a, dev)
        res.update(model="dit", attention="sdpa" if hasattr(F, "scaled_dot_product_attention") else "math",
                   threads=torch.get_num_threads(), **cfg)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
