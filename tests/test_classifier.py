"""layerwise.models.classifier: the classifier head's losses against hand formulas, fine-tuning's
label checks, and the package's re-exports."""

import pytest
import torch
from torch.nn import functional as F

import layerwise as lw
from layerwise.models.classifier import Classifier, build_mlp, finetune
from layerwise.pretraining import pretrain


def test_classifier_losses_against_hand_formulas():
    torch.manual_seed(0)
    body = build_mlp(4, [5], "sigmoid")
    x, y = torch.rand(7, 4), torch.tensor([0, 2, 1, 2, 0, 1, 1])
    ce = Classifier(body, 3)
    logits = ce(x)
    expected = -torch.log_softmax(logits, 1)[torch.arange(7), y].mean()
    torch.testing.assert_close(ce.training_loss((x, y)), expected)
    bce = Classifier(body, 3, loss="bce")
    p = torch.sigmoid(bce(x))
    t = F.one_hot(y, 3).float()
    expected = -(t * p.log() + (1 - t) * (1 - p).log()).sum(1).mean()
    torch.testing.assert_close(bce.training_loss((x, y)), expected)
    proba = bce.predict_proba(x)
    torch.testing.assert_close(proba.sum(1), torch.ones(7))
    assert torch.equal(bce.predict(x), proba.argmax(1))


def test_finetune_label_errors():
    net = build_mlp(4, [3])
    x = torch.rand(6, 4)
    with pytest.raises(ValueError, match="1-d array of int class indices"):
        finetune(net, (x, torch.rand(6)), progress=False)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\); got 3"):
        finetune(net, (x, torch.tensor([0, 1, 3, 0, 1, 0])), n_classes=2, progress=False)
    with pytest.raises(ValueError, match="needs labelled data"):
        finetune(net, x, progress=False)


def test_finetune_and_classifier_are_reexported_from_the_package():
    assert lw.finetune is finetune and lw.Classifier is Classifier and lw.build_mlp is build_mlp
    assert lw.pretrain is pretrain
