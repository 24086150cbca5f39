"""Timestep bins exactly as paretodiff's --bins reads them (weighting/bins.go).

Specs: ``t:K`` (K bins of near-equal width in t: edges floor(k T / K)), ``logsnr:K``
(equal width in log-SNR between logSNR[0] and logSNR[T-2]; a bin the grid would
leave empty holds one timestep) and ``edges:0,e1,...,T``. Bin k is
[edges[k], edges[k+1]). A test in python/ checks the edges against the Go code
for every schedule.
"""

import bisect
import math

import torch


class Bins:
    """K contiguous ranges of the timesteps 0..T-1; bin k is [edges[k], edges[k+1])."""

    def __init__(self, edges):
        self.edges = [int(e) for e in edges]

    @property
    def K(self):
        return len(self.edges) - 1

    @property
    def T(self):
        return self.edges[-1]

    def of(self, t):
        """The bin of each timestep: an int for an int, a LongTensor for a tensor."""
        if torch.is_tensor(t):
            edges = torch.tensor(self.edges[1:-1], device=t.device, dtype=torch.long)
            return torch.bucketize(t.long(), edges, right=True)
        return bisect.bisect_right(self.edges, int(t)) - 1

    def labels(self):
        """"lo-hi" (inclusive) for each bin, as the Go side names them."""
        return [f"{self.edges[k]}-{self.edges[k + 1] - 1}" for k in range(self.K)]

    def sample(self, per_bin, generator=None, device=None):
        """per_bin timesteps drawn uniformly inside each bin, bins in order: (K per_bin,) long."""
        lo = torch.tensor(self.edges[:-1], dtype=torch.float64).repeat_interleave(per_bin)
        hi = torch.tensor(self.edges[1:], dtype=torch.float64).repeat_interleave(per_bin)
        u = torch.rand(lo.numel(), generator=generator, dtype=torch.float64)
        t = torch.minimum(lo + (u * (hi - lo)).floor(), hi - 1).long()
        return t if device is None else t.to(device)

    def __repr__(self):
        return "edges:" + ",".join(str(e) for e in self.edges)

    def __eq__(self, other):
        return isinstance(other, Bins) and self.edges == other.edges


def equal_t(T, K):
    """K bins of near-equal width: edges floor(k T / K) (weighting.EqualT)."""
    if K < 1 or K > T:
        raise ValueError(f"paretodiff_torch: need 1 <= K <= T for {K} bins over T={T}")
    return Bins([k * T // K for k in range(K + 1)])


def equal_logsnr(log_snr, K):
    """K bins of equal width in log-SNR (weighting.EqualLogSNR), log_snr decreasing in t."""
    log_snr = [float(v) for v in log_snr]
    T = len(log_snr)
    if K < 1 or K > T:
        raise ValueError(f"paretodiff_torch: need 1 <= K <= T for {K} bins over T={T}")
    hi, lo = log_snr[0], log_snr[T - 1]
    if lo == -math.inf:
        lo = log_snr[T - 2]
    edges = [0] * (K + 1)
    edges[K] = T
    for k in range(1, K):
        cut = hi - (hi - lo) * float(k) / float(K)
        t = _search(T, lambda i: log_snr[i] < cut)  # first t below the cut
        edges[k] = max(t, edges[k - 1] + 1)
    for k in range(K - 1, 0, -1):
        edges[k] = min(edges[k], edges[k + 1] - 1)
    return Bins(edges)


def _search(n, f):
    """Go's sort.Search: the smallest i in [0, n) with f(i) true (n if none), f monotone."""
    lo, hi = 0, n
    while lo < hi:
        h = (lo + hi) // 2
        if not f(h):
            lo = h + 1
        else:
            hi = h
    return lo


def from_edges(T, edges):
    """Checked explicit edges 0 = e0 < e1 < ... < eK = T (weighting.FromEdges)."""
    edges = [int(e) for e in edges]
    if len(edges) < 2:
        raise ValueError(f"paretodiff_torch: bin edges need at least 2 values, got {len(edges)}")
    if edges[0] != 0 or edges[-1] != T:
        raise ValueError(f"paretodiff_torch: bin edges must start at 0 and end at T={T}, got {edges}")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"paretodiff_torch: bin edges must increase strictly, got {edges}")
    return Bins(edges)


def parse_bins(spec, log_snr):
    """Bins of a --bins spec for a schedule of T = len(log_snr) timesteps (weighting.ParseBins).

    ``log_snr`` is ln SNR(t) per timestep, e.g. schedule_table(...)["log_snr"].
    """
    kind, _, arg = spec.strip().partition(":")
    T = len(log_snr)
    if kind in ("t", "logsnr"):
        try:
            K = int(arg.strip())
        except ValueError:
            K = 0
        if K < 1:
            raise ValueError(f"paretodiff_torch: bins {spec!r}: {arg!r} is not a bin count >= 1")
        return equal_t(T, K) if kind == "t" else equal_logsnr(log_snr, K)
    if kind == "edges":
        try:
            edges = [int(f.strip()) for f in arg.split(",")]
        except ValueError:
            raise ValueError(f"paretodiff_torch: bins {spec!r}: not integer edges") from None
        return from_edges(T, edges)
    raise ValueError(f"paretodiff_torch: unknown bins {spec!r} (want t:K, logsnr:K or edges:0,e1,...,T)")
