"""gbp-widgets: see Guided Backpropagation, down to every ReLU, inside Jupyter."""

from gbp_widgets.dataset import DatasetResults, explain_dataset
from gbp_widgets.engine import (
    RULES,
    Explanation,
    GuidedBackprop,
    GuidedBackpropWarning,
    GuidedGradCAM,
    Neuron,
    NotGuided,
    Recording,
    Region,
    Site,
    TokenTarget,
    guided_gradcam,
)
from gbp_widgets.images import SAMPLE_NAMES, ImageError, load_image, sample_image
from gbp_widgets.models import (
    DEFAULT_MODEL,
    LoadedModel,
    ModelUnavailableError,
    Preprocessing,
    load_model,
    model_names,
)
from gbp_widgets.pictures import render
from gbp_widgets.threads import fair_threads

__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use, so the engine and the CLI never load ipywidgets.
    if name in ("Explorer", "Gallery"):
        from gbp_widgets import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'gbp_widgets' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "DatasetResults",
    "Explorer",
    "RULES",
    "SAMPLE_NAMES",
    "Explanation",
    "GuidedBackprop",
    "GuidedBackpropWarning",
    "Gallery",
    "GuidedGradCAM",
    "ImageError",
    "LoadedModel",
    "ModelUnavailableError",
    "Neuron",
    "NotGuided",
    "Preprocessing",
    "Recording",
    "Region",
    "Site",
    "TokenTarget",
    "explain_dataset",
    "fair_threads",
    "guided_gradcam",
    "load_image",
    "load_model",
    "model_names",
    "render",
    "sample_image",
]
