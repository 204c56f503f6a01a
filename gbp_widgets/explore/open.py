"""Opening a session: from the Explorer's arguments, a model name, or a picture."""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn

from gbp_widgets.explore.batch import picture_inputs
from gbp_widgets.explore.names import CUSTOM
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.images import SAMPLE_NAMES, load_image, sample_image
from gbp_widgets.models import DEFAULT_MODEL, Preprocessing, load_model
from gbp_widgets.text import encode_text, load_char_model


def describe(err: BaseException) -> str:
    """An exception as a person reads it in a status line."""
    return f"{type(err).__name__}: {err}"


def open_session(
    model: nn.Module | None,
    inputs: object,
    image: object,
    kind: str | None,
    text: str | None = None,
    **engine_args,
) -> ExplorerSession:
    """The session for the Explorer's arguments: the default model on ``image`` (the
    first sample when ``None``), or ``model`` on ``inputs`` or on ``image`` preprocessed;
    ``kind`` names the view of every input, ``engine_args`` go to the session. With
    ``text`` (or a ``tokenizer`` among ``engine_args``): ``model`` (the shipped
    character GPT and its tokenizer without one) on the text's token ids.

    A user model that cannot be explained raises: no other model is put in its place.
    """
    engine_args["kinds"] = (kind,) if kind else None
    if inputs is not None and image is not None:
        raise ValueError("give inputs= (model-ready tensors) or image= (a picture), not both")
    if text is not None or engine_args.get("tokenizer") is not None:
        return _text_session(model, inputs, image, text, engine_args)
    if model is None:
        if inputs is not None:
            raise ValueError("inputs= needs model=: the default model takes pictures (image=)")
        return named_session(DEFAULT_MODEL, picture(image))
    if inputs is None:
        preprocess = engine_args["preprocess"] or Preprocessing()
        pictured = picture_inputs(picture(image), preprocess)
        engine_args = {**engine_args, **pictured, "preprocess": preprocess}
    else:
        engine_args = {**engine_args, "inputs": inputs}
    return _explained(model, engine_args)


def _explained(model: nn.Module, engine_args: dict) -> ExplorerSession:
    """A session for the user's ``model``; what went wrong said as such, nothing put in
    its place."""
    try:
        return ExplorerSession(model, **engine_args)
    except Exception as err:
        raise ValueError(f"your model could not be explained: {describe(err)}") from err


def _text_session(model, inputs, image, text, engine_args) -> ExplorerSession:
    if image is not None:
        raise ValueError("give text= (with tokenizer=) or image=, not both")
    if model is None:
        if engine_args.get("tokenizer") is not None:
            raise ValueError("tokenizer= needs model=: the shipped text model has its own")
        model, engine_args["tokenizer"] = load_char_model()
    if text is not None and inputs is not None:
        raise ValueError("give text= or inputs= (token ids), not both")
    if text is not None:
        if engine_args.get("tokenizer") is None:
            raise ValueError("text= needs the model's tokenizer=: any callable str -> ids")
        inputs = encode_text(engine_args["tokenizer"], text)
    return _explained(model, {**engine_args, "inputs": inputs})


def shown_text(session: ExplorerSession) -> str:
    """The text of the item shown, for the text box: its tokenizer's decoding of the ids
    ("" without a tokenizer that decodes)."""
    decode = getattr(session.tokenizer, "decode", None)
    if not session.texts or not callable(decode):
        return ""
    return str(decode(session.inputs[0].tolist()))


def named_session(
    name: str, shown: Image.Image | torch.Tensor, activations: str = "relu"
) -> ExplorerSession:
    """A session for :func:`load_model` ``name`` on picture ``shown``."""
    loaded = load_model(name)
    return ExplorerSession(
        loaded.model,
        **picture_inputs(shown, loaded.preprocess),
        classes=loaded.classes,
        preprocess=loaded.preprocess,
        activations=activations,
    )


def switched_model(session: ExplorerSession, name: str) -> ExplorerSession:
    """A session for model ``name`` on the photo ``session`` shows (the first sample
    when it shows no single photo)."""
    shown = Image.fromarray(session.photo()) if session.one_photo else sample_image(SAMPLE_NAMES[0])
    return named_session(name, shown, session.activations)


def picture(image: object) -> Image.Image | torch.Tensor:
    """A picture for ``image=``: a sample name, a path, bytes, a PIL image or a tensor;
    the first sample when ``None``."""
    if image is None:
        return sample_image(SAMPLE_NAMES[0])
    if isinstance(image, (Image.Image, torch.Tensor)):
        return image
    if isinstance(image, str) and image in SAMPLE_NAMES:
        return sample_image(image)
    return load_image(image)


def image_name(image: object) -> str:
    """The image menu's entry for ``image=``: a sample's name, else "custom"."""
    return image if isinstance(image, str) and image in SAMPLE_NAMES else CUSTOM


# What a new value of each trait that costs a forward pass does to the session (the state
# table's ``opens``): the session changed in place, or a new one for another model. Each
# raises what opening the picture, loading the model or the forward pass raised, the
# session then as it was.


def new_image(session: ExplorerSession, value: str) -> ExplorerSession:
    """Sample or picture ``value`` shown ("custom" names the picture shown already)."""
    if value != CUSTOM:
        session.set_image(picture(value))
    return session


def new_model(session: ExplorerSession, value: str) -> ExplorerSession:
    """Model ``value`` on the photo shown ("custom" names the model given)."""
    return session if value == CUSTOM else switched_model(session, value)


def new_item(session: ExplorerSession, value: int) -> ExplorerSession:
    session.set_item(value)
    return session


def new_layer(session: ExplorerSession, value: str) -> ExplorerSession:
    session.set_layer(value)
    return session


def new_text(session: ExplorerSession, value: str) -> ExplorerSession:
    session.set_text(value)
    return session


def new_activations(session: ExplorerSession, value: str) -> ExplorerSession:
    session.set_activations(value)
    return session
