"""load(), the data root, available(): the package's entry points, and the shims of old paths."""

import importlib
import sys

import pytest
from _idx_files import need, write_fake_mnist

from layerwise import datasets as ds


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("LAYERWISE_MIRROR", raising=False)


@pytest.fixture(scope="session")
def mnist_root(data_root):
    return need(data_root, "mnist")


# ------------------------------------------------------------------------------------------
# bad input, data root, available
# ------------------------------------------------------------------------------------------
def test_bad_name_split_scale_options():
    with pytest.raises(ValueError, match="'name'.*'digits'.*'mnist'.*'fashion-mnist'.*Got 'cifar'"):
        ds.load("cifar")
    with pytest.raises(ValueError, match="'split'.*'train', 'test'.*Got 'valid'"):
        ds.load("digits", "valid")
    with pytest.raises(ValueError, match="'scale'"):
        ds.load("digits", scale="std")
    with pytest.raises(ValueError, match="'scale'"):
        ds.load("digits", scale=0)
    with pytest.raises(TypeError, match="unexpected option.*'path'"):
        ds.load("digits", path="x")
    with pytest.raises(TypeError, match="'flatten'"):
        ds.load("digits", flatten="yes")


def test_missing_file_message(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        ds.load("mnist", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "download=True" in msg and "LAYERWISE_DATA" in msg and "root argument" in msg
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=r"\$LAYERWISE_DATA") as err:
        ds.load("fashion-mnist", "test")
    assert str(tmp_path / "env" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz") in str(err.value)


def test_data_root_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "env"))
    assert ds.data_root() == tmp_path / "env"
    assert ds.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LAYERWISE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ds.data_root() == tmp_path / "home" / ".cache" / "layerwise"
    with pytest.raises(TypeError, match="'root'"):
        ds.data_root(3)


def test_available(tmp_path, mnist_root):
    write_fake_mnist(tmp_path, folder="fashion-mnist")
    rows = {r["name"]: r for r in ds.available(tmp_path)}
    assert list(rows) == list(ds.NAMES)
    assert rows["fashion-mnist"]["found"] is True and rows["mnist"]["found"] is False
    assert rows["mnist"]["location"] == str(tmp_path / "mnist")
    assert rows["digits"]["found"] is True
    assert all(set(r) >= {"name", "description", "location", "found"} for r in rows.values())
    assert {r["name"]: r["found"] for r in ds.available(mnist_root)}["mnist"] is True
    table = ds.format_available(list(rows.values())).splitlines()
    assert table[0].split() == ["name", "found", "location", "description"]
    assert len(table) == 1 + len(ds.NAMES)
    mnist_line = next(line for line in table if line.startswith("mnist "))
    assert "no (download=True)" in mnist_line and str(tmp_path / "mnist") in mnist_line


# ------------------------------------------------------------------------------------------
# the registry and the old module path of the face loaders
# ------------------------------------------------------------------------------------------
def test_registry_names_and_options():
    assert tuple(ds.REGISTRY) == ds.NAMES
    assert ds.REGISTRY["wiki"].options == ds.faces.OPTIONS["wiki"]
    assert [name for name, spec in ds.REGISTRY.items() if spec.downloadable] == list(ds.SHA256)
    with pytest.raises(TypeError, match=r"load\('arrays'\) got unexpected option.*'size'.*accepts path, label_column"):
        ds.load("arrays", size=(2, 2))
    with pytest.raises(TypeError, match="needs path="):
        ds.load("image-folder")


def test_old_faces_module_warns_and_reexports():
    sys.modules.pop("layerwise.faces", None)
    with pytest.warns(FutureWarning, match="layerwise.faces is deprecated.*layerwise.datasets.faces"):
        old = importlib.import_module("layerwise.faces")
    assert set(old.__all__) == set(ds.faces.__all__)
    for name in old.__all__:
        assert getattr(old, name) is getattr(ds.faces, name)
    assert old.NAMES == ds.faces.NAMES == ("wiki", "imdb", "utkface")
