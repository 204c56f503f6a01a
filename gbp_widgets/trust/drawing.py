"""The trust table drawn: its three columns as bars with their intervals, TorchRay's
published figures beside the pointing game, and example scenes under every map."""

from __future__ import annotations

import numpy as np

from gbp_widgets.metrics import saliency
from gbp_widgets.pictures.figures import NotebookFigure, gray_key
from gbp_widgets.trust.table import TORCHRAY_VOC07_VGG16, TrustTable

# Hit and miss colours that stay apart for red-green colour blindness (blue and orange).
HIT, MISS, BOX = "#1f77b4", "#ff7f0e", "#17becf"


def table_figure(
    table: TrustTable, published: dict[str, float] = TORCHRAY_VOC07_VGG16
) -> NotebookFigure:
    """Three panels of horizontal bars, one bar per row of ``table`` with its 95 %
    interval: the pointing game as TorchRay scores it (%), with each map's own-peak score
    as a black tick and ``published`` (percent, by row name; TorchRay's VOC07 VGG16 figures
    unless given) as red diamonds; then mean deletion AUC and mean insertion AUC."""
    names = list(table.rows)
    rows = [table.rows[name] for name in names]
    places = np.arange(len(names))[::-1]
    figure = NotebookFigure(figsize=(12.5, 0.42 * len(names) + 1.9), layout="constrained")
    axes = figure.subplots(1, 3, sharey=True)
    columns = [
        (
            "pointing game as TorchRay scores it, % (higher is better)",
            np.array([100 * row.torchray for row in rows]),
            100 * np.array([row.torchray_interval for row in rows]).T,
        ),
        *[
            (
                f"{kind} AUC, mean ({better} is better)",
                np.array([getattr(row, kind).mean() for row in rows]),
                np.array([row.mean_interval(getattr(row, kind)) for row in rows]).T,
            )
            for kind, better in (("deletion", "lower"), ("insertion", "higher"))
        ],
    ]
    units = (
        "% of scenes (mean over the ten digits)",
        "area under the curve",
        "area under the curve",
    )
    for axis, (title, values, (low, high)), unit in zip(axes, columns, units, strict=True):
        axis.barh(places, values, color="#9ecae1", label="ours (95 % interval)")
        axis.errorbar(values, places, xerr=[values - low, high - values], fmt="none", color="k")
        axis.set_title(title, fontsize=9)
        axis.set_xlabel(unit, fontsize=8)
        axis.tick_params(labelsize=8)
        # The AUCs on a scale their differences show on; shares of scenes on 0 to 100.
        axis.set_xlim(0, 100 if axis is axes[0] else min(1.0, 1.15 * float(high.max())))
    axes[0].scatter(
        [100 * row.pointing for row in rows],
        places,
        marker="o",
        s=36,
        facecolors="white",
        edgecolors="#333333",
        zorder=3,
        clip_on=False,  # a score near 100 % would be half hidden by the axis' end
        label="ours, on each map's own peak",
    )
    known = [
        (place, published[name])
        for place, name in zip(places, names, strict=True)
        if name in published
    ]
    axes[0].scatter(
        [value for _, value in known],
        [place for place, _ in known],
        marker="D",
        color="#d62728",
        zorder=3,
        label="TorchRay, VOC07 test, VGG16",
    )
    axes[0].legend(fontsize=7, loc="lower right")
    axes[0].set_yticks(places, names, fontsize=8)
    figure.suptitle(
        f"Which map to trust? {len(table.scenes)} held-out digit scenes, pointing tolerance "
        f"{table.tolerance} px, deletion (zeros) and insertion (blur) curves of "
        f"{table.steps} steps",
        fontsize=10,
    )
    return figure


def examples_figure(table: TrustTable, count: int = 6) -> NotebookFigure:
    """The first ``count`` scenes, then each row's ``|map|`` (largest channel, divided by
    its own peak) with the digit's box outlined and the map's own (unsmoothed) peak
    marked: a blue ``+`` when it is a hit, an orange ``x`` when not."""
    count = min(count, len(table.scenes))
    names = list(table.maps)
    figure = NotebookFigure(
        figsize=(1.45 * count + 2.2, 1.45 * (len(names) + 1) + 0.6), layout="constrained"
    )
    axes = figure.subplots(len(names) + 1, count, squeeze=False)
    for column in range(count):
        _scene(axes[0, column], table.scenes.images[column, 0].numpy(), table, column)
    for row, name in enumerate(names, start=1):
        values = saliency(table.maps[name][:count]).cpu().numpy()
        for column in range(count):
            picture = values[column] / max(float(values[column].max()), np.finfo(float).tiny)
            axis = axes[row, column]
            _scene(axis, picture, table, column)
            peak = np.unravel_index(np.argmax(values[column]), picture.shape)
            hit = bool(table.rows[name].hits[column])
            axis.plot(
                peak[1], peak[0], "+" if hit else "x", color=HIT if hit else MISS, ms=9, mew=2
            )
        axes[row, 0].set_ylabel(name, fontsize=8)
    axes[0, 0].set_ylabel("scene", fontsize=8)
    gray_key(figure, axes, "scene: 0 black, 1 white; map: |map| / its peak")
    figure.suptitle(
        "Each map's own (unsmoothed) peak: blue + within "
        f"{table.tolerance} px of the digit's box (cyan), orange x further off",
        fontsize=9,
    )
    return figure


def _scene(axis, picture: np.ndarray, table: TrustTable, item: int) -> None:
    from matplotlib.patches import Rectangle

    axis.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0)
    rows, columns = np.nonzero(table.scenes.boxes[item].numpy())
    axis.add_patch(
        Rectangle(
            (columns.min() - 0.5, rows.min() - 0.5),
            columns.max() - columns.min() + 1,
            rows.max() - rows.min() + 1,
            fill=False,
            edgecolor=BOX,
            linewidth=1.2,
        )
    )
    axis.set_xticks([]), axis.set_yticks([])
