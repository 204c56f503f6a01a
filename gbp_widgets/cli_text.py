"""``gbp-widgets explain-text``: one text through a language model or classifier, its
predictions and each token's score printed, and a figure of the coloured tokens and the
token x unit grids written."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gbp_widgets.engine import RULES, GuidedBackprop, TokenTarget, check_activations
from gbp_widgets.explore.token_grids import GRID_SIZE, token_grids
from gbp_widgets.models import factory_function
from gbp_widgets.pictures.files import save_whole, writable_figure_path
from gbp_widgets.pictures.text_figure import text_figure
from gbp_widgets.pictures.tokens import dark_ink, score_colours
from gbp_widgets.text import encode_text, load_char_model, mask_token_id, token_strings
from gbp_widgets.text.tokenizers import visible

BUNDLED = "char_gpt"
REDUCES = ("norm", "sum", "dot")


def add_text_command(commands) -> None:
    text = commands.add_parser(
        "explain-text",
        help="explain a text: the predicted next tokens (or classes), each token's score, and "
        "a figure of the coloured tokens and the token x unit grids",
    )
    text.add_argument("text", help="the text, e.g. 'def f(x): return'")
    text.add_argument("--out", type=Path, required=True, help="figure to write, e.g. text.png")
    text.add_argument(
        "--model",
        default=BUNDLED,
        help=f"{BUNDLED} (the default: a character GPT trained on Python's help topics, "
        "shipped with the package) or package.module:function, a function that returns "
        "(model, tokenizer); the tokenizer is any callable str -> ids",
    )
    text.add_argument("--rule", default="guided", help=f"{', '.join(RULES)} (default guided)")
    text.add_argument(
        "--activations",
        default="gated",
        help="gated (the default here: GELU and SiLU are sites through their gates s(x), our "
        "extension; without it a GELU model has no site and every rule is the gradient) or "
        "relu (the published method)",
    )
    text.add_argument(
        "--position",
        type=int,
        help="explain the prediction after this token position (default: the last; for a "
        "masked model, one whose tokenizer has a mask token, the masked tokens)",
    )
    text.add_argument(
        "--token", help="explain this next token's score (default: the one predicted)"
    )
    text.add_argument("--target", type=int, help="for a classifier: the class index")
    text.add_argument(
        "--reduce",
        default="norm",
        help="a token's score from its attribution vector: norm (L2, the default), sum "
        "(signed; zero in pre-norm transformers, where a LayerNorm follows the embedding on "
        "every path) or dot (with the embedding: gradient x input, signed)",
    )


@dataclass(frozen=True)
class TextRun:
    """What :func:`explain_text` made: the figure's path and the lines to print."""

    out: Path
    lines: list[str]


def explain_text(args: argparse.Namespace, colour: bool | None = None) -> TextRun:
    """Run ``explain-text``: check everything before the model runs, write the figure
    whole or not at all. ``colour``: colour the tokens with terminal escapes (default:
    when standard output is a terminal and ``NO_COLOR`` is not set)."""
    out = writable_figure_path(args.out)
    check_activations(args.activations)
    if args.rule not in RULES:
        raise ValueError(f"--rule {args.rule!r}: use one of {', '.join(RULES)}")
    if args.reduce not in REDUCES:
        raise ValueError(f"--reduce {args.reduce!r}: use one of {', '.join(REDUCES)}")
    model, tokenizer = _model(args.model)
    ids = encode_text(tokenizer, args.text)
    recording = GuidedBackprop(model, args.activations).record(ids)
    logits = recording.logits
    language = logits is not None and logits.dim() == 3
    target = _target(args, tokenizer, ids, language)
    chosen = recording.explain(target, args.rule)
    gradient = recording.explain(target, "gradient")
    tokens = [visible(t) for t in token_strings(tokenizer, ids[0].tolist())]
    scores = chosen.token_scores(args.reduce)[0].cpu().numpy()
    lines = _predictions(chosen, tokenizer, language)
    title = f"{args.model} on {args.text!r}: {lines[0].rstrip(':')}; {lines[-1]}"
    label = _rule_label(args.rule, args.activations)
    lines.append(f"token scores ({args.reduce}) under {label}:")
    lines += _token_lines(tokens, scores, args.reduce != "norm", _colour(colour))
    signed = args.reduce != "norm"
    rows = [
        (f"{label}, {args.reduce} per token", scores, signed),
        ("gradient", gradient.token_scores(args.reduce)[0].cpu().numpy(), signed),
    ]
    grids, units = [], ()
    # The first block's site: in a causal model a later block's per-token layers pass
    # gradient only at the explained position, while the first one's spread it over the text.
    per_token = [s for s in chosen.sites if len(s.shape) == 3]
    if per_token:
        made = token_grids(chosen, per_token[0].name, units=GRID_SIZE)
        grids = [
            (f"forward gate at {made.site}", made.forward),
            ("backward mask 1[g>0]", made.backward),
            ("product", made.product),
        ]
        units = made.units.tolist()
    figure = text_figure(title, tokens, rows, grids, units)
    save_whole(figure, out)
    return TextRun(out, lines)


