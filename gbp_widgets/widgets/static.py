"""The picture a notebook keeps beside a live widget, for pages where no kernel is behind it."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

from gbp_widgets.pictures.figures import NotebookFigure

# Small enough that a notebook does not grow by more than about 300 kB per widget shown.
STATIC_DPI = 72


def with_picture(bundle: dict, figure: Callable[[], NotebookFigure], what: str) -> dict:
    """``bundle`` (a widget's display data) with a PNG of ``figure()`` and a text line.

    Front ends that show widgets prefer the widget view; nbconvert's HTML, nbviewer and
    GitHub (which have no widget state unless it was saved) show the PNG, and a terminal
    shows the text, which says how to get the picture.
    """
    bundle = dict(bundle or {})
    bundle["text/plain"] = (
        f"gbp-widgets {what} (this front end cannot show widgets: {what.lower()}.figure() "
        "draws what it shows)"
    )
    try:
        buffer = io.BytesIO()
        figure().savefig(buffer, dpi=STATIC_DPI, format="png")
    except Exception:  # noqa: BLE001 - the live widget must appear even without its picture
        return bundle
    bundle["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    return bundle
