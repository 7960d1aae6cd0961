"""plots.py: exact tiling by image_grid, valid PNGs from every save function."""

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from torch import nn

from layerwise.plots import (
    image_grid,
    plot_bars,
    plot_curves,
    plot_filters,
    plot_reconstructions,
    plot_samples,
    save_image_grid,
)

import layerwise as lw
from layerwise.models.cnn import build_cnn
from layerwise.models.csc import ConvSparseCoding, stack_maps


def assert_png(path, min_side=20):
    """The file is a PNG that reads back with a non-trivial size and more than one colour."""
    path = Path(path)
    assert path.suffix == ".png" and path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)  # RGB(A), as Agg writes it
    assert min(img.shape[:2]) >= min_side
    assert float(img[..., :3].std()) > 0
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    return img


# ----------------------------------------------------------------------------- image_grid


def test_grid_positions_and_padding():
    # Two 2x2 tiles with values in [0, 1]: no scaling, check every pixel.
    a = np.array([[0.0, 0.25], [0.5, 0.75]])
    b = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = image_grid(np.stack([a, b]), ncols=2, normalize=None, padding=1, pad_value=0.5)
    p = 0.5
    expected = np.array([
        [p, p, p, p, p, p, p],
        [p, 0.0, 0.25, p, 1.0, 0.0, p],
        [p, 0.5, 0.75, p, 0.0, 1.0, p],
        [p, p, p, p, p, p, p],
    ])
    np.testing.assert_array_equal(g, expected)


def test_grid_flat_rows_row_major_and_empty_cells():
    # Three 1x2 images from (N, D) rows with ncols=2: the third starts row two; the last
    # cell stays at pad_value.
    x = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    g = image_grid(x, shape=(1, 2), ncols=2, normalize=None, padding=0, pad_value=1.0)
    np.testing.assert_array_equal(g, [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 1.0, 1.0]])


def test_grid_default_ncols_is_ceil_sqrt():
    g = image_grid(np.zeros((5, 3, 3)), normalize=None, padding=1)
    # ceil(sqrt(5)) = 3 columns, 2 rows
    assert g.shape == (2 * 4 + 1, 3 * 4 + 1)


def test_grid_normalize_each_and_all():
    x = np.array([[0.0, 2.0], [10.0, 30.0]])  # two 1x2 images
    each = image_grid(x, shape=(1, 2), ncols=2, normalize="each", padding=0)
    np.testing.assert_array_equal(each, [[0.0, 1.0, 0.0, 1.0]])
    all_ = image_grid(x, shape=(1, 2), ncols=2, normalize="all", padding=0)
    np.testing.assert_allclose(all_, [[0.0, 2 / 30, 1 / 3, 1.0]])
    clipped = image_grid(x - 1.5, shape=(1, 2), ncols=2, normalize=None, padding=0)
    np.testing.assert_array_equal(clipped, [[0.0, 0.5, 1.0, 1.0]])


def test_grid_constant_tile_is_clipped_not_divided_by_zero():
    x = np.array([[0.3, 0.3], [0.0, 4.0]])
    g = image_grid(x, shape=(1, 2), ncols=2, normalize="each", padding=0)
    np.testing.assert_array_equal(g, [[0.3, 0.3, 0.0, 1.0]])
    assert np.isfinite(g).all()


