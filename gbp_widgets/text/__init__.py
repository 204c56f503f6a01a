"""Text models to learn on, offline: a character-level GPT trained on the help topics that
ship with Python, a small classifier of synthetic sentences with a planted evidence token,
their tokenizers, and the adapters that let any tokenizer (a Hugging Face one as it is)
turn text into ids and ids into token strings. Torch only."""

from gbp_widgets.text.planted import PLANTED_CLASSES, PlantedSentences, planted_sentences
from gbp_widgets.text.shipped import load_char_model, load_planted_model
from gbp_widgets.text.tokenizers import (
    CharTokenizer,
    TokenizerError,
    encode_text,
    mask_token_id,
    token_strings,
    token_words,
    visible,
)
from gbp_widgets.text.transformer import TinyTransformer

__all__ = [
    "PLANTED_CLASSES",
    "CharTokenizer",
    "PlantedSentences",
    "TinyTransformer",
    "TokenizerError",
    "encode_text",
    "load_char_model",
    "load_planted_model",
    "mask_token_id",
    "planted_sentences",
    "token_strings",
    "token_words",
    "visible",
]
