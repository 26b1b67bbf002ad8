"""Image data of Appendix D without the network: MNIST from local IDX files, or scikit-learn's digits.

MNIST comes as four IDX files (LeCun's format, gzipped or not):

=============================  ==================================================
``train-images-idx3-ubyte``    magic ``0x00000803``: ``uint8`` images ``(N, 28, 28)``
``train-labels-idx1-ubyte``    magic ``0x00000801``: ``uint8`` labels ``(N,)``
``t10k-images-idx3-ubyte``     the 10,000 test images
``t10k-labels-idx1-ubyte``     their labels
=============================  ==================================================

:func:`mnist_dir` finds them: an explicit folder, else the ``EGD_MNIST_DIR`` environment
variable (``egd-grok train --mnist-dir`` sets it); in that folder, directly or in a
torchvision-style cache below it (``MNIST/raw/``). Nothing is downloaded. :func:`read_idx`
checks the magic number, the dtype code and the length against the header, and names the
file in every error.

Where MNIST is not at hand, the same setting runs on scikit-learn's 8x8 ``digits``
(1,797 images shipped with the package): :class:`ImageClassification` with task
``"digits"``. Both give pixels in ``[0, 1]`` (MNIST ``/255`` as torchvision's
``ToTensor``, digits ``/16``), flattened, float32, and int64 labels. The training set is
the first ``n_train`` images (Omnigrok's ``Subset(range(1000))``); the test set is the
official test split (MNIST) or the images after the training ones (digits).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .tasks import TaskData

#: Environment variable naming the folder of the four MNIST IDX files.
MNIST_ENV = "EGD_MNIST_DIR"
#: The four files by role, without the optional ``.gz``.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Sub-folders searched below the given folder (torchvision's cache layout first).
CACHE_SUBDIRS = (".", "MNIST/raw", "raw")
#: IDX dtype codes -> numpy dtypes (big-endian, as the format stores them).
IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGE_TASKS = ("digits", "mnist")
DIGITS_TOTAL = 1797


class IDXFormatError(ValueError):
    """An IDX file that cannot be read as one: wrong magic number, truncated, or too long."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in one IDX file (gzipped when its first bytes say so).

    ``IDXFormatError`` (a ``ValueError``) naming ``path`` when the magic number is not
    ``0x0000 TT NN`` with a known dtype code ``TT``, or the data are shorter or longer
    than the header's shape says.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError) as exc:
            raise IDXFormatError(f"{path}: not a readable gzip file ({exc})") from exc
    if len(raw) < 4:
        raise IDXFormatError(f"{path}: {len(raw)} bytes, too short for an IDX header (4-byte magic number)")
    zero, code, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        raise IDXFormatError(f"{path}: wrong magic number 0x{raw[:4].hex()} (an IDX file starts with 0x0000, a "
                             f"dtype code in {sorted(hex(c) for c in IDX_DTYPES)} and the number of dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f"{path}: truncated header ({len(raw)} bytes, {header} needed for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise IDXFormatError(f"{path}: {what}: {len(raw)} bytes, the header's shape {shape} of {dtype} "
                             f"needs {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"array dtype must be one of {sorted(str(d) for d in codes)}, got {array.dtype}")
    code = codes[native]
    body = (bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
            + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes())
    if compress or (compress is None and path.suffix == ".gz"):
        body = gzip.compress(body)
    path.write_bytes(body)
    return path


def mnist_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder that holds the four MNIST files: ``path``, else ``$EGD_MNIST_DIR``, searched
    directly and in ``MNIST/raw`` / ``raw`` below it. ``FileNotFoundError`` says what is missing."""
    root = path if path is not None else os.environ.get(MNIST_ENV)
    if not root:
        raise FileNotFoundError(f"MNIST is read from local files only: give the folder of its four IDX files "
                                f"({', '.join(MNIST_FILES.values())}, gzipped or not) with --mnist-dir or the "
                                f"{MNIST_ENV} environment variable, or use the task 'digits' (scikit-learn)")
    root = Path(root)
    for sub in CACHE_SUBDIRS:
        folder = root / sub
        if all(_find(folder, name) is not None for name in MNIST_FILES.values()):
            return folder
    missing = [n for n in MNIST_FILES.values() if _find(root, n) is None]
    raise FileNotFoundError(f"{root}: no MNIST IDX files there or in {list(CACHE_SUBDIRS[1:])} below it "
                            f"(missing in {root}: {missing}; '.gz' versions are accepted)")


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The four MNIST arrays by role (:data:`MNIST_FILES`), checked against each other."""
    folder = mnist_dir(path)
    arrays = {role: read_idx(_find(folder, name)) for role, name in MNIST_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise IDXFormatError(f"{folder}: {split} images of shape {images.shape} and labels of shape "
                                 f"{labels.shape} do not match (need (N, rows, cols) and (N,))")
        if labels.size and int(labels.max()) > 9:
            raise IDXFormatError(f"{folder}: {split} labels must be digits 0-9, found {int(labels.max())}")
    return arrays


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (shipped with the package): pixels ``/16`` as float32 ``(1797, 64)``, labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


@dataclass(frozen=True)
class ImageClassification:
    """Appendix D's image task: the first ``n_train`` training images, ``n_test`` test images.

    ``task``: ``"digits"`` (scikit-learn; the test set is the images after the first
    ``n_train``) or ``"mnist"`` (local IDX files, :func:`mnist_dir`; the official 10,000
    test images). ``n_test``: ``None`` for all of them.
    """

    task: str
    n_train: int = 1000
    n_test: int | None = None

    def __post_init__(self) -> None:
        if self.task not in IMAGE_TASKS:
            raise ValueError(f"task must be one of {IMAGE_TASKS}, got {self.task!r}")
        if isinstance(self.n_train, bool) or not isinstance(self.n_train, int) or self.n_train < 1:
            raise ValueError(f"n_train must be an integer >= 1, got {self.n_train!r}")
        if self.n_test is not None and (isinstance(self.n_test, bool) or not isinstance(self.n_test, int)
                                        or self.n_test < 1):
            raise ValueError(f"n_test must be None or an integer >= 1, got {self.n_test!r}")
        if self.task == "digits":
            available = DIGITS_TOTAL - self.n_train
            if available < 1 or (self.n_test or 0) > available:
                raise ValueError(f"digits has {DIGITS_TOTAL} images: n_train={self.n_train} and "
                                 f"n_test={self.n_test} do not fit")

    def build(self, device: torch.device | str = "cpu") -> TaskData:
        if self.task == "digits":
            x, y = load_digits_arrays()
            x_tr, y_tr = x[: self.n_train], y[: self.n_train]
            x_te, y_te = x[self.n_train:], y[self.n_train:]
        else:
            arrays = load_mnist()
            if self.n_train > len(arrays["train_labels"]):
                raise ValueError(f"n_train={self.n_train} exceeds the {len(arrays['train_labels'])} MNIST "
                                 f"training images")
            x_tr = arrays["train_images"][: self.n_train].reshape(self.n_train, -1).astype(np.float32) / 255.0
            y_tr = arrays["train_labels"][: self.n_train].astype(np.int64)
            x_te = arrays["test_images"].reshape(len(arrays["test_images"]), -1).astype(np.float32) / 255.0
            y_te = arrays["test_labels"].astype(np.int64)
        if self.n_test is not None:
            x_te, y_te = x_te[: self.n_test], y_te[: self.n_test]
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in (x_tr, y_tr, x_te, y_te)]
        return TaskData(*tensors, in_features=x_tr.shape[1], out_features=10, kind="multiclass").to(device)
