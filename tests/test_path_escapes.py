"""Paths from data and run files never leave their folder: listed images, symlinks, run and variant names."""

import os

import numpy as np
import pytest
import scipy.io
from PIL import Image
from test_faces import _cell, datenum, write_wiki

from layerwise import cli
from layerwise import datasets as ds
from layerwise.app.config import ConfigError, load_config
from layerwise.app.validate import check_name
from layerwise.datasets import faces

HEADER = "path,age,gender,race,timestamp,note\n"


def _image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4), value).save(path)


def _utkface(root, paths):
    """A UTKFace layout under ``root`` whose labels.csv lists ``paths`` (adult women, race 0)."""
    folder = root / "utkface-crop_part1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.csv").write_text(HEADER + "".join(f"{p},30,1,0,0,\n" for p in paths))
    return folder


def _load_split_with(root, row):
    """Load the split that holds table row ``row`` (the split is fixed; this finds which)."""
    for split in ds.SPLITS:
        _, _, info = ds.load("utkface", split, root=root, cache=False, verbose=False, return_info=True, size=(4, 4))
        if row in info["row"]:
            return info
    raise AssertionError(f"row {row} is in neither split")


# ---- UTKFace labels.csv --------------------------------------------------------------------------


@pytest.mark.parametrize("listed", ["../elsewhere/private.jpg", "images/../../elsewhere/private.jpg",
                                    "/etc/passwd", "..\\elsewhere\\private.jpg"])
def test_utkface_row_leaving_the_folder_is_refused_naming_the_line(tmp_path, listed):
    root = tmp_path / "data"
    _image(root / "elsewhere" / "private.jpg", 200)
    folder = _utkface(root, [f"images/{i}.jpg" for i in range(5)] + [listed])
    for i in range(5):
        _image(folder / "images" / f"{i}.jpg", 10)
    with pytest.raises(ValueError, match=r"labels\.csv, line 7: the listed file .* leaves the data set's folder"):
        faces.utkface_table(root)
    for split in ds.SPLITS:  # the table is refused before any image is opened, whichever split
        with pytest.raises(ValueError, match="line 7"):
            ds.load("utkface", split, root=root, cache=False, verbose=False)


def test_utkface_symlink_out_of_the_folder_is_refused(tmp_path):
    root = tmp_path / "data"
    _image(tmp_path / "private.jpg", 200)
    folder = _utkface(root, ["images/link.jpg"] * 12)
    (folder / "images").mkdir()
    (folder / "images" / "link.jpg").symlink_to(tmp_path / "private.jpg")
    for split in ds.SPLITS:
        with pytest.raises(ValueError, match=r"labels\.csv, line \d+: the listed file .*link\.jpg' resolves to "
                                             r".*private\.jpg, outside the data set's folder"):
            ds.load("utkface", split, root=root, cache=False, verbose=False, size=(4, 4))


def test_symlinks_inside_the_folder_and_a_symlinked_data_folder_still_load(tmp_path):
    real = tmp_path / "disk" / "utk"
    _utkface(real.parent, [])  # makes the parent; the data set folder itself is ``real``
    real.mkdir()
    (real / "labels.csv").write_text(HEADER + "".join(f"images/alias{i}.jpg,30,1,0,0,\n" for i in range(10)))
    _image(real / "images" / "real.jpg", 77)
    for i in range(10):
        (real / "images" / f"alias{i}.jpg").symlink_to(real / "images" / "real.jpg")
    root = tmp_path / "data"
    root.mkdir()
    (root / "utkface-crop_part1").symlink_to(real)  # the whole data set lives on another disk
    info = _load_split_with(root, 0)
    x, _ = ds.load("utkface", "train", root=root, cache=False, verbose=False, size=(4, 4), scale=None)
    assert len(info["row"]) > 0 and float(x.min()) == float(x.max()) == 77.0


# ---- IMDB-WIKI ---------------------------------------------------------------------------------


def _wiki_mat(path, full_paths):
    """A minimal wiki.mat whose rows list ``full_paths`` (women of 30 with one face)."""
    n = len(full_paths)
    struct = {
        "dob": np.full((1, n), datenum(1980, 5, 5), dtype=np.int32),
        "photo_taken": np.full((1, n), 2010, dtype=np.uint16),
        "full_path": _cell([np.array([p]) for p in full_paths]),
        "gender": np.zeros((1, n)),
        "name": _cell([np.array(["x"])] * n),
        "face_location": _cell([np.array([[0.0, 0.0, 4.0, 4.0]])] * n),
        "face_score": np.full((1, n), 3.0),
        "second_face_score": np.full((1, n), np.nan),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"wiki": struct})


