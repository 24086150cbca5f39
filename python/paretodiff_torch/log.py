"""ProbeLog: the probe log folder of ``paretodiff conflict`` (conflict/log.go), from Python.

The folder holds
  * probe.json: the probe's settings and bins (conflict.Info), written once;
  * probes.jsonl: one JSON object per probe with the keys step, losses, norms,
    negative_fraction, mean_cosine, min_cosine, cosine_by_distance, [solutions],
    seconds, gram and cosine (the NPY paths relative to the folder), rewritten whole
    with each new line;
  * gram/step-NNNNNNNN.npy and cosine/step-NNNNNNNN.npy: the K x K float64 Gram and
    cosine matrices of each probe.
Every file is replaced atomically (a temporary file in the same folder, synced and
renamed over the destination), the matrices before the line that names them, so an
interrupted run leaves the previous probes complete. Numbers are formatted as Go's
strconv 'g' shortest form, non-finite ones as the strings "NaN", "+Inf", "-Inf".
conflict.ReadLog reads the folder (a Go test in python/ checks it), and so does
``paretodiff analyze``.

Under torch.distributed only rank 0 writes; the other ranks' ProbeLog does nothing.
"""

import decimal
import io
import json
import math
import os
import tempfile

import numpy as np

INFO_FILE, RECORDS_FILE, GRAM_DIR, COSINE_DIR = "probe.json", "probes.jsonl", "gram", "cosine"


def matrix_name(step):
    """The file name of a probe's matrix: step-00001000.npy for step 1000."""
    return f"step-{int(step):08d}.npy"


def cosine(G):
    """C_ij = G_ij / sqrt(G_ii G_jj), clamped to [-1, 1], C_ii = 1; NaN where a norm is 0 (gram.Cosine)."""
    G = np.asarray(G, dtype=np.float64)
    K = G.shape[0]
    C = np.full((K, K), np.nan)
    for i in range(K):
        for j in range(i, K):
            d = math.sqrt(G[i, i] * G[j, j]) if G[i, i] * G[j, j] >= 0 else math.nan
            if d > 0:
                v = 1.0 if i == j else max(-1.0, min(1.0, G[i, j] / d))
                C[i, j] = C[j, i] = v
    return C


def summarize(G):
    """The statistics of a Gram matrix the records carry (conflict.Summarize)."""
    G = np.asarray(G, dtype=np.float64)
    K = G.shape[0]
    C = cosine(G)
    by = [0.0] * K
    counts = [0] * K
    pairs = neg = 0
    total, low = 0.0, math.nan
    for i in range(K):
        for j in range(i + 1, K):
            v = C[i, j]
            if math.isnan(v):
                continue
            pairs += 1
            total += v
            neg += v < 0
            if math.isnan(low) or v < low:
                low = v
            by[j - i] += v
            counts[j - i] += 1
    ratio = lambda s, n: s / n if n else math.nan  # noqa: E731
    by = [1.0] + [ratio(by[d], counts[d]) for d in range(1, K)]
    return {
        "norms": [math.sqrt(max(0.0, G[i, i])) for i in range(K)],
        "negative_fraction": ratio(float(neg), pairs),
        "mean_cosine": ratio(total, pairs),
        "min_cosine": low,
        "cosine_by_distance": by,
    }


def go_number(v):
    """v as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it, non-finite as a quoted string."""
    v = float(v)
    if math.isnan(v):
        return '"NaN"'
    if math.isinf(v):
        return '"+Inf"' if v > 0 else '"-Inf"'
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(v)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    exp = len(ds) + exponent - 1
    s = "-" if sign else ""
    if exp < -4 or exp >= 6:  # Go's shortest 'g' switches to %e at these exponents
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{s}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{s}0.{'0' * (-exp - 1)}{ds}"
    if len(ds) <= exp + 1:
        return s + ds + "0" * (exp + 1 - len(ds))
    return f"{s}{ds[:exp + 1]}.{ds[exp + 1:]}"


