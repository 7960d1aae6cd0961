"""Face loaders: IMDB-WIKI on a fixture in the real layout and on the real wiki.mat; UTKFace on the real data."""

import os
import warnings
from datetime import date

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from layerwise import datasets as ds
from layerwise.datasets import faces

WIKI_MAT = ("imdb-wiki", "wiki_crop", "wiki.mat")
FACE = (250, 250, 40)  # the face box's colour; Pillow's "L" makes it 231
BACKGROUND = (10, 10, 10)
# The fixture's bad-face-box row warns whenever its split is loaded; tests that count it record it.
pytestmark = pytest.mark.filterwarnings("ignore:wiki. skipped 1 image:UserWarning")


def datenum(y, m, d):
    """MATLAB's datenum: day 1 is 0000-01-01, so Python's ordinal + 366."""
    return date(y, m, d).toordinal() + 366


def _cell(values):
    """A 1 x N MATLAB cell array."""
    cell = np.empty((1, len(values)), dtype=object)
    for i, v in enumerate(values):
        cell[0, i] = v
    return cell


def _row(gender=1.0, face=3.0, second=np.nan, born=(1980, 5, 5), taken=2010, size=(60, 40), box=(30, 10, 50, 30),
         image="ok"):
    return dict(gender=gender, face=face, second=second, dob=datenum(*born), taken=taken, size=size, box=box,
                image=image)


# 14 good rows (7 male, 7 female; one box reaching past the image's edge), then one row per reason
# to drop (the last one failing two tests: counted under the first), then three rows whose image
# is skipped.
ROWS = (
    [_row(gender=float(i % 2), **(dict(size=(80, 50), box=(40, 10, 70, 40)) if i % 3 else {})) for i in range(13)]
    + [_row(gender=0.0, box=(45, 25, 65, 45))]
    + [
        _row(gender=np.nan),                     # gender_unknown
        _row(face=-np.inf),                      # no_face
        _row(face=0.5),                          # low_face_score
        _row(second=1.2),                        # second_face
        _row(born=(1850, 1, 1)),                 # implausible_age (160)
        _row(gender=np.nan, face=-np.inf),       # gender_unknown, not no_face
        _row(gender=0.0, image="missing"),
        _row(gender=1.0, image="corrupt"),
        _row(gender=0.0, box=(30, 30, 10, 10)),  # bad_face_box
    ]
)
N_GOOD = 14
DROPS = {"gender_unknown": 2, "no_face": 1, "low_face_score": 1, "second_face": 1, "implausible_age": 1}
SKIPS = {"missing": 1, "unreadable": 1, "bad_face_box": 1}


def write_wiki(root, rows=ROWS, folder=WIKI_MAT[:-1], name="wiki"):
    """The IMDB-WIKI layout: <root>/<folder>/<name>.mat and the images beside it at full_path."""
    base = root.joinpath(*folder)
    paths = []
    for i, r in enumerate(rows):
        rel = f"{i % 3:02d}/{1000 + i}_{2010 - 30}-05-05_{r['taken']}.jpg"
        paths.append(rel)
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if r["image"] == "corrupt":
            target.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        elif r["image"] == "ok":
            im = Image.new("RGB", r["size"], BACKGROUND)
            x1, y1, x2, y2 = r["box"]
            if x2 > x1:
                im.paste(FACE, (x1, y1, min(x2, r["size"][0]), min(y2, r["size"][1])))
            im.save(target, quality=95)
    struct = {
        "dob": np.array([[r["dob"] for r in rows]], dtype=np.int32),
        "photo_taken": np.array([[r["taken"] for r in rows]], dtype=np.uint16),
        "full_path": _cell([np.array([p]) for p in paths]),
        "gender": np.array([[r["gender"] for r in rows]]),
        "name": _cell([np.array([f"Person {i}"]) if i % 5 else np.array([], dtype="<U1") for i in range(len(rows))]),
        "face_location": _cell([np.array([r["box"]], dtype=np.uint8 if i % 2 else float) for i, r in enumerate(rows)]),
        "face_score": np.array([[r["face"] for r in rows]]),
        "second_face_score": np.array([[r["second"] for r in rows]]),
    }
    base.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(base / f"{name}.mat", {name: struct})
    return base / f"{name}.mat"


@pytest.fixture
def wiki_root(tmp_path):
    write_wiki(tmp_path / "data")
    return tmp_path / "data"


def load_both(root, **options):
    """Both splits with their infos, warnings recorded."""
    out = {}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for split in ds.SPLITS:
            out[split] = ds.load("wiki", split, root=root, return_info=True, verbose=False, **options)
    return out, [str(w.message) for w in rec]


