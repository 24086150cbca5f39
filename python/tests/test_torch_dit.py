"""bench/torch_dit.py's DiT against brute-force references of its contract.

The patch order, the position table, the parameter names and shapes, the
adaLN-Zero start and a whole forward pass (against per-token, per-head loops in
float64 over the same weights), on tiny CPU-cheap configurations.

Run: /usr/bin/python3 -m unittest discover python/tests
"""

import math
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "..", "bench")]

try:
    import numpy as np
    import torch
    import torch_dit as td
    from paretodiff_torch.twins import timestep_embedding
    HAVE_TORCH = True
except ImportError:  # the reason is printed by the skip
    HAVE_TORCH = False

# FORWARD_TOL: the model in float64 against the loops in float64 (the same
# products summed in other orders): rounding of 1e-16 relative through a few
# layers, far below what a wrong layout or a missing term moves (O(1)).
FORWARD_TOL = 1e-10


@unittest.skipUnless(HAVE_TORCH, "torch or numpy is not installed for this Python")
class DiTTest(unittest.TestCase):
    def test_patch_order(self):
        # Token r*g + q, feature (i*p + j)*C + c is pixel (c, r*p + i, q*p + j).
        C, S, p = 2, 6, 3
        g = S // p
        x = torch.arange(2 * C * S * S, dtype=torch.float64).reshape(2, C * S * S)
        tok = td.patchify(x, C, S, p)
        self.assertEqual(tuple(tok.shape), (2, g * g, p * p * C))
        img = x.reshape(2, C, S, S)
        for b in range(2):
            for r in range(g):
                for q in range(g):
                    for i in range(p):
                        for j in range(p):
                            for c in range(C):
                                self.assertEqual(tok[b, r * g + q, (i * p + j) * C + c], img[b, c, r * p + i, q * p + j])
        self.assertTrue(torch.equal(td.unpatchify(tok, C, S, p), x))

    def test_patch_embedding_is_conv(self):
        # Linear "patch" is the Conv2d(C, W, p, stride p) whose weight (W, C, p, p)
        # maps to it by permute(0, 2, 3, 1).reshape(W, P).
        torch.manual_seed(2)
        C, S, p, W = 3, 4, 2, 5
        conv = torch.nn.Conv2d(C, W, p, stride=p).double()
        x = torch.randn(2, C * S * S, dtype=torch.float64)
        want = conv(x.reshape(2, C, S, S)).flatten(2).transpose(1, 2)  # (B, L, W), row-major patches
        lin = torch.nn.Linear(p * p * C, W).double()
        with torch.no_grad():
            lin.weight.copy_(conv.weight.permute(0, 2, 3, 1).reshape(W, p * p * C))
            lin.bias.copy_(conv.bias)
        got = lin(td.patchify(x, C, S, p))
        self.assertLess((got - want).abs().max().item(), FORWARD_TOL)

    def test_position_table(self):
        # DiT's get_2d_sincos_pos_embed, transcribed: meshgrid(grid_w, grid_h),
        # emb_h from grid[0], emb_w from grid[1], each [sin, cos].
        W, G = 8, 3
        grid = np.stack(np.meshgrid(np.arange(G, dtype=np.float32), np.arange(G, dtype=np.float32)), axis=0).reshape(2, 1, G, G)

        def one_d(d, pos):
            omega = np.arange(d // 2, dtype=np.float64) / (d / 2.0)
            omega = 1.0 / 10000 ** omega
            out = np.einsum("m,d->md", pos.reshape(-1), omega)
            return np.concatenate([np.sin(out), np.cos(out)], axis=1)

        want = np.concatenate([one_d(W // 2, grid[0]), one_d(W // 2, grid[1])], axis=1)
        got = td.sincos_pos_table(W, G)
        self.assertEqual(got.shape, (G * G, W))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)  # float32 rounding of values <= 1
        with self.assertRaises(ValueError):
            td.sincos_pos_table(6, G)

    def test_names_and_shapes(self):
        m = td.DiT(dim=32, channels=2, patch=2, width=8, depth=2, heads=2, mlp_ratio=3, learned_pos=True, skip=True)
        P, L, W, M = 8, 4, 8, 24
        want = {"patch.weight": (W, P), "patch.bias": (W,), "pos": (L, W),
                "time1.weight": (W, td.FREQ_DIM), "time1.bias": (W,), "time2.weight": (W, W), "time2.bias": (W,),
                "final.adaln.weight": (2 * W, W), "final.adaln.bias": (2 * W,),
                "final.linear.weight": (P, W), "final.linear.bias": (P,),
                "skip.weight": (32, 32), "skip.bias": (32,)}
        for i in range(2):
            for name, shape in (("adaln", (6 * W, W)), ("qkv", (3 * W, W)), ("proj", (W, W)), ("fc1", (M, W)), ("fc2", (W, M))):
                want["block%d.%s.weight" % (i, name)] = shape
                want["block%d.%s.bias" % (i, name)] = shape[:1]
        got = {k: tuple(v.shape) for k, v in m.named_parameters()}
        self.assertEqual(got, want)
        np.testing.assert_array_equal(m.pos.detach().numpy(), td.sincos_pos_table(W, 2))
        fixed = td.DiT(dim=32, channels=2, patch=2, width=8, depth=1, heads=2)
        self.assertNotIn("pos", dict(fixed.named_parameters()))
        self.assertNotIn("skip.weight", dict(fixed.named_parameters()))
        for bad in (dict(dim=30), dict(patch=3), dict(heads=3)):
            with self.assertRaises(ValueError):
                td.DiT(**dict(dict(dim=32, channels=2, patch=2, width=8, depth=1, heads=2), **bad))

    def test_init_is_adaln_zero(self):
        torch.manual_seed(4)
        m = td.DiT(dim=64, channels=1, patch=4, width=8, depth=2, heads=2)
        for name, p in m.named_parameters():
            zero = name.endswith(".bias") or ".adaln." in name or name.startswith("final.linear")
            self.assertEqual(bool((p == 0).all()), zero, name)
        self.assertLess(m.time1.weight.std().item(), 0.03)  # N(0, 0.02^2), 2048 draws
        bound = math.sqrt(6 / (8 + 8 * 3))  # xavier-uniform of qkv (3W x W)
        self.assertLessEqual(m.block0.qkv.weight.abs().max().item(), bound)
        self.assertGreater(m.block0.qkv.weight.abs().max().item(), 0.9 * bound)
        x, t = torch.randn(3, 64), torch.tensor([0, 500, 999])
        self.assertEqual(m(x, t).abs().max().item(), 0.0)  # adaLN-Zero: the output starts at zero

    def test_forward_against_loops(self):
        torch.manual_seed(5)
        C, S, p, W, H, depth = 2, 4, 2, 8, 2, 2
        m = td.DiT(dim=C * S * S, channels=C, patch=p, width=W, depth=depth, heads=H, mlp_ratio=2,
                   learned_pos=True, sigma_data=0.5, skip=True).double()
        with torch.no_grad():
            for prm in m.parameters():  # every parameter non-zero, the zero-initialised too
                prm.copy_(0.3 * torch.randn_like(prm))
        B = 3
        x = torch.randn(B, C * S * S, dtype=torch.float64)
        t = torch.tensor([3, 410, 977])
        cg, gg = torch.tensor([0.2, -0.7, 1.1], dtype=torch.float64), torch.tensor([0.5, 0.25, -2.0], dtype=torch.float64)
        with torch.no_grad():
            got = m(x, t, cg, gg)
            want = self.loops(m, x, t, cg, gg, C, S, p, W, H)
        self.assertLess((got - want).abs().max().item(), FORWARD_TOL * max(1.0, want.abs().max().item()))

    @staticmethod
    def loops(m, x, t, cg, gg, C, S, p, W, H):
        """The contract written out per example, token and head, in float64."""
        g, dh = S // p, W // H
        lin = lambda layer, v: layer.weight @ v + layer.bias
        silu = lambda v: v / (1 + torch.exp(-v))
        gelu = lambda v: 0.5 * v * (1 + torch.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))

        def ln(v):
            mu = v.mean()
            return (v - mu) / torch.sqrt(((v - mu) ** 2).mean() + 1e-6)

        e = timestep_embedding(t, td.FREQ_DIM, td.MAX_PERIOD).double()
        out = torch.zeros_like(x)
        for b in range(x.shape[0]):
            img = x[b].reshape(C, S, S)
            h = []
            for r in range(g):
                for q in range(g):
                    feat = torch.stack([img[c, r * p + i, q * p + j] for i in range(p) for j in range(p) for c in range(C)])
                    h.append(lin(m.patch, feat) + m.pos[r * g + q])
            c = lin(m.time2, silu(lin(m.time1, e[b])))
            sc = silu(c)
            for blk in m.blocks():
                mod = lin(blk.adaln, sc)
                sh1, sc1, g1, sh2, sc2, g2 = (mod[k * W:(k + 1) * W] for k in range(6))
                qkv = [lin(blk.qkv, ln(v) * (1 + sc1) + sh1) for v in h]
                att = []
                for n in range(len(h)):
                    heads = []
                    for hd in range(H):
                        cols = slice(hd * dh, (hd + 1) * dh)
                        q = qkv[n][:W][cols]
                        s = torch.stack([q @ qkv[k][W:2 * W][cols] / math.sqrt(dh) for k in range(len(h))])
                        w = torch.exp(s - s.max())
                        w = w / w.sum()
                        heads.append(sum(w[k] * qkv[k][2 * W:][cols] for k in range(len(h))))
                    att.append(torch.cat(heads))
                h = [h[n] + g1 * lin(blk.proj, att[n]) for n in range(len(h))]
                h = [v + g2 * lin(blk.fc2, gelu(lin(blk.fc1, ln(v) * (1 + sc2) + sh2))) for v in h]
            mod = lin(m.final.adaln, sc)
            y = [lin(m.final.linear, ln(v) * (1 + mod[W:]) + mod[:W]) for v in h]
            res = torch.zeros(C, S, S, dtype=x.dtype)
            for r in range(g):
                for q in range(g):
                    for i in range(p):
                        for j in range(p):
                            for c in range(C):
                                res[c, r * p + i, q * p + j] = y[r * g + q][(i * p + j) * C + c]
            out[b] = res.reshape(-1) + cg[b] * x[b] + gg[b] * lin(m.skip, x[b])
        return out

    def test_backward_runs(self):
        # The gradient reaches every parameter once adaLN-Zero's zeros are left
        # behind: step 1 moves final.linear (the only path to the output), step 2
        # the adaln layers behind it, step 3's gradient reaches time1 through them.
        torch.manual_seed(6)
        m = td.DiT(dim=64, channels=1, patch=4, width=8, depth=1, heads=2)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
        x, t = torch.randn(4, 64), torch.tensor([1, 2, 500, 900])
        for _ in range(3):
            opt.zero_grad()
            ((m(x, t) - x) ** 2).mean().backward()
            opt.step()
        for name, prm in m.named_parameters():
            self.assertTrue(prm.grad is not None and bool(torch.isfinite(prm.grad).all()), name)
            self.assertGreater(prm.grad.abs().max().item(), 0, name)


if __name__ == "__main__":
    unittest.main()
