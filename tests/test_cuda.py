"""The engine on a GPU gives the CPU's answer, on the GPU. Skipped without CUDA."""

import pytest
import torch

from gbp_widgets import GuidedBackprop, guided_gradcam
from tests.zoo import torchvision_model, toy_model

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "densenet121"])
@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_cuda_matches_cpu(name, rule):
    model = torchvision_model(name)
    x = torch.randn(2, 3, 64, 64)
    on_cpu = GuidedBackprop(model).explain(x, target=[1, 2], rule=rule)
    on_gpu = GuidedBackprop(model.cuda()).explain(x, target=[1, 2], rule=rule)
    assert on_gpu.attribution.device.type == "cpu"  # follows the input
    scale = on_cpu.attribution.abs().max().item()
    torch.testing.assert_close(on_gpu.attribution, on_cpu.attribution, rtol=1e-3, atol=1e-3 * scale)
    agree = [
        (a.product == b.product.cpu()).float().mean().item()
        for a, b in zip(on_cpu.sites, on_gpu.sites, strict=True)
    ]
    assert min(agree) > 0.999  # cuDNN rounding may flip a unit sitting exactly at 0


def test_cuda_input_gives_cuda_output_and_masks():
    model = toy_model("functional_relus").cuda()
    x = torch.randn(2, 3, 16, 16, device="cuda")
    explanation = GuidedBackprop(model).explain(x)
    assert explanation.attribution.device.type == "cuda"
    assert explanation.sites[0].forward_mask.device.type == "cuda"
    result = guided_gradcam(model, x, layer="conv3")
    assert result.product.device.type == "cuda"


def test_chunked_cuda_memory_is_bounded_by_the_chunk():
    model = torchvision_model("resnet18").cuda()
    x = torch.randn(32, 3, 128, 128, device="cuda")

    def peak(batch_size):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        GuidedBackprop(model).explain(x, batch_size=batch_size, capture_masks=False)
        return torch.cuda.max_memory_allocated()

    assert peak(4) < 0.5 * peak(None)


@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_gated_cuda_matches_cpu(rule):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(weights=None, num_classes=5).eval()
    x = torch.randn(2, 3, 64, 64)
    on_cpu = GuidedBackprop(model, activations="gated").explain(x, target=[1, 2], rule=rule)
    on_gpu = GuidedBackprop(model.cuda(), activations="gated").explain(x, [1, 2], rule)
    scale = on_cpu.attribution.abs().max().item()
    torch.testing.assert_close(on_gpu.attribution, on_cpu.attribution, rtol=1e-3, atol=1e-3 * scale)
    for cpu_site, gpu_site in zip(on_cpu.sites, on_gpu.sites, strict=True):
        assert gpu_site.soft and gpu_site.forward_mask.device.type == "cuda"
        gate = gpu_site.forward_mask.cpu()
        torch.testing.assert_close(gate, cpu_site.forward_mask, atol=1e-4, rtol=0)
