"""The notebook side: ipywidgets + ipycanvas views over the engine."""

from gbp_widgets.widgets.explorer import Explorer

__all__ = ["Explorer"]
