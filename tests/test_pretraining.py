"""Greedy layer-wise pre-training (layerwise.pretraining), and fine-tuning what it gives."""

import pytest
import torch
from torch import nn

import layerwise as lw
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.classifier import build_mlp, finetune
from layerwise.pretraining import Stack, pretrain


class Spy(nn.Module):
    """A layer learner that records what it was trained on; its code is a fixed map."""

    def __init__(self, n_inputs, n_out, propagate="mean"):
        super().__init__()
        self.n_inputs = n_inputs
        self.lin = nn.Linear(n_inputs, n_out)
        self.seen = []
        self.propagate = propagate

    def training_loss(self, x):
        self.seen.append(x.clone())
        return (self.lin(x) ** 2).mean()

    def encoder(self):
        return nn.Sequential(self.lin, nn.Sigmoid())

    @torch.no_grad()
    def transform(self, x):
        return torch.sigmoid(self.lin(x))

    @torch.no_grad()
    def sample_code(self, x):
        return torch.bernoulli(self.transform(x))


def test_each_layer_trains_on_the_codes_of_the_one_below():
    x = torch.rand(40, 6)
    spies = []

    def make(n):
        spies.append(Spy(n, 4 if not spies else 3))
        return spies[-1]

    stack = pretrain([make, make], x, epochs=2, batch_size=40, lr=0.1, shuffle=False, progress=False, device="cpu")
    assert isinstance(stack, Stack) and isinstance(stack, nn.Sequential) and len(stack) == 2
    assert spies[0].n_inputs == 6 and spies[1].n_inputs == 4
    torch.testing.assert_close(spies[0].seen[0], x)
    # layer 2 saw layer 1's codes *after* layer 1 finished training
    torch.testing.assert_close(spies[1].seen[0], spies[0].transform(x))
    assert stack[0][0] is spies[0].lin  # the encoder shares the learner's parameters
    assert len(stack.histories) == 2 and len(stack.seconds) == 2 and stack.learners == spies
    torch.testing.assert_close(stack(x), spies[1].transform(spies[0].transform(x)))


def test_propagate_samples_gives_binary_codes():
    x = torch.rand(30, 5)
    a, b = Spy(5, 4, propagate="sample"), Spy(4, 2)
    pretrain([a, b], x, epochs=1, batch_size=30, progress=False, device="cpu")
    assert set(b.seen[0].unique().tolist()) <= {0.0, 1.0}
    c, d = Spy(5, 4), Spy(4, 2)
    pretrain([c, d], x, epochs=1, batch_size=30, progress=False, device="cpu", propagate="sample")
    assert set(d.seen[0].unique().tolist()) <= {0.0, 1.0}


def test_per_layer_options_and_errors():
    x = torch.rand(20, 6)
    s = pretrain([Spy(6, 4), Spy(4, 2)], x, epochs=[1, 3], batch_size=20, progress=False, device="cpu")
    assert [len(h) for h in s.histories] == [1, 3]
    with pytest.raises(ValueError, match="'epochs' has 3 entries, but there are 2 layer learners"):
        pretrain([Spy(6, 4), Spy(4, 2)], x, epochs=[1, 2, 3], progress=False)
    with pytest.raises(ValueError, match=r"Layer learner 2 \(Spy\) expects 5 inputs, but layer 1 produces 4"):
        pretrain([Spy(6, 4), Spy(5, 2)], x, epochs=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"expects 7 inputs, but the data has 6"):
        pretrain([Spy(7, 4)], x, epochs=1, progress=False)
    with pytest.raises(TypeError, match="has no encoder"):
        pretrain([nn.Linear(6, 3)], x, progress=False)
    with pytest.raises(ValueError, match="'layer_learners' is empty"):
        pretrain([], x)


def test_autoencoder_stack_matches_random_baseline_structure():
    x = torch.rand(50, 8)
    stack = pretrain([lambda n: AutoEncoder(n, [6], activation="tanh"), lambda n: AutoEncoder(n, [3], activation="tanh")],
                     x, epochs=1, batch_size=25, progress=False, device="cpu")
    base = build_mlp(8, [6, 3], "tanh")
    assert {k: v.shape for k, v in stack.state_dict().items()} == {k: v.shape for k, v in base.state_dict().items()}
    assert [type(m) for m in stack.modules()][1:] == [type(m) for m in base.modules()][1:]


@pytest.mark.slow
def test_pretrained_network_learns_digits_from_few_labels():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    torch.manual_seed(0)
    stack = pretrain([lambda n: AutoEncoder(n, [64], loss="bce")], x[:1400], epochs=20, batch_size=32,
                     optimizer="adam", lr=0.003, progress=False, device="cpu")
    idx = torch.arange(0, 1400, 7)  # 200 labels
    clf, hist = finetune(stack, (x[idx], y[idx]), 10, epochs=40, batch_size=16, lr=0.1, momentum=0.9,
                         progress=False, device="cpu", validation=(x[1400:], y[1400:]))
    assert clf.accuracy(x[1400:], y[1400:]) > 0.85
    assert hist["val_accuracy"][-1] == pytest.approx(clf.accuracy(x[1400:], y[1400:]))


def test_a_dbn_is_trained_by_pretrain_and_fit_says_so():
    dbn = lw.DBN([6, 4, 3])
    x = torch.rand(20, 6).round()
    assert not hasattr(dbn, "training_loss") and not hasattr(dbn, "training_step")
    assert "pretrain" in lw.DBN.trained_by
    with pytest.raises(TypeError, match=r"needs a training_loss.*Train a DBN with dbn\.pretrain\(X\)"):
        lw.fit(dbn, x, epochs=1, progress=False)
    assert dbn.pretrain(x, epochs=1, batch_size=10, progress=False) is dbn and len(dbn.histories_) == 2
