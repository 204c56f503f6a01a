"""Site.open_shares counts open units on the packed bits: the same shares as the unpacked
masks, for items that fill whole bytes and items that do not, in one chunk or several."""

import pytest
import torch
from torch import nn

from gbp_widgets import GuidedBackprop


@pytest.mark.parametrize("size", [8, 7])  # 6 x 8 x 8 units fill whole bytes; 6 x 7 x 7 do not
@pytest.mark.parametrize("batch_size", [None, 2])
def test_open_shares_equal_the_unpacked_masks(size, batch_size):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.LazyLinear(4), nn.ReLU()
    )
    x = torch.randn(5, 3, size, size)
    model(x)
    explanation = GuidedBackprop(model.eval()).explain(x, rule="guided", batch_size=batch_size)
    for site in explanation.sites:
        for mask in ("forward_mask", "backward_mask", "product"):
            unpacked = getattr(site, mask).reshape(5, -1).float().mean(dim=1)
            assert torch.allclose(site.open_shares(mask), unpacked), (site.name, mask)


def test_open_shares_need_captured_masks_and_a_known_mask():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    site = GuidedBackprop(model).explain(torch.randn(2, 4), capture_masks=False).sites[0]
    with pytest.raises(RuntimeError, match="capture_masks=True"):
        site.open_shares("product")
    captured = GuidedBackprop(model).explain(torch.randn(2, 4)).sites[0]
    with pytest.raises(ValueError, match="unknown mask"):
        captured.open_shares("both")
