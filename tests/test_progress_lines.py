"""fit's ``progress=`` (issue 14, item 4): lines, not frames, when stderr is no terminal."""

import io
import sys

import pytest
import torch

import layerwise as lw
from layerwise import cli
from layerwise.progress import LineProgress, check_progress, make_progress

pytestmark = pytest.mark.usefixtures("one_thread")


def _data():
    return (torch.rand(400, 8, generator=torch.Generator().manual_seed(0)) < 0.4).float()


class Pipe(io.StringIO):
    """A stderr that is no terminal (as under nohup, CI, ``> log``)."""

    def isatty(self):
        return False


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("progress", [True, "auto", "lines"])
def test_a_run_without_a_terminal_writes_one_line_per_epoch(progress, monkeypatch):
    err = Pipe()
    monkeypatch.setattr(sys, "stderr", err)
    history = lw.fit(lw.RBM(8, 4), _data(), epochs=4, batch_size=2, progress=progress, desc="rbm")  # 200 batches
    lines = err.getvalue().splitlines()
    assert len(lines) == 4, lines  # not a frame per update
    assert lines[0].startswith("rbm: epoch 1/4 done, loss ") and lines[-1].startswith("rbm: epoch 4/4 done")
    assert f"loss {history['loss'][-1]:.4g}," in lines[-1]


@pytest.mark.parametrize("progress", [False, "off"])
def test_off_writes_nothing(progress, monkeypatch):
    err = Pipe()
    monkeypatch.setattr(sys, "stderr", err)
    lw.fit(lw.RBM(8, 4), _data(), epochs=2, batch_size=10, progress=progress)
    assert err.getvalue() == ""


def test_auto_draws_a_bar_on_a_terminal_and_lines_elsewhere(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert not isinstance(make_progress("auto", 10, "x"), LineProgress)
    monkeypatch.setattr(sys, "stderr", Pipe())
    assert isinstance(make_progress("auto", 10, "x"), LineProgress)
    assert make_progress("off", 10, "x") is None and make_progress("lines", 10, "x", enabled=False) is None


def test_a_long_epoch_writes_a_line_every_interval():
    out = Pipe()
    bar = LineProgress(100, "ae", stream=out, every=0.0)  # every update is past the interval
    bar.set_postfix(epoch="1/2", loss="0.5")
    bar.update(3)
    bar.update(2)
    bar.epoch_end("1/2", {"loss": 0.25, "seconds": 1.0})
    assert out.getvalue().splitlines() == ["ae: epoch 1/2, batch 3, loss 0.5", "ae: epoch 1/2, batch 5, loss 0.5",
                                           "ae: epoch 1/2 done, loss 0.25, 1.0 s"]


@pytest.mark.parametrize("bad, error", [("tqdm", ValueError), (1, TypeError), (None, TypeError)])
def test_bad_progress_is_refused(bad, error):
    with pytest.raises(error, match="'progress'"):
        check_progress(bad)
    with pytest.raises(error, match="'progress'"):
        lw.fit(lw.RBM(8, 4), _data(), epochs=1, progress=bad)


def test_cli_progress_lines_and_no_progress(tmp_path, capsys):
    run = ["run", "digits_dae", "--train.epochs=2"]
    assert cli.main([*run, "--out", str(tmp_path / "a"), "--progress", "lines"]) == 0
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if " done, loss " in line]) == 2
    assert cli.main([*run, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert " done, loss " not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*run, "--progress", "frames"])


def test_ais_of_a_run_draws_a_bar_only_with_a_bar_mode():
    from layerwise.app.tasks import _ais_bar

    assert [_ais_bar(p) for p in (True, "auto", "bar", "lines", "off", False)] == [True, True, True, False, False, False]
