#!/usr/bin/env python3
"""Probe step against a plain training step of a transformer block (paretodiff_torch.GramProbe).

Times, alternately in one run, (a) a plain step: forward, the weighted mean of the
per-example losses, backward, AdamW; and (b) a probe step: the same forward, then
GramProbe.gram with the same weights as train_weights (one backward pass that
leaves the same .grad and forms the K x K Gram), and the same AdamW. The model is
python/tests/models.py's Block (a pre-norm transformer block from nn.Linear,
weights applied at every token) in float32, its positional table fixed unless
--learned-pos; --model mha is MHABlock (nn.MultiheadAttention, which the probe
replays, and a Linear). Prints one JSON object with the median
seconds of each and their ratio probe/step.

Usage:
  /usr/bin/python3 bench/torch_probe.py --batch 128 --bins 8 --tokens 16 --width 64 --steps 30
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "python", "tests")]

import models  # noqa: E402
import paretodiff_torch as pdt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--bins", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="block", choices=("block", "mha"),
                    help="block: attention from nn.Linear; mha: nn.MultiheadAttention (the probe's replay path) and a Linear")
    ap.add_argument("--learned-pos", action="store_true",
                    help="train the positional table too: it is looked up once for the whole batch, so it takes the "
                         "probe's autograd path (one extra partial backward pass per bin)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if a.model == "block":
        model = models.Block(d=a.width, heads=a.heads, tokens=a.tokens, T=1000).to(dev)
        model.pos.weight.requires_grad_(a.learned_pos)
    else:
        model = models.MHABlock(d=a.width, heads=a.heads, T=1000).to(dev)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    B, K = a.batch, a.bins
    x = torch.randn(B, a.tokens, a.width, device=dev)
    target = torch.randn_like(x)
    t = torch.randint(0, 1000, (B,), device=dev)
    bin_index = t * K // 1000
    w = torch.rand(B, device=dev) + 0.5

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def plain():
        opt.zero_grad(set_to_none=True)
        loss = ((model(x, t) - target) ** 2).flatten(1).mean(1)
        (loss * w).mean().backward()
        opt.step()

    coverage = {}

    def probe():
        opt.zero_grad(set_to_none=True)
        with pdt.GramProbe(model) as p:
            loss = ((model(x, t) - target) ** 2).flatten(1).mean(1)
            p.gram(loss, bin_index, K, train_weights=w / B)
        coverage.update(p.coverage())
        opt.step()

    times = {"step": [], "probe": []}
    for i in range(a.steps + 3):
        for name, fn in (("step", plain), ("probe", probe)):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            if i >= 3:  # warm-up
                times[name].append(time.perf_counter() - t0)
    step, prb = statistics.median(times["step"]), statistics.median(times["probe"])
    paths = {}
    for v in coverage.values():
        paths[v] = paths.get(v, 0) + 1
    print(json.dumps({"batch": B, "bins": K, "tokens": a.tokens, "width": a.width, "device": a.device, "model": a.model, "learned_pos": a.learned_pos,
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "ms_step": step * 1e3,
                      "ms_probe": prb * 1e3, "probe_over_step": prb / step, "paths": paths}))


if __name__ == "__main__":
    main()
