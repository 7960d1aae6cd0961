"""``benchmarks/reproduce.py``: the classic table's smoke budget end to end, its resume, its projection."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch

import layerwise as lw
from _idx_files import need

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reproduce  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

RBM_ROWS = ("rbm-cd1", "rbm-cd3", "rbm-cd25", "rbm-pcd")


def test_projection_against_the_hand_formula():
    # value = -150 + 10 log(epoch): the line reaches -128.53 at exp(21.47 / 10) epochs
    row = reproduce.ROWS["rbm-cd1"]
    curve = [[e, -150 + 10 * math.log(e)] for e in range(1, 9)]
    text = reproduce.project(row, curve, seconds_per_epoch=3600.0)
    epochs = math.exp((row.threshold + 150) / 10)
    assert text.startswith(f"~{epochs:.0f} epochs") and f"~{epochs:.1f} h" in text
    flat = [[e, -150.0] for e in range(1, 9)]
    assert "stopped improving" in reproduce.project(row, flat, 1.0)
    assert "too few" in reproduce.project(row, curve[:2], 1.0)
    # lower is better for an error: a falling curve projects, a rising one does not
    err = reproduce.ROWS["dbn-classifier"]
    assert reproduce.project(err, [[e, 5 - math.log(e)] for e in range(1, 9)], 1.0).startswith("~")
    assert "stopped" in reproduce.project(err, [[e, 5 + math.log(e)] for e in range(1, 9)], 1.0)


def test_smoke_budget_end_to_end_and_resume(data_root, tmp_path, capsys):
    need(data_root, "mnist")
    out = tmp_path / "smoke"
    assert reproduce.main(["--budget", "smoke", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "binarised stochastically" in first
    results = json.loads((out / "results.json").read_text())
    assert results["budget"] == "smoke" and set(results["rows"]) == set(reproduce.ROWS)
    for key, res in results["rows"].items():
        for field in ("value", "kind", "ours", "epochs", "train_seconds", "eval_seconds", "reached", "curve"):
            assert field in res, (key, field)
        assert math.isfinite(res["value"])
        assert (out / "curves" / f"{key}.png").is_file()
        assert res["reached"] or res.get("projection")
    for key in (*RBM_ROWS, "dbm-bound"):
        res = results["rows"][key]
        a = res["ais"]
        assert a["floor"] is not None and a["runs"] == reproduce.BUDGETS["smoke"]["ais"][0]
        if res["kind"] == "estimate":  # the figure sits in its own band, above the proven floor
            assert res["band"][0] <= res["value"] <= res["band"][1] and a["log_z"] >= a["floor"]
        else:  # only the proven bound mean(-F(v)) - floor is quoted
            assert res["ours"].startswith("<=") and res["value"] == res["upper_bound_proven"]
    for key in ("dbn-classifier", "dbm-classifier"):
        assert 0.0 <= results["rows"][key]["value"] <= 100.0

    # an independent recomputation: the CD-1 figure from its checkpoint, -F(test) - log Z
    data = reproduce.stochastic_mnist(results["train"], results["test"])
    assert set(torch.unique(data["bt"]).tolist()) <= {0.0, 1.0}
    assert abs(float(data["b"].mean()) - float(data["x"].mean())) < 0.01  # Bernoulli(intensity)
    rbm = lw.checkpoint.load_model(out / "checkpoints" / "rbm-cd1")
    with torch.no_grad():
        direct = float(-rbm.free_energy(data["bt"]).double().mean()) - results["rows"]["rbm-cd1"]["ais"]["log_z"]
    assert direct == pytest.approx(results["rows"]["rbm-cd1"]["value"], abs=1e-6)

    table = (out / "table.md").read_text()
    body = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(body) == 1 + len(reproduce.ROWS)
    for row in reproduce.ROWS.values():
        assert any(line.startswith(f"| {row.model} |") and f"{row.paper:g}" in line for line in body)
    assert table in first  # printed too

    # a second invocation reads the finished rows back and trains nothing
    assert reproduce.main(["--budget", "smoke", "--out", str(out)]) == 0
    second = capsys.readouterr().out
    assert second.count("done before") == len(reproduce.ROWS)
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]
    assert (out / "table.md").read_text() == table


def test_bad_rows_and_mismatched_folder_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown rows.*'rbm-cd2'"):
        reproduce.main(["--rows", "rbm-cd2", "--out", str(tmp_path)])
    (tmp_path / "results.json").write_text(json.dumps({"train": 5, "test": 5, "rows": {}}))
    with pytest.raises(SystemExit, match="5/5 images"):
        reproduce.main(["--budget", "smoke", "--out", str(tmp_path)])