def _model(spec: str):
    if spec == BUNDLED:
        return load_char_model()
    made = factory_function(spec)()
    if not (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module)):
        raise ValueError(
            f"{spec}() must return (model, tokenizer), the model a torch.nn.Module; it "
            f"returned {type(made).__name__}"
        )
    return made[0].eval(), made[1]


def _target(args, tokenizer, ids: torch.Tensor, language: bool):
    length = ids.shape[1]
    if not language:
        if args.position is not None or args.token is not None:
            raise ValueError("--position and --token are for language models; use --target")
        return args.target
    if args.target is not None:
        raise ValueError("--target is a class of a classifier; use --position and --token")
    token = None
    if args.token is not None:
        made = encode_text(tokenizer, args.token)
        if made.shape[1] != 1:
            raise ValueError(f"--token {args.token!r} is {made.shape[1]} tokens: give one")
        token = int(made[0, 0])
    if args.position is not None and not -length <= args.position < length:
        raise ValueError(
            f"--position {args.position} is past the text, which has {length} tokens "
            f"(positions 0 to {length - 1})"
        )
    position = args.position
    # A masked model is explained at its masked tokens.
    mask = mask_token_id(tokenizer)
    if position is None and mask is not None and bool((ids == mask).any()):
        position = ids[0] == mask
    return TokenTarget(position, token)


def _rule_label(rule: str, activations: str) -> str:
    return f"{rule} with gates (ours)" if activations == "gated" and rule != "gradient" else rule


def _predictions(explanation, tokenizer, language: bool, k: int = 5) -> list[str]:
    logits = explanation.logits[0].detach().float()
    if language:
        target: TokenTarget = explanation.target
        position = int(target.position[0].nonzero()[0, 0])
        probabilities = logits[position].softmax(-1)
        names = [visible(t) for t in token_strings(tokenizer, range(len(probabilities)))]
        explained = int(target.token[0, position])
        masked = mask_token_id(tokenizer) is not None
        head = f"{'token at' if masked else 'next token after'} position {position}, top {k}:"
    else:
        probabilities = logits.softmax(-1)
        names = [f"class {i}" for i in range(len(probabilities))]
        explained = int(explanation.target[0])
        head = f"classes, top {min(k, len(probabilities))}:"
    order = probabilities.argsort(descending=True)[:k].tolist()
    lines = [head] + [
        f"  {rank}. {names[i]!r:>8}  {100 * float(probabilities[i]):5.1f}%"
        for rank, i in enumerate(order, start=1)
    ]
    lines.append(f"explained: {names[explained]!r} ({100 * float(probabilities[explained]):.1f}%)")
    return lines


def _colour(asked: bool | None) -> bool:
    if asked is not None:
        return asked
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _token_lines(tokens: list[str], scores: np.ndarray, signed: bool, colour: bool) -> list[str]:
    top = float(np.abs(scores).max()) or 1.0
    if colour:
        cells = []
        for token, rgb in zip(tokens, score_colours(scores, signed, 100.0), strict=True):
            r, g, b = (int(c) for c in rgb)
            ink = "30" if dark_ink(rgb) else "97"
            cells.append(f"\x1b[48;2;{r};{g};{b}m\x1b[{ink}m{token}\x1b[0m")
        return ["  " + "".join(cells), f"  (largest {top:.3g})"]
    return [
        f"  {place:3d} {token!r:>8}  {score:{'+' if signed else ''}.4f}  "
        + "#" * round(20 * abs(score) / top)
        for place, (token, score) in enumerate(zip(tokens, scores, strict=True))
    ]
