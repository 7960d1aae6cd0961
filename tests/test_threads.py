"""layerwise.threads and fit's ``threads=`` (issue 14, item 1): the choice from the work per batch,
the caller's setting put back, the choice in the history, the command line's ``--threads``."""

import pytest
import torch
from torch import nn

import layerwise as lw
from layerwise import cli
from layerwise.threads import (WORK_THRESHOLD, available_cores, batch_work, check_threads, choose_threads,
                               default_threads, describe_threads, intra_op_threads)

CPU = torch.device("cpu")


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield n
    torch.set_num_threads(n)


def _data(n=60, d=8):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(0)) < 0.4).float()


def test_batch_work_is_the_largest_weight_times_the_batch():
    model = nn.Sequential(nn.Linear(784, 500), nn.Linear(500, 10))  # weights 500x784 and 10x500
    assert batch_work(model, 100) == 500 * 784 * 100
    assert batch_work(nn.Sequential(nn.ReLU()), 100) == 0.0  # no weight: no product counted


def test_batch_work_of_a_convolution_counts_the_positions_of_a_sample():
    conv = nn.Conv2d(1, 8, 5)  # weight 8x1x5x5
    assert batch_work(conv, 16, (100, 1, 28, 28)) == 8 * 25 * 16 * 28 * 28
    assert batch_work(conv, 16) == 8 * 25 * 16  # shape unknown: one position


def test_auto_is_one_thread_below_the_threshold_and_every_core_above():
    small, large = lw.RBM(64, 256), lw.RBM(784, 2000)
    assert 64 * 256 * 10 < WORK_THRESHOLD <= 784 * 2000 * 100
    assert choose_threads("auto", small, 10, CPU) == 1
    assert choose_threads("auto", large, 100, CPU) == available_cores()
    assert choose_threads(None, small, 10, CPU) == 1
    assert choose_threads(3, small, 10, CPU) == 3  # a number is taken as it is


def test_available_cores_are_the_affinity_set():
    import os

    if hasattr(os, "sched_getaffinity"):
        assert available_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), ("all", ValueError), (1.5, TypeError),
                                        (True, TypeError)])
def test_bad_threads_are_refused_naming_the_value(bad, error):
    with pytest.raises(error, match="'threads'"):
        check_threads(bad)
    with pytest.raises(error, match="'threads'"):
        lw.fit(lw.RBM(8, 4), _data(), epochs=1, progress=False, threads=bad)


def test_fit_trains_with_its_choice_records_it_and_puts_the_callers_setting_back(restore_threads):
    torch.set_num_threads(2)
    seen = []
    history = lw.fit(lw.RBM(8, 4), _data(), epochs=2, batch_size=10, progress=False,
                     callbacks=[lambda state, record: seen.append(torch.get_num_threads())])
    assert seen == [1, 1] and history["threads"] == [1, 1]  # tiny model: one thread
    assert torch.get_num_threads() == 2
    history = lw.fit(lw.RBM(8, 4), _data(), epochs=1, batch_size=10, progress=False, threads=3)
    assert history["threads"] == [3] and torch.get_num_threads() == 2


def test_the_callers_setting_is_put_back_after_an_error(restore_threads):
    torch.set_num_threads(2)

    def boom(state, record):
        assert torch.get_num_threads() == 1
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        lw.fit(lw.RBM(8, 4), _data(), epochs=2, batch_size=10, progress=False, callbacks=[boom])
    assert torch.get_num_threads() == 2


def test_one_thread_gives_the_weights_of_a_run_at_one_thread_before_threads_existed(restore_threads):
    """Where torch already ran one thread, auto changes nothing: the same weights bit for bit
    as the run with the setting fixed by hand (threads=1 at a setting of 1)."""
    torch.set_num_threads(1)
    a, b = lw.RBM(8, 4), lw.RBM(8, 4)
    b.load_state_dict(a.state_dict())
    lw.fit(a, _data(), epochs=2, batch_size=10, progress=False, seed=3)
    lw.fit(b, _data(), epochs=2, batch_size=10, progress=False, seed=3, threads=1)
    assert torch.equal(a.weight, b.weight)


def test_default_threads_sets_what_none_means_and_is_undone(restore_threads):
    with default_threads(2):
        assert choose_threads(None, lw.RBM(8, 4), 10, CPU) == 2
        assert describe_threads() == "threads 2"
        assert lw.fit(lw.RBM(8, 4), _data(), epochs=1, progress=False)["threads"] == [2]
    assert choose_threads(None, lw.RBM(8, 4), 10, CPU) == 1
    assert describe_threads().startswith("threads auto (1 below")


def test_intra_op_threads_restores(restore_threads):
    torch.set_num_threads(2)
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_importing_layerwise_leaves_the_setting_alone():
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(2); import layerwise, layerwise.cli, layerwise.threads; "
            "print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "2"


def test_cli_threads_reaches_every_fit_and_the_summary(tmp_path, capsys, restore_threads):
    out = tmp_path / "run"
    assert cli.main(["run", "digits_dae", "--out", str(out), "--progress", "off", "--threads", "2",
                     "--train.epochs=1"]) == 0
    assert "threads 2" in capsys.readouterr().out
    import csv

    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [r["threads"] for r in rows] == ["2"]


@pytest.mark.parametrize("bad", ["0", "many", "-1"])
def test_cli_refuses_a_bad_threads(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "digits_dae", "--threads", bad])
    assert "--threads" in capsys.readouterr().err