def _encode(value):
    """Compact JSON as Go's encoding/json writes it, floats through go_number."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _encode(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return go_number(value)


def write_atomic(path, data):
    """Replaces path by data (bytes) atomically: a synced temporary file renamed over it."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:
        dfd = os.open(d, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    except OSError:
        pass


def write_npy(path, matrix):
    """A 2-D float64 C-order NPY file, replaced atomically."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(np.asarray(matrix, dtype="<f8")))
    write_atomic(path, buf.getvalue())


def _rank():
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except ImportError:
        pass
    return 0


class ProbeLog:
    """Writes a probe log folder (see the module doc), replacing any earlier log in dir.

    ``bins``: a Bins (its T is the schedule's). ``per_bin``: examples per bin of a probe
    batch (0 when they vary). ``selected``: the number of parameters probed.
    ``target``, ``schedule``, ``zero_terminal``: the model's diffusion, as paretodiff
    names them. ``methods``, ``lambda_``, ``normalizer``: the Pareto solves' settings
    when records carry solutions (None: no solutions). ``rank``: None for
    torch.distributed's rank (0 without it); only rank 0 writes.
    """

    def __init__(self, dir, bins, *, per_bin=0, params="all", selected=0, task="constant", target="eps",
                 schedule="cosine", zero_terminal=False, methods=None, lambda_=0.0, normalizer="", fresh=True,
                 seed=0, gram="one-pass", rank=None):
        self.dir, self.K = dir, bins.K
        self.active = (_rank() if rank is None else rank) == 0
        self._lines = []
        self.info = {
            "bin_edges": list(bins.edges), "bin_labels": bins.labels(), "per_bin": int(per_bin), "params": params,
            "selected": int(selected), "task": task, "target": target, "schedule": schedule, "T": bins.T,
            "zero_terminal": bool(zero_terminal), "methods": None if methods is None else list(methods),
            "lambda": float(lambda_), "normalizer": normalizer, "fresh": bool(fresh), "seed": int(seed), "gram": gram,
        }
        if not self.active:
            return
        for d in (dir, os.path.join(dir, GRAM_DIR), os.path.join(dir, COSINE_DIR)):
            os.makedirs(d, exist_ok=True)
        write_atomic(os.path.join(dir, INFO_FILE), (_indent_json(self.info) + "\n").encode())
        write_atomic(os.path.join(dir, RECORDS_FILE), b"")

    def append(self, step, G, losses, seconds=0.0, solutions=None):
        """Writes one probe: its Gram G (K x K), the bins' losses, its wall time in seconds,
        and optional solutions (dicts with method, w, f, gap, norm_sq, iterations, status).
        Returns the record as written (a dict)."""
        G = np.asarray(G.cpu().numpy() if hasattr(G, "cpu") else G, dtype=np.float64)
        losses = [float(v) for v in (losses.tolist() if hasattr(losses, "tolist") else losses)]
        if G.shape != (self.K, self.K) or len(losses) != self.K:
            raise ValueError(f"paretodiff_torch: a probe of {self.K} bins needs a {self.K}x{self.K} Gram and {self.K} losses, "
                             f"got {G.shape} and {len(losses)}")
        if int(step) < 0:
            raise ValueError(f"paretodiff_torch: step {step} is negative")
        name = matrix_name(step)
        gp, cp = GRAM_DIR + "/" + name, COSINE_DIR + "/" + name
        rec = {"step": int(step), "losses": losses}
        rec.update(summarize(G))
        if solutions:
            rec["solutions"] = [
                {"method": s["method"], "w": [float(x) for x in s["w"]], "f": float(s.get("f", math.nan)),
                 "gap": float(s.get("gap", math.nan)), "norm_sq": float(s.get("norm_sq", math.nan)),
                 "iterations": int(s.get("iterations", 0)), "status": s.get("status", "")}
                for s in solutions
            ]
        rec.update({"seconds": float(seconds), "gram": gp, "cosine": cp})
        if self.active:
            write_npy(os.path.join(self.dir, gp), G)
            write_npy(os.path.join(self.dir, cp), cosine(G))
            self._lines.append(_encode(rec))
            write_atomic(os.path.join(self.dir, RECORDS_FILE), ("\n".join(self._lines) + "\n").encode())
        return rec


def _indent_json(value, level=0):
    """JSON indented by two spaces, as Go's json.MarshalIndent(v, "", "  ") writes it."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_indent_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _indent_json(v, level + 1) for v in value) + "\n" + pad + "]"
    return _encode(value)
