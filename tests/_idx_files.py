"""Test helpers for the IDX data sets: file names, hand-written IDX files, a fake MNIST root."""

import gzip
import struct

import numpy as np
import pytest

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# Published facts, from shared/data/mnist/PROVENANCE.md.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def need(root, name):
    """``root`` when ``<root>/<name>/`` holds the four MNIST-layout files, else skip the test."""
    folder = root / name
    if not all((folder / f).is_file() for f in MNIST_FILES):
        pytest.skip(f"{name} files not found in {folder}")
    return root


def idx_bytes(array, code):
    """An IDX file written by hand: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array).astype(dtype).tobytes()


def write_fake_mnist(root, n_train=5, n_test=3, h=4, w=3, folder="mnist", n_train_labels=None):
    """Tiny IDX files in the MNIST layout; returns the arrays written."""
    rng = np.random.default_rng(0)
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n if split == "t10k" or n_train_labels is None else n_train_labels,))
        (d / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08)))
        (d / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels.astype(np.uint8), 0x08)))
        out[split] = (images, labels)
    return out
