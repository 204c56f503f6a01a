"""Explaining one model from several threads at once, for the thread-safety tests."""

from __future__ import annotations

import threading

import torch

from gbp_widgets import GuidedBackprop


def assert_threads_agree(model, x: torch.Tensor, target: int, threads: int, each: int) -> None:
    """``threads`` threads explain ``model`` ``each`` times at once. Every map must equal a
    lone explanation's, and the model (even in training mode) must keep its state and
    its ``training`` flags."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    training = [m.training for m in model.modules()]
    expected = GuidedBackprop(model).explain(x, target=target).attribution
    results, errors = [], []

    def work():
        try:
            for _ in range(each):
                results.append(GuidedBackprop(model).explain(x, target=target).attribution)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert len(results) == threads * each
    for result in results:
        torch.testing.assert_close(result, expected)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert [m.training for m in model.modules()] == training
