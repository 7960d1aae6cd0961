"""The batch losses read in windows (layerwise.loss_reader) and fit's NaN guard built on them."""

import math

import pytest
import torch
from torch import nn

from layerwise import checkpoint as ckpt
from layerwise import loss_reader
from layerwise.loss_reader import LOSS_READ_EVERY, LossReader
from layerwise.training import NonFiniteLossError, fit

from _models import Noisy, regression


class Bar:
    """A stand-in progress bar recording what it is told."""

    def __init__(self):
        self.updates, self.postfix = [], None

    def update(self, n):
        self.updates.append(n)

    def set_postfix(self, refresh=True, **kw):
        self.postfix = kw


def refuse(batch, value):
    raise AssertionError(f"no loss here is bad; got {value} at batch {batch}")


def test_mean_is_the_device_sum_of_before_bit_for_bit():
    """The epoch's mean equals the old accumulation (float64 tensor += loss * batch size), ragged
    last batch and losses of several magnitudes included."""
    g = torch.Generator().manual_seed(0)
    losses = [(torch.randn((), generator=g) * 10 ** torch.randint(-3, 4, (), generator=g)).float() for _ in range(103)]
    sizes = [7] * 102 + [3]
    total = torch.zeros((), dtype=torch.float64)
    for loss, n in zip(losses, sizes):
        total += loss.to(total.dtype) * n
    reader = LossReader(refuse, None, "1/1")
    for loss, n in zip(losses, sizes):
        reader.add(loss, n)
    assert reader.mean() == float(total) / sum(sizes)


def test_reads_every_window_and_at_the_end():
    bar = Bar()
    reader = LossReader(refuse, bar, "2/5")
    n = 2 * LOSS_READ_EVERY + 3
    for i in range(n):
        reader.add(torch.tensor(float(i)), 4)
    assert bar.updates == [LOSS_READ_EVERY, LOSS_READ_EVERY]  # nothing read of the last 3 yet
    assert bar.postfix == {"epoch": "2/5", "loss": f"{2 * LOSS_READ_EVERY - 1:.4g}"}
    assert reader.mean() == pytest.approx((n - 1) / 2)
    assert bar.updates == [LOSS_READ_EVERY, LOSS_READ_EVERY, 3] and bar.postfix["loss"] == f"{n - 1:.4g}"


def test_a_second_without_a_read_reads_at_the_next_batch():
    bar = Bar()
    reader = LossReader(refuse, bar, "1/1")
    reader.add(torch.tensor(1.0), 2)
    assert bar.updates == []
    reader.last_read -= 1.5  # as if the batch had taken 1.5 s
    reader.add(torch.tensor(2.0), 2)
    assert bar.updates == [2]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_the_first_bad_loss_of_a_window_is_reported_with_its_batch(bad):
    seen = []

    def on_bad(batch, value):
        seen.append((batch, value))
        raise FloatingPointError

    reader = LossReader(on_bad, None, "1/1")
    values = [0.5] * (LOSS_READ_EVERY + 4)
    values[LOSS_READ_EVERY + 1] = bad
    values[LOSS_READ_EVERY + 2] = float("nan")
    for v in values[:LOSS_READ_EVERY + 3]:
        reader.add(torch.tensor(v), 1)  # the bad one is in the second window: not read yet
    assert seen == []
    with pytest.raises(FloatingPointError):
        reader.mean()
    assert len(seen) == 1 and seen[0][0] == LOSS_READ_EVERY + 1
    assert seen[0][1] == bad or (math.isnan(bad) and math.isnan(seen[0][1]))


class ExplodingStep(Noisy):
    """A model with its own training_step whose loss turns NaN from a given step on (counted
    over the whole run), keeping a copy of its weights after every step."""

    def __init__(self, blow_at):
        super().__init__(noise=0.0)
        self.blow_at, self.steps = blow_at, 0

    def training_step(self, batch, optimizer):
        optimizer.zero_grad()
        loss = self.training_loss(batch)
        if self.steps >= self.blow_at:
            loss = loss * float("nan")
        loss.backward()
        optimizer.step()
        self.steps += 1
        return loss.detach()


@pytest.mark.parametrize("window", [LOSS_READ_EVERY, 3])
def test_guard_stops_within_a_window_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, window):
    """Epoch 1 is good (and saved); the loss turns NaN at batch 5 of epoch 2. fit stops at the
    next read (at most ``window`` batches later, not at the end of a long epoch), names the
    batch, and leaves epoch 1's checkpoint as it was."""
    monkeypatch.setattr(loss_reader, "LOSS_READ_EVERY", window)
    x, y = regression(200)  # 100 batches of 2 an epoch
    per_epoch = 100
    model = ExplodingStep(blow_at=per_epoch + 4)
    saved = {}

    def keep(state, record):
        saved[record["epoch"]] = {k: v.clone() for k, v in state.model.state_dict().items()}

    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 2, batch 5; stopping\. The last good checkpoint \(epoch 1\)"):
        fit(model, (x, y), epochs=3, batch_size=2, lr=0.01, device="cpu", progress=False,
            checkpoint_dir=tmp_path, callbacks=[keep])
    steps_in_epoch_2 = model.steps - per_epoch
    assert 5 <= steps_in_epoch_2 <= 5 + window - 1  # read at the end of the window holding batch 5
    assert steps_in_epoch_2 < per_epoch
    on_disk = ckpt.load_checkpoint(tmp_path)
    assert on_disk["meta"]["epoch"] == 1
    for k, v in saved[1].items():
        assert torch.equal(on_disk["model_state"][k], v)


def test_history_loss_is_the_mean_of_a_bare_loop():
    """The epoch's loss in the history is the batch-size-weighted mean of the batches' losses,
    computed here by a bare loop over the same batches (float64 sum, as before)."""
    x, y = regression(45)
    torch.manual_seed(0)
    model, ref = Noisy(noise=0.0), Noisy(noise=0.0)
    ref.load_state_dict(model.state_dict())
    history = fit(model, (x, y), epochs=2, batch_size=8, lr=0.05, seed=5, device="cpu", progress=False)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for epoch in range(2):
        order = torch.randperm(45, generator=torch.Generator().manual_seed(5 + epoch))
        total = 0.0
        for s in range(0, 45, 8):
            i = order[s:s + 8]
            opt.zero_grad()
            loss = ref.training_loss((x[i], y[i]))
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(i)
        assert history["loss"][epoch] == total / 45


def test_a_loss_that_is_not_a_tensor_still_counts():
    class FloatStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def training_step(self, batch, optimizer):
            return 0.25

    history = fit(FloatStep(), torch.zeros(30, 2), epochs=1, batch_size=7, device="cpu", progress=False)
    assert history["loss"] == [0.25]