# ------------------------------------------------------------------------------------------
# IMDB-WIKI on the fixture
# ------------------------------------------------------------------------------------------
def test_wiki_table_reads_the_cells(wiki_root):
    table = faces.imdb_wiki_table(wiki_root.joinpath(*WIKI_MAT))
    n = len(ROWS)
    assert all(len(v) == n for v in table.values())
    assert table["full_path"][1] == "01/1001_1980-05-05_2010.jpg"
    assert table["name"][0] == "" and table["name"][1] == "Person 1"
    np.testing.assert_array_equal(table["face_location"], np.array([r["box"] for r in ROWS], dtype=np.float64))
    np.testing.assert_array_equal(table["gender"], [r["gender"] for r in ROWS])
    np.testing.assert_array_equal(table["y"], [-1 if np.isnan(r["gender"]) else 1 - r["gender"] for r in ROWS])
    assert table["age"][0] == 30 and table["age"][18] == 160
    assert np.isneginf(table["face_score"][15]) and table["second_face_score"][17] == 1.2


def test_age_at_photo_is_completed_years_on_july_first():
    born = [(1980, 1, 1), (1980, 7, 1), (1980, 7, 2), (1980, 12, 31), (2000, 2, 29)]
    ages = faces.age_at_photo([datenum(*b) for b in born], [2010] * 5)
    np.testing.assert_array_equal(ages, [30, 30, 29, 29, 10])
    assert np.isnan(faces.age_at_photo([np.nan], [2010])[0])


def test_wiki_clean_counts_each_row_once(wiki_root):
    table = faces.imdb_wiki_table(wiki_root.joinpath(*WIKI_MAT))
    cleaned, counts = faces.clean_imdb_wiki(table)
    assert list(counts) == list(faces.DROP_REASONS) and counts == DROPS
    assert len(cleaned["row"]) + sum(counts.values()) == len(ROWS)
    assert list(cleaned["row"]) == list(range(N_GOOD)) + [20, 21, 22]
    loose, counts = faces.clean_imdb_wiki(table, min_face_score=None, drop_second_face=False, max_age=None)
    assert counts == {"gender_unknown": 2, "no_face": 1, "low_face_score": 0, "second_face": 0, "implausible_age": 0}
    with pytest.raises(ValueError, match="lacks the column"):
        faces.clean_imdb_wiki({"gender": table["gender"]})


def test_wiki_load_labels_drops_and_skips(wiki_root, capsys):
    out, messages = load_both(wiki_root, cache=False)
    (Xtr, ytr, itr), (Xte, yte, ite) = out["train"], out["test"]
    rows = np.concatenate([itr["row"], ite["row"]])
    assert sorted(rows) == list(range(N_GOOD))  # the missing, corrupt and bad-box images are skipped
    assert not set(itr["row"]) & set(ite["row"]) and len(ite["row"]) >= 2
    gender = np.array([r["gender"] for r in ROWS])
    for y, info in ((ytr, itr), (yte, ite)):
        np.testing.assert_array_equal(y.numpy(), 1 - gender[info["row"]])  # y = 1 female
        assert info["dropped"] == DROPS and (info["age"] == 30).all()
    assert {k: itr["skipped"][k] + ite["skipped"][k] for k in SKIPS} == SKIPS
    assert any("skipped" in m and "not found" in m for m in messages)
    assert Xtr.shape == (len(ytr), 32 * 32) and Xtr.dtype == torch.float32 and float(Xtr.max()) <= 1.0
    assert faces.SEX_CLASSES[1] == "female"
    ds.load("wiki", "test", root=wiki_root, cache=False)
    printed = capsys.readouterr().out
    assert "wiki: 23 entries" in printed and "2 unknown gender" in printed and "1 a second face" in printed


def test_wiki_crop_margin_grayscale_rgb_and_size(wiki_root):
    kw = dict(root=wiki_root, cache=False, verbose=False, flatten=False, scale=None)
    with pytest.warns(UserWarning, match="skipped"):  # every image returned is a good one
        X, _ = ds.load("wiki", "train", margin=0.0, **kw)
    n = len(X)
    assert X.shape == (n, 1, 32, 32) and n >= 8
    assert float(X.mean()) > 200  # the crop is the bright face box
    with pytest.warns(UserWarning, match="skipped"):
        X, _ = ds.load("wiki", "train", margin=0.5, **kw)
    assert float(X.mean()) < 150  # with a margin it shows the dark background too
    with pytest.warns(UserWarning, match="skipped"):
        X, _ = ds.load("wiki", "train", margin=0.0, grayscale=False, size=(12, 8), **kw)
    assert X.shape == (n, 3, 8, 12)
    means = X.mean((0, 2, 3))
    assert means[0] > 200 and means[1] > 200 and means[2] < 80


