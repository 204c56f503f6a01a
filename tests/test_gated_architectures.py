"""A seeded property for ``activations="gated"``: on random small networks with gated
activations (GELU, SiLU, Mish, Hardswish, ``x * sigmoid(x)``, in every spelling) mixed
among the rectifiers, the three maps and every site's masks (soft at gated calls) equal an
independent reference: the rule applied by autograd on the network's out-of-place twin
(``tests/reference.py``). On networks of rectifiers only, gates change nothing, bit for bit.
"""

import pytest
import torch

from gbp_widgets import GuidedBackprop
from tests.random_nets import GATED_SPELLINGS, describe, random_net
from tests.reference import reference_general, reference_site_grads

# The fast subset leaves this out: 200 random networks against the reference.
pytestmark = pytest.mark.slow

RULES = ("gradient", "deconvnet", "guided")
PER_RANK = 50
TARGET = 2


def score(out: torch.Tensor) -> torch.Tensor:
    return out[:, TARGET].sum()


def check_gated(seed: int, rank: int) -> None:
    net, x = random_net(seed, rank, gates=True)
    leaf = x.clone().requires_grad_(True)
    torch.autograd.grad(score(net(leaf.clone())), leaf)  # runs in plain PyTorch
    net.twin = True
    try:
        expected = {rule: reference_general(net, (x,), score, rule)[0] for rule in RULES}
        reference = reference_site_grads(net, (x,), score, "guided")
    finally:
        net.twin = False
    engine = GuidedBackprop(net, activations="gated")
    for rule in RULES:
        explanation = engine.explain(x, target=TARGET, rule=rule)
        scale = max(expected[rule].abs().max().item(), 1e-6)
        torch.testing.assert_close(
            explanation.attribution, expected[rule], rtol=1e-4, atol=1e-5 * scale
        )
    assert explanation.not_guided == ()
    assert len(explanation.sites) == len(reference)
    for site, (forward, grad) in zip(explanation.sites, reference, strict=True):
        assert site.soft == forward.is_floating_point(), site.name
        if site.soft:
            torch.testing.assert_close(site.forward_mask, forward, rtol=1e-5, atol=1e-6)
        else:
            assert torch.equal(site.forward_mask, forward), site.name
        # Gradients a rounding away from zero may fall either side of it.
        clear = grad.abs() > 1e-6 * max(grad.abs().max().item(), 1e-12)
        assert torch.equal(site.backward_mask[clear], (grad > 0)[clear]), site.name


def check_unchanged(seed: int, rank: int) -> None:
    net, x = random_net(seed, rank)
    for rule in RULES:
        plain = GuidedBackprop(net).explain(x, target=TARGET, rule=rule)
        gates = GuidedBackprop(net, activations="gated").explain(x, target=TARGET, rule=rule)
        assert torch.equal(plain.attribution, gates.attribution), rule
        assert [(s.name, s.kind) for s in plain.sites] == [(s.name, s.kind) for s in gates.sites]
        for one, other in zip(plain.sites, gates.sites, strict=True):
            assert not other.soft
            assert torch.equal(one.forward_mask, other.forward_mask)
            assert torch.equal(one.backward_mask, other.backward_mask)
        assert plain.not_guided == gates.not_guided


def failures_of(check, rank: int, gates: bool) -> list[str]:
    failures = []
    for seed in range(PER_RANK):
        try:
            check(seed, rank)
        except Exception as err:  # noqa: BLE001 - every failing network is listed at once
            net, _ = random_net(seed, rank, gates=gates)
            failures.append(f"seed {seed}, {describe(net)}: {type(err).__name__}: {err}"[:700])
    return failures


@pytest.mark.parametrize("rank", [2, 3, 4, 5])
def test_gated_networks_match_the_reference(rank):
    failures = failures_of(check_gated, rank, gates=True)
    assert not failures, f"{len(failures)} of {PER_RANK} networks:\n" + "\n".join(failures)


@pytest.mark.parametrize("rank", [2, 3, 4, 5])
def test_gates_change_nothing_on_rectifier_networks(rank):
    failures = failures_of(check_unchanged, rank, gates=False)
    assert not failures, f"{len(failures)} of {PER_RANK} networks:\n" + "\n".join(failures)


def test_the_generator_draws_every_gated_spelling():
    seen = set()
    for rank in (2, 3, 4, 5):
        for seed in range(PER_RANK):
            net, _ = random_net(seed, rank, gates=True)
            for _, *args in net.program:
                seen.update(a.name for a in args if getattr(a, "gate", None))
    assert seen == {s.name for s in GATED_SPELLINGS}
