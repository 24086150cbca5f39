#!/usr/bin/env python3
"""PyTorch (CPU) twin of paretodiff's ResMLP training step, for speed comparison.

Builds the same network as diffusion/nn.ResMLP (same layer names, layouts,
initialisation rule, tanh-GELU/SiLU, LayerNorm eps 1e-5, cos-first sinusoidal
time embedding) and times the same training step: draw a batch (toy 8 Gaussians
or MNIST-sized random data), noise it on the cosine schedule, min-SNR-5 weighted
eps-MSE, backward, clip_grad_norm_(1), AdamW, EMA update.

Usage:
  /usr/bin/python3 bench/torch_resmlp.py --dim 2 --width 128 --depth 3 --batch 256 --steps 200
  /usr/bin/python3 bench/torch_resmlp.py --check check.json   # compare a Go forward pass

Prints one JSON object. Debian's python3-torch needs libopenblas0-pthread for a
fast BLAS; threads are set to 2 (the machine's cores) unless --threads says otherwise.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Block(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)


class ResMLP(nn.Module):
    def __init__(self, dim, width=256, depth=3, hidden=0, time_dim=0, act="silu", max_period=10000.0):
        super().__init__()
        hidden = hidden or 2 * width
        time_dim = time_dim or width + width % 2
        self.time_dim, self.max_period = time_dim, max_period
        self.act = F.silu if act == "silu" else (lambda x: F.gelu(x, approximate="tanh"))
        self.time1 = nn.Linear(time_dim, width)
        self.time2 = nn.Linear(width, width)
        setattr(self, "in", nn.Linear(dim, width))  # the Go name is "in"
        self.block = nn.ModuleList([Block(width, hidden) for _ in range(depth)])
        self.norm_out = nn.LayerNorm(width, eps=1e-5)
        self.out = nn.Linear(width, dim)

    def forward(self, x, t):
        e = timestep_embedding(t, self.time_dim, self.max_period)
        h = getattr(self, "in")(x) + self.time2(self.act(self.time1(e)))
        for b in self.block:
            h = h + b.fc2(self.act(b.fc1(b.norm(h))))
        return self.out(self.act(self.norm_out(h)))

    def go_state(self):
        """Parameters under the Go names (block0.fc1.weight, not block.0.fc1.weight)."""
        out = {}
        for name, p in self.named_parameters():
            if name.startswith("block."):
                _, i, rest = name.split(".", 2)
                name = "block%s.%s" % (i, rest)
            out[name] = p
        return out


def cosine_alpha_bar(T):
    f = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
    ab, prod = [], 1.0
    for t in range(T):
        beta = min(1 - f((t + 1) / T) / f(t / T), 0.999)
        prod *= 1 - beta
        ab.append(prod)
    return torch.tensor(ab, dtype=torch.float64)


def check(path):
    """Load a Go model and batch (bench/trainstep --check-out) and compare outputs."""
    with open(path) as f:
        c = json.load(f)
    cfg = c["config"]
    m = ResMLP(cfg["dim"], cfg["width"], cfg["depth"], cfg["hidden"], cfg["time_dim"], cfg["act"], cfg["max_period"])
    state = m.go_state()
    with torch.no_grad():
        for l in c["layout"]:
            n = math.prod(l["shape"])
            v = torch.tensor(c["params"][l["offset"]:l["offset"] + n], dtype=torch.float32)
            state[l["name"]].copy_(v.reshape(l["shape"]))
        x = torch.tensor(c["x"], dtype=torch.float32).reshape(-1, cfg["dim"])
        t = torch.tensor(c["t"])
        y = m(x, t)
    want = torch.tensor(c["out"], dtype=torch.float32).reshape(y.shape)
    err = (y - want).abs().max().item()
    print(json.dumps({"check": path, "max_abs_diff": err, "max_abs_out": want.abs().max().item()}))
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.check:
        err = check(a.check)
        raise SystemExit(0 if err < 1e-4 else 1)

    torch.manual_seed(1)
    model = ResMLP(a.dim, a.width, a.depth)
    ema = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8)
    ab = cosine_alpha_bar(1000)
    snr = (ab / (1 - ab)).float()
    alpha, sigma = ab.sqrt().float(), (1 - ab).sqrt().float()
    data = torch.rand(60000, a.dim) * 2 - 1 if a.dim > 2 else None
    centers = torch.tensor([[math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)] for k in range(8)]) * math.sqrt(2)

    def step(s):
        if data is None:
            x0 = centers[torch.randint(0, 8, (a.batch,))] + 0.1 * torch.randn(a.batch, 2)
        else:
            x0 = data[torch.randint(0, data.shape[0], (a.batch,))]
        t = torch.randint(0, 1000, (a.batch,))
        eps = torch.randn_like(x0)
        xt = alpha[t, None] * x0 + sigma[t, None] * eps
        w = torch.clamp(snr[t], max=5.0) / snr[t]  # min-SNR-5 on the eps loss
        pred = model(xt, t)
        loss = (w * ((pred - eps) ** 2).mean(dim=1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        d = min(0.9999, (1 + s) / (10 + s))
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.mul_(d).add_(p, alpha=1 - d)
        return loss.item()

    for s in range(a.warmup_steps):
        step(s + 1)
    start = time.perf_counter()
    for s in range(a.steps):
        step(a.warmup_steps + s + 1)
    el = time.perf_counter() - start
    print(json.dumps({
        "impl": "pytorch-cpu", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "dim": a.dim, "width": a.width, "depth": a.depth, "batch": a.batch,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": a.steps, "seconds": el, "steps_per_s": a.steps / el,
    }))


if __name__ == "__main__":
    main()
