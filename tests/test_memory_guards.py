"""Memory bombs are refused up front (issue 12, item 6).

Constructors and samplers estimate the bytes they would allocate and raise
:class:`layerwise._validation.MemoryLimitError` (a ValueError and a MemoryError) naming the size in
GiB and how to raise the limit, in well under a second, before the allocator is reached. The limit
is ``layerwise.set_max_memory``, else ``LAYERWISE_MAX_MEMORY``, else half the physical memory.
"""

import time

import pytest
import torch

import layerwise as lw
from layerwise import cli
from layerwise._validation import MemoryLimitError, check_memory, max_memory, set_max_memory
from layerwise.checkpoint import save_checkpoint
from layerwise.deconv import ConvAutoEncoder, ConvSparseCoding

GIB = 1024**3
SIZE = r"would need ([0-9.e+]+) GiB, more than the memory limit of [0-9.e+]+ GiB.*LAYERWISE_MAX_MEMORY.*set_max_memory"


@pytest.fixture(autouse=True)
def default_limit(monkeypatch):
    """Every test starts from the default (no setting, no environment variable) and leaves it so."""
    monkeypatch.delenv("LAYERWISE_MAX_MEMORY", raising=False)
    previous = set_max_memory(None)
    yield
    set_max_memory(None)
    if previous is not None:
        set_max_memory(previous if previous > 0 else "none")


def _refused(make, gib):
    """``make()`` raises MemoryLimitError within half a second, naming about ``gib`` GiB."""
    start = time.perf_counter()
    with pytest.raises(MemoryLimitError, match=SIZE) as info:
        make()
    assert time.perf_counter() - start < 0.5
    named = float(info.value.args[0].split("would need ")[1].split(" GiB")[0])
    assert named == pytest.approx(gib, rel=0.01)
    return str(info.value)


