"""Run files are read bounded and alias-free: a YAML bomb fails at once, in one line, writing nothing."""

import time

import pytest

from layerwise import cli
from layerwise.app.config import ConfigError, apply_overrides, load_config
from layerwise.app.validate import MAX_DEPTH, MAX_RUN_FILE_BYTES, parse_yaml, read_yaml


def bomb(levels=9, width=9):
    """The billion-laughs run file: each anchor lists ``width`` aliases of the one below (width**levels leaves)."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_nested_anchor_bomb_fails_fast_naming_the_first_alias(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb())
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - t0 < 0.5
    msg = str(info.value)
    assert "\n" not in msg
    assert "YAML aliases are not allowed" in msg and "'*a0' at line 2, column 10" in msg and str(path) in msg


def test_bomb_at_the_command_line_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bomb.yaml").write_text("name: x\ndata:\n  " + bomb().replace("\n", "\n  ").rstrip() + "\n")
    assert cli.main(["run", "bomb.yaml", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("layerwise run: error: YAML aliases are not allowed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml"]


@pytest.mark.parametrize("text", [
    "data: &d {name: digits}\nnetwork: {hidden_sizes: [5]}\nclassifier: *d\n",   # a plain alias
    "base: &b {epochs: 1}\npretrain:\n  <<: *b\n  lr: 0.1\n",                     # a merge key
    "seeds: &s [0]\nother: [*s, *s]\n",
])
def test_every_alias_is_refused(text):
    with pytest.raises(ConfigError, match="YAML aliases are not allowed"):
        parse_yaml(text, "run.yaml")


def test_anchors_alone_and_plain_files_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("name: anchored\ndata: &d {name: digits, max_train: 10}\nnetwork: {hidden_sizes: [5]}\n")
    cfg = load_config(path)
    assert cfg.name == "anchored" and cfg.data.max_train == 10 and cfg.network.hidden_sizes == [5]


def test_size_limit(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + "#" * (MAX_RUN_FILE_BYTES - 9))  # one byte over
    with pytest.raises(ConfigError, match=f"larger than {MAX_RUN_FILE_BYTES:,} bytes"):
        load_config(path)
    small = tmp_path / "small.yaml"
    small.write_text("name: small\n")
    assert read_yaml(small, limit=12) == {"name": "small"}
    with pytest.raises(ConfigError, match="larger than 11 bytes"):
        read_yaml(small, limit=11)


def test_invalid_yaml_and_non_utf8_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "is not valid YAML" in str(info.value) and "\n" not in str(info.value)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(binary)


def test_override_values_are_parsed_alias_free():
    assert apply_overrides({}, ["--data.size=[8, 8]"]) == {"data": {"size": [8, 8]}}
    with pytest.raises(ConfigError, match="YAML aliases are not allowed.* of --data.size"):
        apply_overrides({}, ["--data.size=*x"])


def test_a_folder_is_not_a_run_file(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_deep_nesting_is_refused_before_python_recurses():
    for text in ("[" * 100_000, "a: " + "{b: " * 60 + "1" + "}" * 60):
        with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels at line 1"):
            parse_yaml(text, "deep.yaml")
    assert parse_yaml("a: " + "[" * 40 + "]" * 40) == {"a": eval("[" * 40 + "]" * 40)}


def test_many_or_odd_keys_give_a_short_line(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("".join(f"k{i}: {i}\n" for i in range(5000)) + "1: int key\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400 and "and 4991 more" in msg and "'1'" in msg
