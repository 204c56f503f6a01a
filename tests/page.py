"""What a page sends a widget, without a browser: the same comm messages, through the
widget's own comm, so the kernel side runs exactly as it does for a person."""

from __future__ import annotations

import ipywidgets as widgets


def _receive(widget: widgets.Widget, data: dict, buffers: list | None = None) -> None:
    widget.comm.handle_msg({"content": {"data": data}, "buffers": buffers or []})


def choose(control: widgets.Widget, value: object) -> None:
    """The page sets ``control`` to ``value``: a menu or buttons send the option's index,
    other controls the value."""
    if hasattr(control, "options") and hasattr(control, "index"):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        _receive(control, {"method": "update", "state": {"index": values.index(value)}})
    else:
        _receive(control, {"method": "update", "state": {"value": value}})


def event(canvas: widgets.Widget, name: str, **fields) -> None:
    """A canvas event from the page: ``move``, ``down``, ``leave`` with ``x`` and ``y``,
    ``key`` with ``key`` (and the modifiers, unpressed unless given)."""
    if name == "key":
        fields = {"shift": False, "ctrl": False, "meta": False, **fields}
    _receive(canvas, {"method": "custom", "content": {"event": name, **fields}})


def hover(strip, x: float, y: float) -> None:
    event(strip.canvas, "move", x=x, y=y)


def click(strip, x: float, y: float) -> None:
    event(strip.canvas, "down", x=x, y=y)


def press(strip, key: str) -> None:
    event(strip.canvas, "key", key=key)


def update(widget: widgets.Widget, **state) -> None:
    """The page sets attributes of ``widget``'s model (a click on the webcam bar's
    toggles sets ``active``, ``paused`` or ``follow``; the page's camera sets ``state``)."""
    _receive(widget, {"method": "update", "state": state})


def frame(camera: widgets.Widget, frame_id: int, rgba: bytes) -> None:
    """The page's camera sends frame ``frame_id``: square RGBA bytes."""
    _receive(camera, {"method": "custom", "content": {"event": "frame", "id": frame_id}}, [rgba])