# (what, make, GiB it needs: counted by hand from the parameter shapes, float32 = 4 bytes)
BOMBS = {
    "RBM(784, 10**9)": (lambda: lw.RBM(784, 10**9), (784 * 10**9 + 2 * 784 + 10**9) * 4 / GIB),
    "AutoEncoder(784, [10**9])": (lambda: lw.AutoEncoder(784, [10**9]),
                                  (2 * 784 * 10**9 + 784 + 10**9 + 10**9) * 4 / GIB),
    "DBN([784, 10**6, 10**6])": (lambda: lw.DBN([784, 10**6, 10**6]),
                                 (784 * 10**6 + 10**12 + 784 + 2 * 10**6 + 10**6) * 4 / GIB),
    "DBM([784, 10**6, 10**6])": (lambda: lw.DBM([784, 10**6, 10**6]),
                                 (784 * 10**6 + 10**12 + 784 + 2 * 10**6 + 100 * (784 + 2 * 10**6)) * 4 / GIB),
    "SigmoidBeliefNet([784, 10**6, 10**6])": (lambda: lw.SigmoidBeliefNet([784, 10**6, 10**6]),
                                              (2 * (784 * 10**6 + 10**12) + 784 + 2 * 10**6 + 2 * 10**6) * 4 / GIB),
    "UpDownDBN([784, 10**9, 10, 10])": (lambda: lw.UpDownDBN([784, 10**9, 10, 10]),
                                        (2 * (784 * 10**9 + 10**10) + 784 + 10**9 + 10 + 784 + 10**9 + 10) * 4 / GIB),
    "ConvSparseCoding(1, 10**9, 31)": (lambda: ConvSparseCoding(1, 10**9, 31), 10**9 * 31 * 31 * 4 / GIB),
    "ConvAutoEncoder((1, 28, 28), [10**5, 10**5])": (
        lambda: ConvAutoEncoder((1, 28, 28), [10**5, 10**5]),
        (2 * 25 * (10**5 + 10**10) + 2 * (1 + 2 * 10**5)) * 4 / GIB),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_constructor_bombs_are_refused_fast_with_the_size(name):
    make, gib = BOMBS[name]
    _refused(make, gib)


SAMPLERS = {
    "RBM.sample(10**9)": (lambda: lw.RBM(784, 10).sample(10**9, steps=10, every=5),
                          10**9 * (4 * 784 + 2 * 10 + 2 * 784) * 4 / GIB),
    "DBM.sample(10**9)": (lambda: lw.DBM([784, 10, 5]).sample(10**9), 3 * 10**9 * 799 * 4 / GIB),
    "DBN.generate(10**9)": (lambda: lw.DBN([784, 10, 5]).generate(10**9, 10),
                            10**9 * (2 * 799 + 784) * 4 / GIB),
    "SigmoidBeliefNet.sample(10**9)": (lambda: lw.SigmoidBeliefNet([784, 10, 5]).sample(10**9),
                                       2 * 10**9 * 799 * 4 / GIB),
    "UpDownDBN.generate(10**9)": (lambda: lw.UpDownDBN([784, 10, 5, 3]).generate(10**9), 2 * 10**9 * 802 * 4 / GIB),
    "ConvSparseCoding.infer": (lambda: ConvSparseCoding(1, 10**5, 3).infer(torch.zeros(100, 1, 64, 64)),
                               6 * 100 * 10**5 * 66 * 66 * 4 / GIB),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampling_bombs_are_refused_fast_with_the_size(name):
    make, gib = SAMPLERS[name]
    _refused(make, gib)


def test_layerwise_sample_refuses_a_bomb_in_one_line(tmp_path, capsys):
    import layerwise.app.commands  # noqa: F401  (cli imports it lazily: time the guard, not the import)
    rbm = lw.RBM(16, 4)
    save_checkpoint(tmp_path / "rbm", rbm)
    start = time.perf_counter()
    assert cli.main(["sample", str(tmp_path / "rbm"), "--n", str(10**9), "--out", str(tmp_path)]) == 2
    assert time.perf_counter() - start < 1.0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "1000000000 chains of RBM(16, 4) would need" in err and "LAYERWISE_MAX_MEMORY" in err
    assert not list(tmp_path.glob("*.png"))


def test_the_default_is_half_the_physical_memory():
    import os
    phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert max_memory() == int(phys * 0.5)


def test_the_setting_and_the_environment_variable_raise_or_lower_the_limit(monkeypatch):
    need = (784 * 10**5 + 2 * 784 + 10**5) * 4                  # RBM(784, 10**5): 299 MiB
    monkeypatch.setenv("LAYERWISE_MAX_MEMORY", "100M")
    assert max_memory() == 100 * 1024**2
    _refused(lambda: lw.RBM(784, 10**5), need / GIB)
    monkeypatch.setenv("LAYERWISE_MAX_MEMORY", "1G")
    assert lw.RBM(784, 10**5).weight.shape == (10**5, 784)      # a moderately large request goes through
    monkeypatch.setenv("LAYERWISE_MAX_MEMORY", "none")
    assert max_memory() is None
    check_memory("anything", 10**18)                            # no limit at all
    set_max_memory(10 * 1024**2)                                # the setting wins over the environment
    _refused(lambda: lw.RBM(784, 10**5), need / GIB)
    set_max_memory("2GiB")
    assert max_memory() == 2 * GIB and lw.RBM(784, 10**5).n_hidden == 10**5
    set_max_memory(None)                                        # back to the environment ("none")
    assert max_memory() is None


def test_exactly_the_limit_passes_and_one_byte_more_does_not():
    set_max_memory(1000)
    assert check_memory("x", 1000) == 1000
    with pytest.raises(MemoryError, match=r"x would need 9\.32e-07 GiB, more than the memory limit of 9\.31e-07 GiB"):
        check_memory("x", 1001)
    with pytest.raises(ValueError):  # a ValueError too: callers that catch bad arguments catch it
        check_memory("x", 1001)


@pytest.mark.parametrize("bad", ["lots", "-5G", "0", "1.5X"])
def test_a_bad_environment_value_is_named(monkeypatch, bad):
    monkeypatch.setenv("LAYERWISE_MAX_MEMORY", bad)
    with pytest.raises(ValueError, match=rf"LAYERWISE_MAX_MEMORY must be a positive size such as 8G.*Got '{bad}'"):
        lw.RBM(4, 3)


def test_guards_leave_normal_models_bitwise_unchanged():
    torch.manual_seed(0)
    a = lw.RBM(20, 7, persistent=True, n_chains=5)
    torch.manual_seed(0)
    set_max_memory("none")
    b = lw.RBM(20, 7, persistent=True, n_chains=5)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