def test_wiki_cache_round_trip(wiki_root, tmp_path):
    cache = tmp_path / "cache"
    kw = dict(root=wiki_root, cache_dir=cache, return_info=True, verbose=False)
    with pytest.warns(UserWarning, match="skipped"):
        first = [ds.load("wiki", s, **kw) for s in ds.SPLITS]
    assert not any(info["from_cache"] for *_, info in first)
    assert len(list(cache.glob("wiki-*.npz"))) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cached load opens no image, so warns of none
        again = [ds.load("wiki", s, **kw) for s in ds.SPLITS]
    for (X, y, info), (X2, y2, info2) in zip(first, again):
        assert info2["from_cache"] and info2["cache"] == info["cache"]
        assert torch.equal(X, X2) and torch.equal(y, y2)
        np.testing.assert_array_equal(info["row"], info2["row"])
        assert info2["dropped"] == info["dropped"] and info2["skipped"] == info["skipped"]
    assert faces.cached("wiki", "test", wiki_root, cache_dir=cache) == again[1][2]["cache"]
    assert faces.cached("wiki", "test", wiki_root, cache_dir=cache, size=(8, 8)) is None
    again[1][2]["cache"].write_bytes(b"PK\x03\x04 truncated")  # a damaged cache file is rebuilt
    with pytest.warns(UserWarning, match="ignoring the unreadable cache file"):
        X, y, info = ds.load("wiki", "test", **kw)
    assert not info["from_cache"] and torch.equal(X, first[1][0]) and torch.equal(y, first[1][1])
    assert ds.load("wiki", "test", **kw)[2]["from_cache"]
    mat = wiki_root.joinpath(*WIKI_MAT)
    os.utime(mat, ns=(mat.stat().st_atime_ns, mat.stat().st_mtime_ns + 10**9))  # an edited .mat: a new key
    assert faces.cached("wiki", "test", wiki_root, cache_dir=cache) is None


