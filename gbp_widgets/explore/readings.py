"""The session read at a place: what lies under a panel pixel (the read-out's numbers, the
site unit, the dense output's region, the detection's box)."""

from __future__ import annotations

import numpy as np

from gbp_widgets.engine import Region
from gbp_widgets.explore import outputs
from gbp_widgets.explore.names import SCORE_THRESHOLD
from gbp_widgets.explore.outputs import Detection
from gbp_widgets.explore.passes import View
from gbp_widgets.explore.views import Cut, panel_position, site_unit


class SessionReadings:
    """The reading part of :class:`~gbp_widgets.explore.ExplorerSession`."""

    def region_at(self, row: int, column: int, size: int, cut: Cut) -> Region:
        """The 4-connected region of the class predicted under output-panel pixel
        ``(row, column)``, as ``Region(cls, mask)`` with a mask of the output's positions."""
        labels = self.predicted_labels()
        position = panel_position(labels.shape, row, column, size, cut)
        mask = outputs.connected_region(labels, position)
        return Region(int(labels[position]), mask)

    def detection_at(
        self, row: int, column: int, size: int, threshold: float = SCORE_THRESHOLD
    ) -> Detection | None:
        """The detection whose box holds input-panel pixel ``(row, column)`` (the smallest)."""
        height, width = self.photo().shape[:2]
        return outputs.detection_at(
            self.detections(threshold), (column + 0.5) * width / size, (row + 0.5) * height / size
        )

    def unit_at(
        self, view: View, row: int, column: int, size: int
    ) -> tuple[int | None, tuple[int, ...]] | None:
        """The site unit under pixel ``(row, column)`` of a site panel: ``(channel,
        position)``, the channel ``None`` where all are shown at that position."""
        if not self.site_names:
            return None
        cut = view.cut if self.views[view.input_index].kind == "volume" else None
        return site_unit(self.site_shape(view.site), row, column, size, view.channel, cut)

    def readout(self, view: View, row: int, column: int, size: int) -> dict[str, object]:
        """The numbers under panel pixel ``(row, column)`` of ``size``-pixel panels."""
        result = self.result(view.target, view.rule)
        shown = self.views[view.input_index]
        spot = shown.locate(row, column, size, view.cut)
        values: dict[str, object] = {
            "where": spot.words,
            "input": _floats(self.input_values(view.input_index)[spot.index]),
            "attribution": _floats(self.attribution(result, view.input_index)[spot.index]),
        }
        if shown.kind == "image":
            y, x = spot.index[1:]
            values.update(y=y, x=x, rgb=tuple(int(v) for v in self.photo()[y, x]))
        if isinstance(self.output_kind, outputs.DenseMap):
            labels = self.predicted_labels()
            at = panel_position(labels.shape, row, column, size, view.cut)
            values["predicted"] = self.class_name(int(labels[at]))
        unit = self.unit_at(view, row, column, size) if result.sites else None
        if unit is None:
            return values
        channel, position = unit
        masks = self.site_masks(result, view.site)
        pre = self.recording.site_inputs[view.site][0].cpu().numpy()
        grad = result.grads.get(view.site)
        grad = grad.numpy() if grad is not None else np.zeros_like(pre)
        output = self.site_output(view.site)
        at = (slice(None) if channel is None else channel, *position)
        average = np.mean if channel is None else (lambda v: v)
        values.update(
            site_channel=channel,
            site_position=position,
            pre_activation=float(average(pre[at])),
            gradient=float(average(grad[at])),
            output=float(average(output[at])),
            **{name: float(average(mask[at])) for name, mask in masks.items()},
        )
        if len(position) == 2:
            values.update(site_y=position[0], site_x=position[1])
        return values


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.atleast_1d(values))
