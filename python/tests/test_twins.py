"""The PyTorch twins of the ResMLP and the DiT against the Go models.

The fixtures (export/testdata/twin/NAME/) are written by the Go test
export.TestTwinFixtures (go test ./export -run TestTwinFixtures -update): a tiny
trained checkpoint, its export model.safetensors, fixed inputs x.npy and t.npy, and
pred.npy, the Go model's predictions (EMA weights, as `paretodiff sample` uses them).
plain and precond are ResMLPs, dit a DiT on MNIST. A DiT with the learned input skip
is trained by `paretodiff train --model dit` at run time (python/python_test.go,
TestDiTTwinOfTrainedRun), whose 784² skip weights are too large to commit.

Run: /usr/bin/python3 -m unittest discover python/tests
"""

import json
import os
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
FIXTURES = os.path.join(HERE, "..", "..", "export", "testdata", "twin")

try:
    import numpy as np
    import torch
    from paretodiff_torch import twins
    HAVE_TORCH = True
except ImportError:  # the reason is printed by the skip
    HAVE_TORCH = False

# The bar: the twin predicts what the Go model predicts to 1e-5, relative to
# max(1, |prediction|) (the skips' gains reach b/σ_t ≈ 20 at t = 0, where float32
# carries 2e-6 of absolute rounding).
TWIN_TOL = 1e-5


def fixtures():
    return sorted(n for n in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, n)))


@unittest.skipUnless(HAVE_TORCH, "torch or numpy is not installed for this Python")
class TwinTest(unittest.TestCase):
    def load(self, name):
        d = os.path.join(FIXTURES, name)
        net = twins.from_safetensors(os.path.join(d, "model.safetensors"))
        x = np.load(os.path.join(d, "x.npy")).astype(np.float32)
        t = np.load(os.path.join(d, "t.npy")).astype(np.int64)
        want = np.load(os.path.join(d, "pred.npy"))
        return net, torch.from_numpy(x), torch.from_numpy(t), want

    def check(self, name, got, want):
        err = np.abs(got.astype(np.float64) - want) / np.maximum(1.0, np.abs(want))
        print("twin %s: max |Δ| %.3g, max |Δ|/max(1, |pred|) %.3g" % (name, np.abs(got - want).max(), err.max()), file=sys.stderr)
        self.assertLessEqual(err.max(), TWIN_TOL, name)

    def test_predicts_as_the_go_model(self):
        self.assertEqual(fixtures(), ["dit", "plain", "precond"])
        for name in fixtures():
            net, x, t, want = self.load(name)
            with torch.no_grad():
                got = net(x, t).numpy()
            self.check(name, got, want)

    def test_precond_fixture_uses_both_skips(self):
        net, x, t, want = self.load("precond")
        self.assertGreater(net.sigma_data, 0)
        self.assertIsNotNone(net.skip)
        self.assertEqual(net.meta["target"], "v")
        self.assertEqual(net.act_name, "gelu")
        # Without the skips the prediction is far from the Go model's: they matter.
        with torch.no_grad():
            sd, skip = net.sigma_data, net.skip
            net.sigma_data, net.skip = 0.0, None
            bare = net(x, t).numpy()
            net.sigma_data, net.skip = sd, skip
        self.assertGreater(np.abs(bare - want).max(), 1.0)

    def test_dit_fixture(self):
        net, x, t, want = self.load("dit")
        self.assertIsInstance(net, twins.DiTTwin)
        self.assertEqual(net.meta["format"], "paretodiff-dit-1")
        self.assertEqual((net.grid, net.width, net.heads, net.depth), (4, 8, 2, 2))
        self.assertIsNotNone(net.pos)  # the learned table, trained away from the sin-cos start
        fixed = twins.sincos_pos_table(8, 4)
        self.assertGreater((net.pos.detach() - fixed).abs().max().item(), 1e-4)
        # The trained adaLN is no longer zero: the blocks act (adaLN-Zero starts as identity).
        self.assertGreater(net.block0.adaln.weight.abs().max().item(), 1e-3)
        with torch.no_grad():
            got = net(x, t).numpy()
            # Without its blocks' output the prediction differs: they matter.
            saved = [getattr(net, "block%d" % i).adaln.weight.clone() for i in range(net.depth)]
            for i in range(net.depth):
                getattr(net, "block%d" % i).adaln.weight.zero_()
            bare = net(x, t).numpy()
            for i in range(net.depth):
                getattr(net, "block%d" % i).adaln.weight.copy_(saved[i])
        self.check("dit", got, want)
        self.assertGreater(np.abs(bare - want).max(), 1e-3)

    def test_float64_twin(self):
        for name in fixtures():
            net, x, t, want = self.load(name)
            with torch.no_grad():
                got = net.double()(x.double(), t).numpy()
            self.check(name + " (float64)", got, want)

    def test_state_dict_is_the_file(self):
        # The reader against a second parse of the header: every tensor of the file
        # but the schedule is a parameter of the twin, with the same shape and values.
        path = os.path.join(FIXTURES, "plain", "model.safetensors")
        with open(path, "rb") as f:
            raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0)
        header = json.loads(raw[8:8 + n])
        meta = header.pop("__metadata__")
        self.assertEqual(meta["format"], "pt")
        net = twins.ResMLPTwin.from_safetensors(path)
        state = net.state_dict()
        names = set(header) - {"schedule.alpha", "schedule.sigma"}
        self.assertEqual(names, set(state))
        ends = sorted(tuple(e["data_offsets"]) for e in header.values())
        self.assertEqual(ends[0][0], 0)
        for (_, hi), (lo, _) in zip(ends, ends[1:]):
            self.assertEqual(hi, lo)  # back to back
        self.assertEqual(ends[-1][1], len(raw) - 8 - n)
        for name in names:
            e = header[name]
            lo, hi = e["data_offsets"]
            v = np.frombuffer(raw[8 + n + lo:8 + n + hi], dtype="<f4").reshape(e["shape"])
            np.testing.assert_array_equal(v, state[name].numpy(), name)

    def test_bad_files(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            with open(p, "wb") as f:
                f.write(struct.pack("<Q", 1000) + b"{}")
            with self.assertRaises(ValueError):
                twins.read_safetensors(p)

    @unittest.skipUnless(HAVE_TORCH and torch.cuda.is_available(), "no CUDA device")
    def test_cuda(self):
        net, x, t, want = self.load("precond")
        net = net.cuda()
        with torch.no_grad():
            got = net(x.cuda(), t.cuda()).cpu().numpy()
        self.check("precond (cuda)", got, want)


if __name__ == "__main__":
    unittest.main()
