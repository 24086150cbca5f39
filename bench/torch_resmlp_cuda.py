#!/usr/bin/env python3
"""PyTorch (CUDA, eager) twin of bench/gpustep, for the GPU side-by-side.

The model is torch_resmlp.ResMLP (same directory: the same layers, names,
initialisation rule, activations, LayerNorm eps and cos-first time embedding
as diffusion/nn.ResMLP), on the GPU in full FP32 (no TF32). For each size it
times

  * the training step of torch_resmlp.py: a batch drawn on the GPU, noised on
    the cosine schedule, min-SNR-5 weighted eps-MSE, backward,
    clip_grad_norm_(1), AdamW (lr 1e-3, PyTorch's default foreach
    implementation on CUDA), EMA update (torch._foreach_*), loss.item() every
    step, as gpustep's Go trainer reads its loss back every step;
  * one K = 32 per-bin Gram probe: K bins of equal timestep width
    (weighting.BinEdges), per-bin examples each, one forward and backward
    pass per bin of the unweighted x0-MSE (eps-MSE / SNR), each gradient
    flattened into row k of a (K, P) float32 matrix, then G = A·Aᵀ in
    float64 on the GPU and copied to the host.

Usage (on the GPU machine's python3, PyTorch 2.x with CUDA):
  python3 bench/torch_resmlp_cuda.py --sizes toy,mnist,wide --steps 200

Prints one JSON object per size. Sizes: toy = (D 2, width 256, depth 3,
batch 256), mnist = (784, 256, 3, 128), wide = (784, 1024, 4, 512), as in
bench/gpustep; --batch N sets every size's batch. bench_model is the step and
probe of any model(x_t, t); bench/torch_dit.py times the DiT with it.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_resmlp as tr  # noqa: E402

SIZES = {"toy": (2, 256, 3, 256), "mnist": (784, 256, 3, 128), "wide": (784, 1024, 4, 512)}


def timestep_embedding(t, dim, max_period=10000.0):
    """torch_resmlp.timestep_embedding with its frequencies on t's device."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


tr.timestep_embedding = timestep_embedding  # ResMLP.forward looks it up in its module


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def full_fp32():
    """Full FP32 matrix products on the GPU (no TF32), as paretodiff's cuBLAS calls."""
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False


def bench_size(name, a, dev):
    dim, width, depth, batch = SIZES[name]
    batch = a.batch or batch
    torch.manual_seed(1)
    res = bench_model(tr.ResMLP(dim, width, depth).to(dev), name, dim, batch, a, dev)
    res.update(width=width, depth=depth)
    return res


def bench_model(model, name, dim, batch, a, dev):
    """Time model(x_t, t)'s training step and Gram probe (see the module doc) on data of
    dim features (8 Gaussians for dim 2, else uniform in [-1, 1)) at batch; a holds
    steps, warmup_steps, gram_bins, gram_per_bin and gram_probes (0: no probe)."""
    params = list(model.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8)
    ab = tr.cosine_alpha_bar(1000)
    snr = (ab / (1 - ab)).float().to(dev)
    alpha, sigma = ab.sqrt().float().to(dev), (1 - ab).sqrt().float().to(dev)
    data = torch.rand(60000, dim, device=dev) * 2 - 1 if dim > 2 else None
    centers = torch.tensor([[math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)] for k in range(8)], device=dev) * math.sqrt(2)

    def draw(n):
        if data is None:
            return centers[torch.randint(0, 8, (n,), device=dev)] + 0.1 * torch.randn(n, 2, device=dev)
        return data[torch.randint(0, data.shape[0], (n,), device=dev)]

    def step(s):
        x0 = draw(batch)
        t = torch.randint(0, 1000, (batch,), device=dev)
        eps = torch.randn_like(x0)
        xt = alpha[t, None] * x0 + sigma[t, None] * eps
        w = torch.clamp(snr[t], max=5.0) / snr[t]  # min-SNR-5 on the eps loss
        pred = model(xt, t)
        loss = (w * ((pred - eps) ** 2).mean(dim=1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(0.9999, (1 + s) / (10 + s))
        with torch.no_grad():
            torch._foreach_mul_(ema, d)
            torch._foreach_add_(ema, params, alpha=1 - d)
        return loss.item()

    for s in range(a.warmup_steps):
        step(s + 1)
    sync(dev)
    start = time.perf_counter()
    for s in range(a.steps):
        step(a.warmup_steps + s + 1)
    sync(dev)
    el = time.perf_counter() - start

    K, n = a.gram_bins, a.gram_per_bin
    edges = [b * 1000 // K for b in range(K + 1)]
    P = sum(p.numel() for p in params)

    def probe():
        A = torch.empty(K, P, device=dev)
        for k in range(K):
            x0 = draw(n)
            t = torch.randint(edges[k], edges[k + 1], (n,), device=dev)
            eps = torch.randn_like(x0)
            xt = alpha[t, None] * x0 + sigma[t, None] * eps
            c = 1.0 / snr[t] / n  # unweighted x0-MSE: ||eps - eps_hat||^2 / SNR
            loss = (c * ((model(xt, t) - eps) ** 2).mean(dim=1)).sum()
            grads = torch.autograd.grad(loss, params)
            torch.cat([g.reshape(-1) for g in grads], out=A[k])
        Ad = A.double()
        return (Ad @ Ad.T).cpu()

    best, finite = None, None
    for i in range(a.gram_probes + 1 if a.gram_probes > 0 else 0):
        sync(dev)
        t0 = time.perf_counter()
        G = probe()
        d = time.perf_counter() - t0
        finite = bool(torch.isfinite(G).all()) if finite is None else finite and bool(torch.isfinite(G).all())
        if i > 0 and (best is None or d < best):
            best = d
    out = {
        "impl": "pytorch-%s-eager" % dev.type, "torch": torch.__version__, "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "size": name, "dim": dim, "batch": batch, "params": P,
        "steps": a.steps, "seconds": el, "steps_per_s": a.steps / el,
        "gram_bins": K, "gram_per_bin": n, "gram_probe_s": best, "gram_finite": finite,
    }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="toy,mnist,wide")
    ap.add_argument("--batch", type=int, default=0, help="the batch of every size (0: each size's own)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--gram-bins", type=int, default=32)
    ap.add_argument("--gram-per-bin", type=int, default=8)
    ap.add_argument("--gram-probes", type=int, default=3, help="timed Gram probes after one untimed (0: no probe)")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu to try the script without a GPU")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_resmlp_cuda.py: PyTorch sees no CUDA device")
    full_fp32()
    dev = torch.device("cuda:0" if a.device == "cuda" else "cpu")
    for name in a.sizes.split(","):
        print(json.dumps(bench_size(name, a, dev)), flush=True)


if __name__ == "__main__":
    main()
