"""Bins, weights from paretodiff, x0 losses and ProbeLog on the Python side.

(python_test.go checks the bins against weighting.ParseBins and the log against
conflict.ReadLog and conflict.Log's bytes.)
"""

import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paretodiff_torch as pdt  # noqa: E402
from paretodiff_torch.log import go_number  # noqa: E402


def have_paretodiff():
    try:
        pdt.find_paretodiff()
        return True
    except FileNotFoundError:
        return False


class TestBins(unittest.TestCase):
    def test_of_and_labels(self):
        b = pdt.from_edges(10, [0, 3, 4, 10])
        self.assertEqual([b.of(t) for t in range(10)], [0, 0, 0, 1, 2, 2, 2, 2, 2, 2])
        self.assertEqual(b.of(torch.arange(10)).tolist(), [0, 0, 0, 1, 2, 2, 2, 2, 2, 2])
        self.assertEqual(b.labels(), ["0-2", "3-3", "4-9"])
        self.assertEqual(pdt.equal_t(10, 3).edges, [0, 3, 6, 10])

    def test_sample_stays_in_its_bin(self):
        b = pdt.from_edges(10, [0, 3, 4, 10])
        t = b.sample(50, generator=torch.Generator().manual_seed(1))
        self.assertEqual(b.of(t).tolist(), [0] * 50 + [1] * 50 + [2] * 50)
        self.assertEqual(set(t[100:].tolist()), set(range(4, 10)))

    def test_logsnr_hand_grid(self):
        # Equal cuts of [4, -4] in 4 at 2, 0, -2: first t below each cut.
        self.assertEqual(pdt.equal_logsnr([4, 3, 1.5, 0.5, -1, -3, -4], 4).edges, [0, 2, 4, 5, 7])
        # A grid that leaves a bin empty gives it one timestep.
        self.assertEqual(pdt.equal_logsnr([10, -9, -10], 3).edges, [0, 1, 2, 3])

    def test_bad_specs(self):
        for spec in ("t:0", "logsnr:x", "edges:0,5,4,10", "edges:1,10", "k:3", "t:11"):
            with self.subTest(spec=spec), self.assertRaises(ValueError):
                pdt.parse_bins(spec, [0.0] * 10)


@unittest.skipUnless(have_paretodiff(), "no paretodiff command (set PARETODIFF_BIN)")
class TestWeights(unittest.TestCase):
    def test_min_snr_for_eps_and_v(self):
        snr = pdt.schedule_table("cosine", 100)["snr"]
        for target, ref in (("eps", np.minimum(snr, 5) / snr), ("v", np.minimum(snr, 5) / (snr + 1)), ("x0", np.minimum(snr, 5))):
            w = pdt.weights(["min-snr:5", "constant"], target, T=100)
            np.testing.assert_allclose(w["min-snr:5"], ref, rtol=1e-14)
        self.assertEqual(pdt.weights("constant", "x0", T=100)["constant"].tolist(), [1.0] * 100)

    def test_schedule_table(self):
        tab = pdt.schedule_table("linear", 50, zero_terminal=True)
        self.assertEqual(tab["log_snr"][-1], -math.inf)
        np.testing.assert_allclose(np.exp(tab["log_snr"][:-1]), tab["snr"][:-1], rtol=1e-12)

    def test_bad_strategy(self):
        with self.assertRaisesRegex(RuntimeError, "unknown weighting"):
            pdt.weights("wat")


