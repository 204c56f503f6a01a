"""Which map to trust? An offline localisation set (digits on clutter, with their boxes),
a small max-pooling CNN trained on it, and one table that scores every kind of map by the
pointing game and by deletion and insertion curves (:mod:`gbp_widgets.metrics`), beside
TorchRay's published VOC07 figures."""

from gbp_widgets.trust.drawing import examples_figure, table_figure
from gbp_widgets.trust.scenes import (
    SceneCNN,
    SceneModel,
    Scenes,
    make_scenes,
    scene_sets,
    shipped_scene_model,
    train_scene_model,
)
from gbp_widgets.trust.table import (
    TOLERANCE,
    TORCHRAY_VOC07_VGG16,
    MapScores,
    TrustTable,
    trust_maps,
    trust_table,
    wilson,
)

# The name this class had before the state table's rows took it: kept, so code that used it
# runs, but the class is MapScores.
Row = MapScores

__all__ = [
    "TOLERANCE",
    "TORCHRAY_VOC07_VGG16",
    "MapScores",
    "Row",
    "SceneCNN",
    "SceneModel",
    "Scenes",
    "TrustTable",
    "examples_figure",
    "make_scenes",
    "scene_sets",
    "shipped_scene_model",
    "table_figure",
    "train_scene_model",
    "trust_maps",
    "trust_table",
    "wilson",
]
