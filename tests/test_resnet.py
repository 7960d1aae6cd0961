"""models/resnet.py: the lecture's ResNet-18 (of our own)."""

import pytest
import torch

from layerwise.models.classifier import CNNClassifier
from layerwise.models.cnn import build_network
from layerwise.models.resnet import BasicBlock, build_resnet18

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def test_resnet18_has_the_papers_parameter_count_and_shapes():
    # CIFAR-style ResNet-18 (3x3 stem, widths 64-512): 11,173,962 parameters with a 10-class
    # head (the count of the widely used CIFAR ResNet-18), i.e. 11,168,832 without it.
    net = build_resnet18((3, 32, 32), width=64)
    assert sum(p.numel() for p in net.parameters()) == 11_168_832
    assert net.n_features == 512
    clf = CNNClassifier("resnet-18", (3, 32, 32), 10)
    assert sum(p.numel() for p in clf.parameters()) == 11_173_962
    small = build_network("resnet-18-w16", (1, 28, 28))
    assert small(torch.zeros(2, 784)).shape == (2, 128)
    with pytest.raises(ValueError, match="too small"):
        build_resnet18((1, 4, 4))
    with pytest.raises(ValueError, match="Unknown network 'resnet-50'.*resnet-18"):
        build_network("resnet-50", (1, 32, 32))


def test_basic_block_shortcut_is_identity_or_projection():
    torch.manual_seed(0)
    same = BasicBlock(4, 4).eval()
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        inner = same.bn2(same.conv2(same.relu(same.bn1(same.conv1(x)))))
        torch.testing.assert_close(same(x), torch.relu(inner + x))
    down = BasicBlock(4, 8, stride=2)
    assert isinstance(down.shortcut, torch.nn.Sequential) and down(x).shape == (2, 8, 3, 3)