def test_wiki_cache_folder_falls_back_when_root_read_only(wiki_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ds.load("wiki", "test", root=wiki_root, verbose=False, limit=2)
    assert len(list((wiki_root / ".layerwise-cache" / "faces").glob("*.npz"))) == 1
    other = tmp_path / "ro"
    write_wiki(other)
    other.chmod(0o555)  # read-only by its mode bits; root would write anyway, the loader must not
    try:
        _, _, info = ds.load("wiki", "test", root=other, verbose=False, return_info=True, limit=2)
    finally:
        other.chmod(0o755)
    assert info["cache"].parent == tmp_path / "home" / ".cache" / "layerwise" / "faces"
    assert not (other / ".layerwise-cache").exists()
    read_only = tmp_path / "read-only-cache"
    read_only.mkdir(mode=0o555)
    with pytest.warns(UserWarning, match="no cache written: none of .*read-only-cache is writable"):
        ds.load("wiki", "test", root=wiki_root, verbose=False, limit=2, cache_dir=read_only)


def test_wiki_lookup_order_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        ds.load("wiki", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "imdb-wiki" / "wiki_crop" / "wiki.mat") in msg
    assert str(tmp_path / "wiki_crop" / "wiki.mat") in msg and "root argument" in msg
    write_wiki(tmp_path, folder=("wiki_crop",))  # the archive unpacked straight into the root
    assert faces.find_imdb_wiki("wiki", tmp_path) == tmp_path / "wiki_crop" / "wiki.mat"
    write_wiki(tmp_path)
    assert faces.find_imdb_wiki("wiki", tmp_path) == tmp_path.joinpath(*WIKI_MAT)
    X, _ = ds.load("wiki", "test", root=tmp_path, cache=False, verbose=False)
    assert X.shape[1] == 1024
    rows = {r["name"]: r for r in ds.available(tmp_path)}
    assert rows["wiki"]["found"] and rows["wiki"]["location"] == str(tmp_path.joinpath(*WIKI_MAT))
    assert not rows["imdb"]["found"] and not rows["utkface"]["found"]


def test_wiki_malformed_mat_files(tmp_path):
    mat = tmp_path.joinpath(*WIKI_MAT)
    mat.parent.mkdir(parents=True)
    scipy.io.savemat(mat, {"wiki": {"dob": np.zeros((1, 3)), "gender": np.ones((1, 3))}})
    with pytest.raises(ValueError, match=r"lacks the field\(s\) \['photo_taken', 'full_path', 'name'"):
        ds.load("wiki", root=tmp_path)
    scipy.io.savemat(mat, {"other": np.zeros(3), "more": np.ones(2)})
    with pytest.raises(ValueError, match=r"found the variable\(s\) \['more', 'other'\]"):
        faces.imdb_wiki_table(mat)
    mat.write_bytes(b"MATLAB 5.0 MAT-file, but not really")
    with pytest.raises(ValueError, match="could not read it as a MATLAB"):
        faces.imdb_wiki_table(mat)
    with pytest.raises(FileNotFoundError, match="nowhere.mat"):
        faces.imdb_wiki_table(tmp_path / "nowhere.mat")


def test_wiki_no_readable_image(tmp_path):
    write_wiki(tmp_path, rows=[_row(gender=float(i % 2), image="missing") for i in range(10)])
    with pytest.raises(ValueError, match=r"none of the images of the 8 selected rows.*\(8 missing\).*must lie beside"):
        ds.load("wiki", "train", root=tmp_path, cache=False, verbose=False, limit=10)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"margin": -0.1}, ValueError, "'margin' parameter must be a float in the range \\[0.0, inf\\)"),
        ({"size": (32,)}, ValueError, "'size' parameter must be a pair"),
        ({"size": (0, 32)}, ValueError, "'size'"),
        ({"grayscale": 1}, TypeError, "'grayscale' parameter must be a bool"),
        ({"limit": 0}, ValueError, "'limit' parameter must be an int in the range \\[1, inf\\)"),
        ({"limit": 2.5}, TypeError, "'limit'"),
        ({"min_face_score": "high"}, TypeError, "'min_face_score'"),
        ({"min_age": 50, "max_age": 10}, ValueError, "'min_age' parameter must not exceed 'max_age'"),
        ({"adults_only": True}, TypeError, "unexpected option.*'adults_only'"),
        ({"cache_dir": 3}, TypeError, "'cache_dir'"),
    ],
)
def test_wiki_bad_options_fail_before_any_work(tmp_path, options, error, match):
    with pytest.raises(error, match=match):
        ds.load("wiki", root=tmp_path, **options)  # tmp_path holds no .mat: the options fail first


def test_utkface_bad_options(tmp_path):
    with pytest.raises(ValueError, match="'crop' parameter must be a float in the range \\(0.0, 1.0\\]"):
        ds.load("utkface", root=tmp_path, crop=0)
    with pytest.raises(TypeError, match="unexpected option.*'margin'"):
        ds.load("utkface", root=tmp_path, margin=0.4)
    with pytest.raises(FileNotFoundError, match="utkface-crop_part1"):
        ds.load("utkface", root=tmp_path)


# ------------------------------------------------------------------------------------------
# The real wiki.mat (metadata only, no images)
# ------------------------------------------------------------------------------------------
# Default cleaning of the real file: the counts per reason and the rows kept, pinned.
WIKI_DROPS = {"gender_unknown": 2643, "no_face": 16233, "low_face_score": 1293, "second_face": 3972,
              "implausible_age": 49}
WIKI_KEPT = 38138


@pytest.fixture(scope="module")
def real_wiki(data_root):
    path = data_root.joinpath(*WIKI_MAT)
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_real_wiki_clean_counts(real_wiki):
    table = faces.imdb_wiki_table(real_wiki)
    assert len(table["row"]) == 62328
    cleaned, counts = faces.clean_imdb_wiki(table)
    assert counts == WIKI_DROPS and len(cleaned["row"]) == WIKI_KEPT
    assert sum(counts.values()) + WIKI_KEPT == 62328
    assert set(np.unique(cleaned["y"])) == {0, 1}

    # The same numbers straight from loadmat, with the ages from datetime.
    w = scipy.io.loadmat(real_wiki, squeeze_me=True)["wiki"]
    gender, score, second = (np.asarray(w[f].item(), float) for f in ("gender", "face_score", "second_face_score"))
    taken = np.asarray(w["photo_taken"].item(), dtype=int)
    age = np.empty(len(gender))
    for i, (d, t) in enumerate(zip(w["dob"].item(), taken)):
        born = date.fromordinal(int(d) - 366)
        age[i] = t - born.year - ((born.month, born.day) > (7, 1))
    np.testing.assert_array_equal(table["age"], age)
    masks = [np.isnan(gender), np.isneginf(score), score < 1.0, ~np.isnan(second), (age < 0) | (age > 100)]
    left = np.ones(len(gender), bool)
    for reason, mask in zip(faces.DROP_REASONS, masks):
        assert int((left & mask).sum()) == WIKI_DROPS[reason], reason
        left &= ~mask
    assert int(left.sum()) == WIKI_KEPT
    np.testing.assert_array_equal(cleaned["row"], np.flatnonzero(left))
    np.testing.assert_array_equal(cleaned["y"], 1 - gender[left])  # 1 female, 0 male


