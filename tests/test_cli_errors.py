"""The command line's errors: one line on stderr, exit 1 (failure) or 2 (usage); the traceback on request."""

import errno

import pytest
import torch
from safetensors import SafetensorError

from layerwise import cli
from layerwise.app import commands
from layerwise.app.config import ConfigError
from layerwise.checkpoint import save_checkpoint
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.rbm import RBM

ALLOCATOR = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory:\n"
             "you tried to allocate 4000000000000 bytes.")
CUDA_OOM = ("CUDA out of memory. Tried to allocate 3.73 TiB. GPU 0 has a total capacity of 139 GiB\n"
            "of which 130 GiB is free. Of the allocated memory ...")

# (what the command raises, exit status, what the one line says)
FAILURES = [
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/config.yaml"), 1,
     "OSError: [Errno 28] No space left on device: 'runs/x/config.yaml'"),
    (PermissionError(errno.EACCES, "Permission denied", "/read-only/run"), 1,
     "PermissionError: [Errno 13] Permission denied: '/read-only/run'"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "out"), 1, "IsADirectoryError: [Errno 21] Is a directory"),
    (SafetensorError("Error while deserializing header: HeaderTooLarge"), 1,
     "SafetensorError: Error while deserializing header: HeaderTooLarge"),
    (RuntimeError(ALLOCATOR), 1, "RuntimeError: [enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                                 "not enough memory: you tried to allocate 4000000000000 bytes."),
    (torch.cuda.OutOfMemoryError(CUDA_OOM), 1, "OutOfMemoryError: CUDA out of memory. Tried to allocate 3.73 TiB."),
    (MemoryError(), 1, "error: MemoryError (--traceback"),
    (ConfigError("two\nlines"), 2, "error: two lines"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "x.yaml"), 2, "No such file or directory"),
]


def _failing(exc):
    def command(*args, **kwargs):
        raise exc
    return command


@pytest.mark.parametrize("exc, code, line", FAILURES)
def test_each_failure_is_one_line_with_its_exit_status(exc, code, line, monkeypatch, capsys):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(commands, "run_command", _failing(exc))
    assert cli.main(["run", "demo"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("layerwise run: error: ") and line in err, err
    assert "Traceback" not in err
    if code == 1:
        assert f"--traceback or {cli.DEBUG_ENV}=1 shows where" in err


@pytest.mark.parametrize("how", [["--traceback", "run", "demo"], ["run", "demo", "--traceback"], "env"])
def test_traceback_on_request(how, monkeypatch):
    argv = ["run", "demo"] if how == "env" else how
    if how == "env":
        monkeypatch.setenv(cli.DEBUG_ENV, "1")
    for exc in (OSError(errno.ENOSPC, "No space left on device"), ConfigError("bad")):
        monkeypatch.setattr(commands, "run_command", _failing(exc))
        with pytest.raises(type(exc)):
            cli.main(argv)


def test_debug_env_zero_is_off(monkeypatch, capsys):
    monkeypatch.setenv(cli.DEBUG_ENV, "0")
    monkeypatch.setattr(commands, "run_command", _failing(RuntimeError("boom")))
    assert cli.main(["run", "demo"]) == 1
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_other_exceptions_are_not_hidden(monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(commands, "run_command", _failing(KeyError("a bug")))
    with pytest.raises(KeyError):
        cli.main(["run", "demo"])


def test_sample_out_naming_a_file_and_a_bad_shape(tmp_path, capsys):
    save_checkpoint(tmp_path / "rbm", RBM(4, 3))
    written = sorted(p.name for p in (tmp_path / "rbm").iterdir())
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    code = cli.main(["sample", str(tmp_path / "rbm"), "--n", "2", "--steps", "2", "--out", str(taken)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"'{taken}' is a file" in err
    assert taken.read_text() == "keep me"
    code = cli.main(["sample", str(tmp_path / "rbm"), "--n", "2", "--steps", "2", "--shape", "2xtwo"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'--shape' must be HxW" in err and "'2xtwo'" in err
    assert sorted(p.name for p in (tmp_path / "rbm").iterdir()) == written  # no samples.png


def test_full_disk_while_writing_is_one_line(tmp_path, monkeypatch, capsys):
    from layerwise import plots

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "rbm" / "samples.png"))

    save_checkpoint(tmp_path / "rbm", RBM(4, 3))
    monkeypatch.setattr(plots, "plot_samples", full)
    assert cli.main(["sample", str(tmp_path / "rbm"), "--n", "2", "--steps", "2", "--shape", "2x2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OSError: [Errno 28] No space left on device" in err


def test_corrupt_safetensors_at_evaluate(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "ae", AutoEncoder(64, [8]))
    (path / "model.safetensors").write_bytes(b"\xff" * 64)
    code = cli.main(["evaluate", str(path)])
    err = capsys.readouterr().err
    assert code in (1, 2) and err.count("\n") == 1 and "model.safetensors" in err and "Traceback" not in err
