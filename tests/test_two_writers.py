"""Two writers on one checkpoint folder: the second is refused naming the first; a lock left by a
dead process (a real ``kill -9``, or a crafted lock file) is taken over with a warning."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from layerwise import checkpoint as ckpt
from layerwise.locking import LOCK_FILE, FolderInUseError, FolderLock, StaleLockWarning
from layerwise.training import NonFiniteLossError, fit

from _models import Noisy, regression

pytestmark = pytest.mark.usefixtures("one_thread")

HERE = Path(__file__).resolve().parent
KW = dict(epochs=2, batch_size=16, lr=0.03, seed=1, device="cpu", progress=False)

# A writer that, at the end of its first epoch, says so and waits for the test's go-ahead.
WRITER = """
import sys, time
from pathlib import Path
import torch
from layerwise.training import fit
from _models import Noisy, regression
run, flag, go = (Path(a) for a in sys.argv[1:4])
def hold(state, record):
    if record["epoch"] == 1:
        flag.write_text("holding")
        for _ in range(1200):
            if go.exists():
                return
            time.sleep(0.05)
torch.manual_seed(0)
fit(Noisy(), regression(64), checkpoint_dir=run, callbacks=[hold], **{KW!r})
""".replace("{KW!r}", repr(KW))


def _start_writer(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    flag, go = tmp_path / "holding", tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "run"), str(flag), str(go)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not flag.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the writer did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    return proc, go


def test_a_second_writer_is_refused_naming_the_first_which_finishes_undisturbed(tmp_path):
    proc, go = _start_writer(tmp_path)
    try:
        with pytest.raises(FolderInUseError) as info:
            fit(Noisy(), regression(64), checkpoint_dir=tmp_path / "run", resume=True, **KW)
        text = str(info.value)
        assert f"PID {proc.pid} on host {socket.gethostname()!r}" in text and "\n" not in text
        assert str(tmp_path / "run") in text
    finally:
        go.write_text("go")
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert not (tmp_path / "run" / LOCK_FILE).exists()  # released at the end
    assert ckpt.load_checkpoint(tmp_path / "run")["meta"]["epoch"] == 2  # its run was not disturbed
    fit(Noisy(), regression(64), checkpoint_dir=tmp_path / "run", resume=True, **{**KW, "epochs": 3})
    assert ckpt.load_checkpoint(tmp_path / "run")["meta"]["epoch"] == 3  # now free: the next one writes


def test_the_lock_of_a_killed_writer_is_taken_over_with_a_warning(tmp_path):
    proc, _ = _start_writer(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    left = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
    assert left["pid"] == proc.pid  # kill -9 left its lock file behind
    with pytest.warns(StaleLockWarning, match=f"PID {proc.pid} on host"):
        h = fit(Noisy(), regression(64), checkpoint_dir=tmp_path / "run", **KW)
    assert h["epoch"] == [1, 2] and not (tmp_path / "run" / LOCK_FILE).exists()


@pytest.mark.parametrize("content, holder", [
    (json.dumps({"pid": 2 ** 22 + 12345, "host": "elsewhere", "started": 0.0}), "PID 4206649 on host 'elsewhere'"),
    ("garbage", "an unknown process"),
])
def test_a_stale_lock_file_is_taken_over_with_a_warning(content, holder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).write_text(content)
    with pytest.warns(StaleLockWarning, match=holder):
        fit(Noisy(), regression(64), checkpoint_dir=run, **KW)
    assert ckpt.load_checkpoint(run)["meta"]["epoch"] == 2 and not (run / LOCK_FILE).exists()


def test_one_process_holding_the_folder_refuses_a_fit_and_the_lock_is_released_after_an_error(tmp_path):
    run = tmp_path / "run"
    with FolderLock(run) as lock:
        assert json.loads((run / LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(FolderInUseError, match=f"PID {os.getpid()}"):
            fit(Noisy(), regression(64), checkpoint_dir=run, **KW)
        assert lock.held
    assert not (run / LOCK_FILE).exists()

    class Blow:
        def on_epoch_end(self, state, record):
            with torch.no_grad():
                state.model.lin.weight.fill_(float("nan"))

    with pytest.raises(NonFiniteLossError):
        fit(Noisy(), regression(64), checkpoint_dir=run, callbacks=[Blow()], **KW)
    assert not (run / LOCK_FILE).exists()
    fit(Noisy(), regression(64), checkpoint_dir=run, **KW)  # nothing left locked