def test_real_wiki_found_but_images_missing(real_wiki, data_root):
    assert {r["name"]: r["found"] for r in ds.available(data_root)}["wiki"] is True
    with pytest.raises(ValueError, match="none of the images.*5 missing"):
        ds.load("wiki", "test", root=data_root, limit=5, cache=False, verbose=False)


# ------------------------------------------------------------------------------------------
# UTKFace, real data
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def utk_root(data_root):
    if not (data_root / faces.UTKFACE_FOLDER / "labels.csv").is_file():
        pytest.skip(f"{data_root / faces.UTKFACE_FOLDER} not found")
    return data_root


@pytest.fixture(scope="module")
def utk_table(utk_root):
    return faces.utkface_table(utk_root)


def test_utkface_table_against_provenance(utk_table):
    t = utk_table
    assert len(t["row"]) == 9780
    assert np.bincount(t["gender"] + 1).tolist() == [2, 4372, 5406]  # blank, male, female
    adult = (t["age"] >= 18) & (t["gender"] >= 0)
    assert adult.sum() == 5853 and np.bincount(t["gender"][adult]).tolist() == [2508, 3345]
    assert t["age"].min() == 1 and t["age"].max() == 110
    assert all(os.path.isabs(p) and p.endswith(".jpg.chip.jpg") for p in t["path"][:5])


def test_utkface_subset_labels_split_and_limit(utk_root, utk_table, tmp_path):
    kw = dict(root=utk_root, cache_dir=tmp_path, verbose=False, return_info=True)
    X, y, info = ds.load("utkface", "train", limit=300, **kw)
    assert X.shape == (300, 1024) and 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    assert 0.4 < float(y.float().mean()) < 0.7  # 55 % female overall
    np.testing.assert_array_equal(y.numpy(), utk_table["gender"][info["row"]])
    np.testing.assert_array_equal(info["age"], utk_table["age"][info["row"]])
    labelled = utk_table["gender"] >= 0
    test = faces.split_mask(np.where(labelled, 2 * utk_table["gender"] + (utk_table["age"] >= 18), -1))
    assert not test[info["row"]].any() and (np.diff(info["row"]) > 0).all()
    _, _, small = ds.load("utkface", "train", limit=50, **kw)
    assert set(small["row"]) <= set(info["row"])  # limit takes a prefix of one fixed order
    _, yte, ite = ds.load("utkface", "test", limit=100, **kw)
    assert test[ite["row"]].all() and len(yte) == 100
    assert test[labelled].sum() == 1956 and (~test[labelled]).sum() == 7822


def test_utkface_adults_only_rgb_and_crop(utk_root, tmp_path):
    kw = dict(root=utk_root, cache_dir=tmp_path, verbose=False, return_info=True, limit=40)
    X, y, info = ds.load("utkface", "test", adults_only=True, **kw)
    assert len(y) == 40 and (info["age"] >= 18).all() and info["dropped"]["under_18"] == 3925
    X, _, _ = ds.load("utkface", "test", grayscale=False, size=(24, 20), flatten=False, **kw)
    assert X.shape == (40, 3, 20, 24)
    Xc, _, _ = ds.load("utkface", "test", grayscale=False, size=(24, 20), flatten=False, crop=0.5, **kw)
    assert Xc.shape == X.shape and not torch.equal(X, Xc)


def test_utkface_full_load_from_cache(utk_root, utk_table):
    """Only when a full default load was cached before (it decodes 9,778 JPEGs: about 7 s)."""
    for split, n in (("train", 7822), ("test", 1956)):
        if faces.cached("utkface", split, utk_root) is None:
            pytest.skip("no cached full UTKFace load; run datasets.load('utkface', root=...) once")
        X, y, info = ds.load("utkface", split, root=utk_root, verbose=False, return_info=True)
        assert info["from_cache"] and X.shape == (n, 1024) and info["skipped"] == dict.fromkeys(faces.SKIP_REASONS, 0)
        np.testing.assert_array_equal(y.numpy(), utk_table["gender"][info["row"]])
