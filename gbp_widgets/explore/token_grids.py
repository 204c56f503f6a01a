"""A site's masks per token and unit: the forward gate, the backward mask and their
product, as ``(T, U)`` grids over the units that pass the most."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gbp_widgets.engine import Explanation
from gbp_widgets.explore.names import GRID_SIZE


@dataclass(frozen=True)
class TokenGrids:
    """``forward``, ``backward`` and ``product``: ``(T, U)`` float arrays in [0, 1] (the
    gate ``s(x)`` or ``1[x>0]``, ``1[g>0]``, their product) for the units ``units``
    ``(U,)``, the site's last-dimension indices in the order of what they pass (the
    product summed over tokens), most first. ``site``: the site's name."""

    site: str
    forward: np.ndarray
    backward: np.ndarray
    product: np.ndarray
    units: np.ndarray


def ranked_units(product: np.ndarray, units: int = GRID_SIZE) -> np.ndarray:
    """The ``units`` columns of a ``(T, H)`` product mask that pass the most, summed over
    tokens, most first (``(U,)`` indices into ``H``)."""
    return np.argsort(-product.sum(axis=0), kind="stable")[:units]


def token_grids(
    explanation: Explanation, site: str, item: int = 0, units: int = GRID_SIZE
) -> TokenGrids:
    """The grids of ``explanation``'s site ``site`` for batch item ``item``. The site's
    masks are ``(N, T, H)`` (a layer applied per token); ``units`` must be at least 1."""
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"units must be a positive int, got {units!r}")
    chosen = explanation.site(site)
    if len(chosen.shape) != 3:
        raise ValueError(
            f"site {site!r} has shape {chosen.shape}; token x unit grids need (N, T, H), a "
            "layer applied to each token"
        )
    forward = chosen.forward_mask[item].float().cpu().numpy()
    backward = chosen.backward_mask[item].float().cpu().numpy()
    product = forward * backward
    order = ranked_units(product, units)
    return TokenGrids(site, forward[:, order], backward[:, order], product[:, order], order)
