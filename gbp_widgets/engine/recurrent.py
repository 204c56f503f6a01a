"""Recurrent layers whose nonlinearity runs inside one fused call.

``nn.RNN(nonlinearity="relu")`` and ``nn.RNNCell`` compute every time step's
ReLU inside ``torch.rnn_relu`` / ``torch.rnn_relu_cell``, out of the rules'
reach. Here the same computation is written step by step, each step's ReLU
handed to ``rectify`` so the rules apply to it: ``h_t = relu(x_t W_ih^T + b_ih
+ h_{t-1} W_hh^T + b_hh)``, layer by layer and direction by direction, with
packed sequences' shrinking batches. LSTM, GRU and tanh RNN kernels have no
rectifier; they are only reported (:data:`FUSED_UNCOVERED`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Rectify = Callable[[torch.Tensor], torch.Tensor]

# Fused kernels with rectifiers inside, written out step by step below.
FUSED_RELU = frozenset({"rnn_relu", "rnn_relu_cell"})

# Fused kernels the rules say nothing about, by what a report calls them.
FUSED_UNCOVERED = {
    "lstm": "sigmoid and tanh in a fused LSTM",
    "lstm_cell": "sigmoid and tanh in a fused LSTM cell",
    "gru": "sigmoid and tanh in a fused GRU",
    "gru_cell": "sigmoid and tanh in a fused GRU cell",
    "rnn_tanh": "tanh in a fused RNN",
    "rnn_tanh_cell": "tanh in a fused RNN cell",
}


def unrolled(name: str, args: tuple, kwargs: dict, rectify: Rectify) -> object:
    """What the fused call ``name`` (one of :data:`FUSED_RELU`) returns for ``args``,
    computed step by step with ``rectify`` as each step's ReLU."""
    if name == "rnn_relu_cell":
        return _cell(*args, **kwargs, rectify=rectify)
    return _layers(args, rectify)


def _cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, *, rectify: Rectify) -> torch.Tensor:
    return rectify(F.linear(input, w_ih, b_ih) + F.linear(hx, w_hh, b_hh))


def _layers(args: tuple, rectify: Rectify) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.rnn_relu`` on a padded ``(T, N, F)`` (or batch-first) input, or on a
    packed sequence's ``data`` and ``batch_sizes``: ``(output, h_n)`` as it returns."""
    packed = not isinstance(args[2], (list, tuple))
    if packed:
        data, batch_sizes, hx, params, has_biases, layers, dropout, train, both = args
        sizes = [int(size) for size in batch_sizes]
        steps = list(data.split(sizes))
    else:
        data, hx, params, has_biases, layers, dropout, train, both, batch_first = args
        sequence = data.transpose(0, 1) if batch_first else data
        steps = list(sequence.unbind(0))
        sizes = [sequence.shape[1]] * len(steps)
    directions = 2 if both else 1
    per_direction = 4 if has_biases else 2
    finals = []
    for layer in range(layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            weights = params[index * per_direction : (index + 1) * per_direction]
            out, last = _direction(steps, sizes, hx[index], weights, direction == 1, rectify)
            outputs.append(out)
            finals.append(last)
        steps = (
            [torch.cat(parts, -1) for parts in zip(*outputs, strict=True)] if both else outputs[0]
        )
        if dropout and train and layer < layers - 1:
            steps = [F.dropout(step, dropout, True) for step in steps]
    h_n = torch.stack(finals)
    if packed:
        return torch.cat(steps), h_n
    output = torch.stack(steps)
    return (output.transpose(0, 1) if batch_first else output), h_n


def _direction(
    steps: Sequence[torch.Tensor],
    sizes: Sequence[int],
    h0: torch.Tensor,
    weights: Sequence[torch.Tensor],
    reverse: bool,
    rectify: Rectify,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One layer in one direction: each step's hidden state, and the final one.

    At step ``t`` only the first ``sizes[t]`` sequences take part (packed
    sequences are sorted longest first); the others keep their state, which
    is the last one of a sequence that has ended, or, going backwards, the
    initial state of one that has not begun.
    """
    w_ih, w_hh, *biases = weights
    b_ih, b_hh = biases if biases else (None, None)
    h = h0
    outputs: list[torch.Tensor] = [h0] * len(steps)
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    for t in order:
        active = sizes[t]
        new = rectify(F.linear(steps[t], w_ih, b_ih) + F.linear(h[:active], w_hh, b_hh))
        outputs[t] = new
        h = new if active == h.shape[0] else torch.cat([new, h[active:]])
    return outputs, h
