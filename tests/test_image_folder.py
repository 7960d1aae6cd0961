"""Your own images, one sub-folder per class: grayscale, RGB, resizing, skipped files, splits."""

import numpy as np
import pytest
import torch
from PIL import Image

from layerwise import datasets as ds


# ------------------------------------------------------------------------------------------
# image-folder
# ------------------------------------------------------------------------------------------
COLOURS = {"cat": [(200, 10, 30), (0, 0, 0), (255, 255, 255)], "dog": [(10, 120, 250), (90, 90, 90)]}


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "imgs"
    for cls, colours in COLOURS.items():
        (root / cls).mkdir(parents=True)
        for i, c in enumerate(colours):
            Image.new("RGB", (6, 4), c).save(root / cls / f"{i}.png")
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "dog" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def _luma(c):
    r, g, b = c
    return (r * 299 + g * 587 + b * 114) / 1000  # ITU-R 601-2, Pillow's "L"


def test_image_folder_grayscale_and_skip_warning(image_folder):
    with pytest.warns(UserWarning, match="skipped 1 file") as rec:
        X, y, classes = ds.load("image-folder", path=image_folder, return_classes=True)
    assert "broken.png" in str(rec[0].message)
    assert classes == ["cat", "dog"]
    assert y.tolist() == [0, 0, 0, 1, 1]
    assert X.shape == (5, 24) and X.dtype == torch.float32
    expected = [_luma(c) / 255 for c in COLOURS["cat"] + COLOURS["dog"]]
    np.testing.assert_allclose(X.mean(1).numpy(), expected, atol=1 / 255)
    assert float(X.std(1).max()) == 0.0  # solid images stay solid


def test_image_folder_rgb_resize_and_raw(image_folder):
    with pytest.warns(UserWarning):
        X, y = ds.load("image-folder", path=image_folder, grayscale=False, size=(3, 2), flatten=False,
                       scale=None)
    assert X.shape == (5, 3, 2, 3)  # (N, C, H, W), size is (width, height)
    for i, c in enumerate(COLOURS["cat"] + COLOURS["dog"]):
        np.testing.assert_array_equal(X[i].amax((1, 2)).numpy(), np.array(c, dtype=np.float32))
        np.testing.assert_array_equal(X[i].amin((1, 2)).numpy(), np.array(c, dtype=np.float32))
    with pytest.warns(UserWarning):
        Xg, _ = ds.load("image-folder", path=image_folder, size=(3, 2), flatten=False)
    assert Xg.shape == (5, 1, 2, 3)


def test_image_folder_jpeg_mixed_sizes_and_errors(tmp_path):
    root = tmp_path / "j"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.new("RGB", (8, 8), (100, 150, 200)).save(root / "a" / "x.jpg", quality=95)
    Image.new("L", (5, 7), 40).save(root / "b" / "y.png")
    with pytest.raises(ValueError, match="size=\\(width, height\\)"):
        ds.load("image-folder", path=root)
    X, y = ds.load("image-folder", path=root, size=(4, 4), grayscale=False)
    assert X.shape == (2, 48) and y.tolist() == [0, 1]
    np.testing.assert_allclose(X[0].reshape(3, -1).mean(1).numpy(), np.array([100, 150, 200]) / 255, atol=4 / 255)
    np.testing.assert_allclose(X[1].numpy(), 40 / 255, atol=1e-6)
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "a" / "bad.jpg").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipped 1"), pytest.raises(ValueError, match="no images found"):
        ds.load("image-folder", path=empty)
    with pytest.raises(ValueError, match="'size'"):
        ds.load("image-folder", path=root, size=(0, 4))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ds.load("image-folder", path=tmp_path / "nowhere")


def test_image_folder_split_subfolders(tmp_path):
    for split, n in (("train", 3), ("test", 1)):
        (tmp_path / split / "k").mkdir(parents=True)
        for i in range(n):
            Image.new("L", (2, 2), i).save(tmp_path / split / "k" / f"{i}.png")
    assert ds.load("image-folder", path=tmp_path)[0].shape == (3, 4)
    assert ds.load("image-folder", "test", path=tmp_path)[0].shape == (1, 4)