def test_grid_rgb_is_hwc_and_each_scales_channels_together():
    x = np.zeros((2, 3, 1, 1))
    x[0, :, 0, 0] = [0.0, 1.0, 2.0]  # one RGB pixel per image
    x[1, :, 0, 0] = [4.0, 4.0, 8.0]
    g = image_grid(x, ncols=2, normalize="each", padding=1, pad_value=0.0)
    assert g.shape == (3, 5, 3)
    np.testing.assert_array_equal(g[1, 1], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(g[1, 3], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(g[0], 0.0)  # padding row
    # flat RGB rows with shape (C, H, W) give the same grid
    g2 = image_grid(x.reshape(2, 3), shape=(3, 1, 1), ncols=2, normalize="each", padding=1,
                    pad_value=0.0)
    np.testing.assert_array_equal(g, g2)


def test_grid_shape_inference_and_tensors():
    x = torch.arange(8.0).reshape(2, 2, 2) / 8  # (N, H, W) as a tensor needing no detach
    x.requires_grad_(True)
    g3 = image_grid(x, ncols=2, normalize=None, padding=0)
    g2 = image_grid(x.detach().reshape(2, 4).numpy(), ncols=2, normalize=None, padding=0)  # square D
    g1 = image_grid(x.detach().reshape(2, 4), shape=(2, 2), ncols=2, normalize=None, padding=0)
    expected = np.array([[0, 1, 4, 5], [2, 3, 6, 7]]) / 8
    for g in (g1, g2, g3):
        np.testing.assert_array_equal(g, expected)


@pytest.mark.parametrize(
    "images, kwargs, match",
    [
        (np.zeros((2, 5)), {"shape": (2, 2)}, "5 values per sample"),
        (np.zeros((2, 5)), {}, "not a square number"),
        (np.zeros((0, 4)), {}, "at least 1 sample"),
        (np.zeros(4), {}, "2 or 3 or 4-d"),
        (np.zeros((2, 2, 4, 4)), {}, "got 2 channels"),
        (np.zeros((2, 4)), {"shape": (2, 2, 1)}, "1 or 3 channels"),
        (np.zeros((2, 4)), {"shape": (2, 0)}, "'shape' parameter"),
        (np.zeros((2, 4)), {"shape": "2x2"}, "'shape' parameter"),
        (np.zeros((2, 4)), {"normalize": "max"}, "'normalize' parameter must be one of"),
        (np.zeros((2, 4)), {"padding": -1}, "'padding' parameter"),
        (np.zeros((2, 4)), {"ncols": 0}, "'ncols' parameter"),
        (np.array([[0.0, np.nan, 0.0, 0.0]]), {}, "finite"),
    ],
)
def test_grid_errors_name_the_bad_value(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_grid(images, **kwargs)


# ----------------------------------------------------------------------------- PNG writers


@pytest.fixture
def digits():
    """Twenty 8x8 'digits': a bar at a varying column, values 0..16 like sklearn's digits."""
    x = np.zeros((20, 8, 8))
    for i in range(20):
        x[i, 1:7, i % 6 + 1] = 16.0
        x[i, i % 8, 2:6] = 8.0
    return x.reshape(20, 64)


def test_save_image_grid_writes_png_and_upscales_small_tiles(tmp_path, digits):
    path = save_image_grid(digits, tmp_path / "deep" / "er" / "grid.png", shape=(8, 8), ncols=5)
    assert path == tmp_path / "deep" / "er" / "grid.png"
    img = assert_png(path)
    # 5 tiles of 8 px + 6 px padding = 46 px wide, shown 6x larger (48 px per tile)
    assert img.shape[1] >= 46 * 6


def test_save_image_grid_rgb_and_title(tmp_path):
    rng = np.random.default_rng(0)
    path = save_image_grid(rng.random((4, 3, 5, 5)), tmp_path / "rgb.png", title="colours")
    assert_png(path)


def test_save_overwrites_atomically(tmp_path, digits):
    path = tmp_path / "g.png"
    save_image_grid(digits[:4], path, shape=(8, 8))
    first = path.read_bytes()
    save_image_grid(digits[4:], path, shape=(8, 8))
    assert path.read_bytes() != first
    assert_png(path)


def test_bad_path_is_rejected_before_writing(tmp_path, digits):
    with pytest.raises(ValueError, match="'.png'"):
        save_image_grid(digits, tmp_path / "grid.jpg", shape=(8, 8))
    with pytest.raises(ValueError, match="5 values per sample"):
        save_image_grid(np.zeros((2, 5)), tmp_path / "x" / "bad.png", shape=(2, 2))
    assert list(tmp_path.iterdir()) == []


def test_plot_filters_from_weight_tensor(tmp_path):
    torch.manual_seed(0)
    weight = nn.Parameter(torch.randn(150, 64))  # (n_hidden, n_visible), needs grad
    path = plot_filters(weight, tmp_path / "filters.png", shape=(8, 8), max_filters=30,
                        title="RBM filters")
    assert_png(path)
    conv = torch.randn(6, 1, 5, 5)  # a conv weight with one input channel
    assert_png(plot_filters(conv, tmp_path / "conv.png"))
    with pytest.raises(ValueError, match="'max_filters'"):
        plot_filters(weight, tmp_path / "f.png", shape=(8, 8), max_filters=0)


def test_plot_reconstructions_rows(tmp_path, digits):
    x = digits / 16
    rng = np.random.default_rng(0)
    noisy = x * (rng.random(x.shape) > 0.3)
    rec = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    path = plot_reconstructions({"clean": x, "noisy": noisy, "reconstruction": rec},
                                tmp_path / "rec.png", shape=(8, 8), n=8, title="denoising")
    assert_png(path)
    with pytest.raises(ValueError, match="one shape"):
        plot_reconstructions({"a": np.zeros((2, 64)), "b": np.zeros((2, 16))}, tmp_path / "r.png")
    with pytest.raises(ValueError, match="'rows' parameter"):
        plot_reconstructions({}, tmp_path / "r.png")


def test_plot_samples_chains(tmp_path, digits):
    # 4 steps of 5 chains: rows are steps.
    path = plot_samples(digits / 16, tmp_path / "samples.png", shape=(8, 8), ncols=5,
                        title="Gibbs chains")
    assert_png(path)


def test_plot_curves(tmp_path):
    a = [{"epoch": e, "loss": 1 / e, "val_loss": 1.2 / e} for e in range(1, 6)]
    b = [{"epoch": e, "loss": 2 / e} for e in range(1, 4)]  # no val_loss: skipped for that key
    path = plot_curves({"rbm": a, "ae": b}, tmp_path / "curves.png",
                       keys=("loss", "val_loss", "never"), title="training", logy=True)
    assert_png(path)
    with pytest.raises(ValueError, match="recorded keys are"):
        plot_curves({"rbm": a}, tmp_path / "c.png", keys=("acc",))
    with pytest.raises(TypeError, match="must be a number"):
        plot_curves({"rbm": [{"epoch": 1, "loss": "x"}]}, tmp_path / "c.png")


# ----------------------------------------------------------------------------- figures of the conv models


def small_digits(n=200):
    x, _ = lw.datasets.load("digits")
    return x[:n].reshape(-1, 1, 8, 8)


def test_plot_csc_writes_a_png(tmp_path):
    plot_csc = lw.plots.plot_csc
    torch.manual_seed(0)
    m = ConvSparseCoding(1, 6, 3, lam=10.0, n_iter=20)
    out = plot_csc(m, small_digits(10), tmp_path / "csc" / "layer1.png", n_images=3, n_maps=4)
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    second = ConvSparseCoding(6, 4, 3, lam=10.0, n_iter=20)  # 6-channel input: shown as norms
    maps = stack_maps(m(small_digits(4)), pool=2)
    assert plot_csc(second, maps, tmp_path / "layer2.png").exists()


def test_plot_csc_checks_the_images_with_the_model():
    m = ConvSparseCoding(1, 6, 3, n_iter=5)
    with pytest.raises(ValueError, match="2 channel"):
        lw.plots.plot_csc(m, torch.rand(3, 2, 8, 8), Path("unused.png"))


def test_projection_figure_is_written(tmp_path):
    torch.manual_seed(0)
    net = build_cnn("cnn-2", (1, 16, 16))
    d = lw.deconv.DeconvNet(net)
    x = torch.rand(40, 256)
    chans = lw.deconv.strongest_channels(d, x, 1, n=3)
    assert len(chans) == 3 and len(set(chans)) == 3
    best = d.features(x, 1).flatten(2).amax(dim=(0, 2))
    assert best[chans[0]] == best.max()
    path = lw.deconv.projection_figure(d, x, tmp_path / "proj.png", top=4, title="two layers")
    assert path.stat().st_size > 1000
    from matplotlib.image import imread
    assert imread(path).shape[0] > 200             # 8 rows of patches
    with pytest.raises(ValueError, match="'layer'"):
        lw.deconv.projection_figure(d, x, tmp_path / "bad.png", layers=[2])


def test_the_package_never_imports_pyplot_nor_a_model():
    # every module of layerwise.plots: figures only; models are duck-typed (hints under TYPE_CHECKING)
    import ast
    import pkgutil

    from layerwise import plots

    names = [m.name for m in pkgutil.iter_modules(plots.__path__)]
    assert {"images", "charts", "conv"} <= set(names)
    for name in names:
        path = Path(plots.__path__[0]) / f"{name}.py"
        tree = ast.parse(path.read_text())
        for node in tree.body:  # top level only: an `if TYPE_CHECKING:` block is not a statement of these
            if isinstance(node, ast.ImportFrom):
                assert "models" not in (node.module or "") and "pyplot" not in (node.module or ""), (name, node.module)
            elif isinstance(node, ast.Import):
                assert not any("pyplot" in a.name for a in node.names), name


def test_plot_bars_grouped_and_stacked(tmp_path):
    labels = ["RBM", "AE", "DBN"]
    series = {"pre-training": [12.0, 8.0, 20.0], "fine-tuning": [3, 3, 4]}
    assert_png(plot_bars(labels, series, tmp_path / "grouped.png", "seconds", title="time"))
    assert_png(plot_bars(labels, series, tmp_path / "stacked.png", "seconds", stacked=True))
    with pytest.raises(ValueError, match="2 values but there are 3 labels"):
        plot_bars(labels, {"x": [1.0, 2.0]}, tmp_path / "b.png", "seconds")


# ----------------------------------------------------------------------------- callback


def test_never_uses_pyplot():
    # Figures come from matplotlib.figure.Figure + FigureCanvasAgg: no display, no global state.
    import inspect

    from layerwise import plots

    imports = [line for line in inspect.getsource(plots).splitlines()
               if line.lstrip().startswith(("import ", "from "))]
    assert imports and not any("pyplot" in line for line in imports)