@pytest.mark.parametrize("listed", ["../../../private.jpg", "/etc/passwd", "00/../../x.jpg"])
def test_wiki_full_path_leaving_the_folder_is_refused_naming_the_row(tmp_path, listed):
    mat = tmp_path / "data" / "imdb-wiki" / "wiki_crop" / "wiki.mat"
    _wiki_mat(mat, ["00/a.jpg", "01/b.jpg", listed])
    with pytest.raises(ValueError, match=r"wiki\.mat, full_path of row 2: the listed file"):
        faces.imdb_wiki_table(mat)
    with pytest.raises(ValueError, match="row 2"):
        ds.load("wiki", "train", root=tmp_path / "data", cache=False, verbose=False)


def test_wiki_image_symlinked_out_of_the_folder_is_refused(tmp_path):
    root = tmp_path / "data"
    mat = write_wiki(root)
    _image(tmp_path / "private.jpg", 200)
    table = faces.imdb_wiki_table(mat)
    for rel in table["full_path"]:  # every image becomes a link out: whichever rows a split reads
        target = mat.parent / rel
        target.unlink(missing_ok=True)
        target.symlink_to(tmp_path / "private.jpg")
    with pytest.raises(ValueError, match=r"wiki\.mat, row \d+: the listed file .* resolves to .*private\.jpg, outside"):
        ds.load("wiki", "train", root=root, cache=False, verbose=False)


# ---- image folders -----------------------------------------------------------------------------


def test_image_folder_refuses_links_leading_out(tmp_path):
    folder = tmp_path / "imgs"
    _image(folder / "cat" / "0.png", 10)
    _image(folder / "dog" / "0.png", 20)
    _image(tmp_path / "secret" / "s.png", 200)
    (folder / "dog" / "1.png").symlink_to(tmp_path / "secret" / "s.png")
    with pytest.raises(ValueError, match=r"class 'dog': the listed file 'dog/1\.png' resolves to .*secret/s\.png"):
        ds.load("image-folder", path=folder)
    (folder / "dog" / "1.png").unlink()
    (folder / "bird").symlink_to(tmp_path / "secret")  # a whole class folder elsewhere
    with pytest.raises(ValueError, match=r"class 'bird': the listed file 'bird/s\.png' resolves to"):
        ds.load("image-folder", path=folder)
    (folder / "bird").unlink()
    (folder / "dog" / "2.png").symlink_to(folder / "cat" / "0.png")  # inside: fine
    x, y = ds.load("image-folder", path=folder, scale=None)
    assert y.tolist() == [0, 1, 1] and x[:, 0].tolist() == [10.0, 20.0, 10.0]  # cat/0, dog/0, dog/2 -> cat/0


# ---- run and variant names ---------------------------------------------------------------------

BAD_NAMES = ["../../escaped", "..", ".", "a/b", "/tmp/abs", "a\\b", "", "  ", "x\x00y", "tab\there", "a..b"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(name):
    with pytest.raises(ConfigError, match="must be a non-empty name without path separators"):
        check_name("name", name)


@pytest.mark.parametrize("name", ["demo", "mnist_rbm-cd1", "run 2", "résumé", "v1.2"])
def test_good_names_pass(name):
    assert check_name("name", name) == name


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("key, value", [("name", "../../escaped"), ("name", "/tmp/abs-run"),
                                        ("variants", {"../../x": None}), ("variants", {"a/b": {}})])
def test_run_with_an_escaping_name_writes_nothing(tmp_path, monkeypatch, capsys, key, value):
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "bad.yaml").write_text(f"name: run\nseeds: [0]\n{key}: {value!r}\n".replace("None", "null"))
    before = _listing(tmp_path)
    assert cli.main(["run", "bad.yaml", "--no-progress"]) == 2  # no --out: the folder would be runs/<name>-...
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{key}' must be a non-empty name" in err
    assert _listing(tmp_path) == before
    assert not os.path.exists("/tmp/abs-run") or key != "name"
    with pytest.raises(ConfigError):
        load_config(work / "bad.yaml")
