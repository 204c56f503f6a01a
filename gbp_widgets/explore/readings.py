"""An item read at a place: the numbers under a panel pixel (the hover read-out) and the
site unit there."""

from __future__ import annotations

import numpy as np

from gbp_widgets.explore.names import SITE_PANELS
from gbp_widgets.explore.panels import Panels
from gbp_widgets.explore.sites import site_unit
from gbp_widgets.explore.view import View


def unit_at(
    panels: Panels, view: View, row: int, column: int, size: int
) -> tuple[int | None, tuple[int, ...]] | None:
    """The site unit under pixel ``(row, column)`` of a site panel of the item ``panels``
    draws: ``(channel, position)``, the channel ``None`` where all are shown at that
    position; ``None`` where the model has no sites."""
    if not panels.recording.sites:
        return None
    cut = panels.batch.kinds[view.input_index].site_cut(view.cut)
    shape = panels.site_shape(view.site)
    units = panels.site_units(panels.result(view), view)
    if units is not None:
        # A token x unit grid: the columns are the ranked units.
        shape = (shape[0], len(units))
    found = site_unit(shape, row, column, size, view.channel, cut)
    if found is None or units is None:
        return found
    channel, (column_at,) = found
    return channel, (int(units[column_at]),)


def readout(
    panels: Panels, view: View, row: int, column: int, size: int, class_name, panel="input"
):
    """The numbers under pixel ``(row, column)`` of ``size``-pixel ``panel`` of the item
    ``panels`` draws, by name (``class_name`` names a class index). Where a site panel's
    rows are the input's elements (tokens), the input read is the one of that row."""
    result = panels.result(view)
    kind = panels.batch.kinds[view.input_index]
    spot = kind.locate(row, column, size, view.cut)
    unit = unit_at(panels, view, row, column, size) if result.sites else None
    if unit is not None and panel in SITE_PANELS:
        spot = kind.spot_at_site(unit[0]) or spot
    values: dict[str, object] = {
        "where": spot.words,
        "input": _floats(panels.input_values(view.input_index)[spot.index]),
        "attribution": _floats(
            kind.attribution_at(panels.attribution(result, view.input_index), spot)
        ),
        **kind.spot_readout(spot, panels.photo()),
        **panels.output.readout(row, column, size, view.cut, class_name),
    }
    if unit is None:
        return values
    channel, position = unit
    masks = panels.site_masks(result, view.site)
    pre = panels.recording.site_inputs[view.site][0].cpu().numpy()
    grad = result.grads.get(view.site)
    grad = grad.numpy() if grad is not None else np.zeros_like(pre)
    output = panels.site_output(view.site)
    at = (slice(None) if channel is None else channel, *position)
    average = np.mean if channel is None else (lambda v: v)
    values.update(
        site_rows=kind.site_rows,
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