class TestX0Loss(unittest.TestCase):
    def test_eps_and_v_losses_in_x0_units(self):
        g = torch.Generator().manual_seed(2)
        B = 6
        ab = torch.linspace(0.05, 0.95, B, dtype=torch.float64).view(-1, 1)
        x0, eps, x0_hat = (torch.randn(B, 4, generator=g, dtype=torch.float64) for _ in range(3))
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        eps_hat = (xt - ab.sqrt() * x0_hat) / (1 - ab).sqrt()
        v, v_hat = ab.sqrt() * eps - (1 - ab).sqrt() * x0, ab.sqrt() * eps_hat - (1 - ab).sqrt() * x0_hat
        snr = (ab / (1 - ab)).view(-1)
        want = ((x0 - x0_hat) ** 2).mean(1)
        for target, loss in (("eps", ((eps - eps_hat) ** 2).mean(1)), ("v", ((v - v_hat) ** 2).mean(1)), ("x0", want)):
            torch.testing.assert_close(pdt.to_x0_loss(loss, target, snr), want, rtol=1e-12, atol=0)
        self.assertTrue(math.isnan(float(pdt.to_x0_loss(torch.ones(1), "eps", torch.zeros(1)))))

    def test_flow_velocity_loss_in_x0_units(self):
        g = torch.Generator().manual_seed(3)
        t = torch.linspace(0.1, 1.0, 5, dtype=torch.float64).view(-1, 1)
        x0, eps, x0_hat = (torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(3))
        xt = (1 - t) * x0 + t * eps
        u, u_hat = eps - x0, (xt - x0_hat) / t  # the velocity that predicts x0_hat
        snr = ((1 - t) / t).view(-1) ** 2
        torch.testing.assert_close(pdt.to_x0_loss(((u - u_hat) ** 2).mean(1), "flow", snr), ((x0 - x0_hat) ** 2).mean(1), rtol=1e-12, atol=0)


class TestProbeLog(unittest.TestCase):
    def test_summary_of_a_hand_gram(self):
        G = np.array([[4.0, -2.0, 0.0], [-2.0, 1.0, 0.5], [0.0, 0.5, 1.0]])
        s = pdt.summarize(G)
        self.assertEqual(s["norms"], [2.0, 1.0, 1.0])
        # cosines: (0,1) = -1, (0,2) = 0, (1,2) = 0.5
        self.assertAlmostEqual(s["mean_cosine"], -0.5 / 3)
        self.assertEqual(s["min_cosine"], -1.0)
        self.assertAlmostEqual(s["negative_fraction"], 1 / 3)
        self.assertEqual(s["cosine_by_distance"][0], 1.0)
        self.assertAlmostEqual(s["cosine_by_distance"][1], -0.25)
        self.assertEqual(s["cosine_by_distance"][2], 0.0)

    def test_go_numbers(self):
        got = [go_number(v) for v in (1234567.0, 100000.0, 1e6, 1e-4, 1.234e-5, 3.0, -0.5, 1e21, 123456789012.0, float("nan"), -math.inf)]
        self.assertEqual(got, ["1.234567e+06", "100000", "1e+06", "0.0001", "1.234e-05", "3", "-0.5", "1e+21",
                               "1.23456789012e+11", '"NaN"', '"-Inf"'])

    def test_files_and_ranks(self):
        bins = pdt.equal_t(100, 2)
        with tempfile.TemporaryDirectory() as d:
            log = pdt.ProbeLog(os.path.join(d, "a"), bins)
            log.append(5, torch.tensor([[1.0, 0.5], [0.5, 2.0]], dtype=torch.float64), [0.25, float("nan")])
            with open(os.path.join(d, "a", "probes.jsonl")) as f:
                line = json.loads(f.read())
            self.assertEqual(line["gram"], "gram/step-00000005.npy")
            self.assertEqual(line["losses"], [0.25, "NaN"])
            np.testing.assert_array_equal(np.load(os.path.join(d, "a", line["gram"])), [[1.0, 0.5], [0.5, 2.0]])
            self.assertEqual(sorted(os.listdir(os.path.join(d, "a"))), ["cosine", "gram", "probe.json", "probes.jsonl"])
            with self.assertRaises(ValueError):
                log.append(6, np.eye(3), [0, 0])
            pdt.ProbeLog(os.path.join(d, "b"), bins, rank=1).append(5, np.eye(2), [1, 1])
            self.assertFalse(os.path.exists(os.path.join(d, "b")))


if __name__ == "__main__":
    unittest.main()
