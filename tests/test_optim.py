"""layerwise.optim.outer_product_sgd_step against torch.optim.SGD.step with the gradient formed."""

import pytest
import torch

from layerwise.optim import outer_product_sgd_step, outer_product_step

pytestmark = pytest.mark.usefixtures("one_thread")


def problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.nn.Parameter(torch.randn(4, 6, generator=g, dtype=torch.float64))
    b = torch.nn.Parameter(torch.randn(6, generator=g, dtype=torch.float64))
    terms = [(0.5, torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g, dtype=torch.float64)),
             (-0.25, torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 6, generator=g, dtype=torch.float64))]
    g_b = torch.randn(6, generator=g, dtype=torch.float64)
    return w, b, terms, g_b


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_equals_sgd_step_over_several_steps(momentum, weight_decay):
    w1, b1, terms, g_b = problem()
    w2, b2 = (torch.nn.Parameter(p.detach().clone()) for p in (w1, b1))
    groups = lambda w, b: [{"params": [w], "weight_decay": weight_decay}, {"params": [b], "weight_decay": 0.0}]
    fast = torch.optim.SGD(groups(w1, b1), lr=0.1, momentum=momentum)
    slow = torch.optim.SGD(groups(w2, b2), lr=0.1, momentum=momentum)
    for step in range(3):
        if step == 2:
            for opt in (fast, slow):
                for group in opt.param_groups:
                    group["lr"] = 0.03
        assert outer_product_sgd_step(fast, [w1, b1], terms, [g_b])
        assert w1.grad is None and b1.grad is None
        w2.grad = sum(c * left.T @ right for c, left, right in terms)
        b2.grad = g_b.clone()
        slow.step()
        torch.testing.assert_close(w1, w2, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(b1, b2, rtol=1e-12, atol=1e-12)
        if momentum:
            torch.testing.assert_close(fast.state[w1]["momentum_buffer"], slow.state[w2]["momentum_buffer"],
                                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda ps: torch.optim.Adam(ps, lr=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.1, maximize=True),
    lambda ps: type("MySGD", (torch.optim.SGD,), {})(ps, lr=0.1),
])
def test_declines_what_it_cannot_do_and_changes_nothing(make):
    w, b, terms, g_b = problem(1)
    before = w.detach().clone()
    assert not outer_product_sgd_step(make([w, b]), [w, b], terms, [g_b])
    assert torch.equal(w.detach(), before)


def test_declines_hooks_and_foreign_parameters():
    w, b, terms, g_b = problem(2)
    opt = torch.optim.SGD([w], lr=0.1)
    assert not outer_product_sgd_step(opt, [w, b], terms, [g_b])   # b is not the optimiser's
    opt = torch.optim.SGD([w, b], lr=0.1)
    opt.register_step_pre_hook(lambda *args: None)
    assert not outer_product_sgd_step(opt, [w, b], terms, [g_b])


@pytest.mark.parametrize("make", [lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.01)])
def test_outer_product_step_equals_the_optimiser_step_with_the_gradient_formed(make):
    w1, b1, terms, g_b = problem(3)
    w2, b2 = (torch.nn.Parameter(p.detach().clone()) for p in (w1, b1))
    fast, slow = make([w1, b1]), make([w2, b2])
    for _ in range(2):
        outer_product_step(fast, [w1, b1], terms, [g_b.clone()])
        w2.grad = sum(c * left.T @ right for c, left, right in terms)
        b2.grad = g_b.clone()
        slow.step()
        torch.testing.assert_close(w1, w2, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(b1, b2, rtol=1e-12, atol=1e-12)
