"""The notebook side: ipywidgets + ipycanvas views over the engine and over results."""

from gbp_widgets.widgets.explorer import Explorer
from gbp_widgets.widgets.gallery import Gallery

__all__ = ["Explorer", "Gallery"]
