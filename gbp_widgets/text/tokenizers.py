"""Text to ids and ids to token strings, for our character tokenizer and any other.

A tokenizer is anything callable on a string that returns token ids: a list or tensor of
ints, or a mapping with ``input_ids`` (what a Hugging Face tokenizer returns). Token strings
come from its ``convert_ids_to_tokens`` where it has one, else from ``decode`` of each id
alone. Nothing here imports a tokenizer library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch


class TokenizerError(ValueError):
    """The text cannot be tokenised, or the tokenizer gave something that is not ids."""


class CharTokenizer:
    """One token per character of ``characters`` (the vocabulary, in id order).

    ``tokenizer(text)`` is the list of ids; ``decode(ids)`` the text again. A character
    outside the vocabulary is refused with the characters that are.
    """

    def __init__(self, characters: str) -> None:
        if len(set(characters)) != len(characters):
            raise ValueError("the vocabulary has a character twice")
        self.characters = characters
        self._ids = {c: i for i, c in enumerate(characters)}

    def __len__(self) -> int:
        return len(self.characters)

    def __call__(self, text: str) -> list[int]:
        unknown = sorted({c for c in text if c not in self._ids})
        if unknown:
            listed = ", ".join(repr(c) for c in unknown[:8])
            raise TokenizerError(
                f"the character tokenizer does not know {listed}: its {len(self)} characters "
                "are those of Python's help topics (letters, digits, punctuation, space and "
                "newline); leave the others out"
            )
        return [self._ids[c] for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.characters[int(i)] for i in ids)


def encode_text(tokenizer: Callable, text: object) -> torch.Tensor:
    """``text`` as ids ``(1, T)`` (long) by ``tokenizer``; :class:`TokenizerError` for an
    empty text or a tokenizer that does not return ids."""
    if not isinstance(text, str):
        raise TokenizerError(f"the text must be a str, got {type(text).__name__}")
    if not text:
        raise TokenizerError("the text is empty: type at least one character")
    try:
        made = tokenizer(text)
    except TokenizerError:
        raise
    except Exception as err:  # noqa: BLE001 - any tokenizer's refusal, said as ours
        raise TokenizerError(
            f"the tokenizer could not take {text!r} ({type(err).__name__}: {err})"
        ) from err
    if isinstance(made, Mapping) and "input_ids" in made:
        made = made["input_ids"]
    ids = _as_ids(made, tokenizer)
    if ids.numel() == 0:
        raise TokenizerError(f"the tokenizer made no tokens of {text!r}")
    return ids.reshape(1, -1)


def _as_ids(made: object, tokenizer: object) -> torch.Tensor:
    what = f"the tokenizer returned {type(made).__name__}"
    try:
        ids = torch.as_tensor(made)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TokenizerError(
            f"{what}, not token ids: a tokenizer must return a list of ints, an integer "
            "tensor, or a dict with 'input_ids'"
        ) from err
    if ids.is_floating_point() or ids.dtype == torch.bool or ids.dim() > 2:
        raise TokenizerError(
            f"{what} of {ids.dtype} with shape {tuple(ids.shape)}: token ids are ints, "
            "one row for the text"
        )
    if ids.dim() == 2 and ids.shape[0] != 1:
        raise TokenizerError(f"{what} with {ids.shape[0]} rows for one text: give one row")
    return ids.to(torch.long)


def token_strings(tokenizer: object, ids: Sequence[int]) -> list[str]:
    """The text of each token in ``ids``, one string per id."""
    ids = [int(i) for i in ids]
    convert = getattr(tokenizer, "convert_ids_to_tokens", None)
    if callable(convert):
        return [str(token) for token in convert(ids)]
    decode = getattr(tokenizer, "decode", None)
    if not callable(decode):
        raise TokenizerError(
            f"{type(tokenizer).__name__} cannot turn ids back into text: give a tokenizer "
            "with decode(ids) or convert_ids_to_tokens(ids)"
        )
    return [str(decode([i])) for i in ids]


# Characters that would vanish or break a line where tokens are shown, and what shows them.
_VISIBLE = {" ": "\u00b7", "\n": "\u21b5", "\t": "\u2192", "\r": "\u240d"}


def visible(token: str) -> str:
    """``token`` as it is shown in a cell: spaces as ``·``, newlines as ``↵``, tabs as ``→``,
    other control characters by their escape; an empty token as ``∅``."""
    if not token:
        return "\u2205"
    return "".join(
        _VISIBLE.get(c, c if c.isprintable() else c.encode("unicode_escape").decode())
        for c in token
    )


def token_words(tokenizer: object, ids) -> list[str]:
    """The texts of ``ids`` as a cell shows them (:func:`visible`)."""
    return [visible(token) for token in token_strings(tokenizer, ids)]


def mask_token_id(tokenizer: object) -> int | None:
    """The id of ``tokenizer``'s mask token (BERT's ``[MASK]``), ``None`` where it has none:
    the mark of a masked language model, whose scores at a token guess that token."""
    return getattr(tokenizer, "mask_token_id", None)
