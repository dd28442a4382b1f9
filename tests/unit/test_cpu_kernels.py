"""1x1 convolutions routed to oneDNN on CPU workers: same outputs, other kernel."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from retrieval.cpu_kernels import OneDnnPointwise, route_pointwise_to_onednn  # noqa: E402


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.Conv2d(16, 32, 1),  # plain pointwise: routed
        torch.nn.Conv2d(32, 32, 3, padding=1, groups=32),
        torch.nn.Conv2d(32, 32, 1, stride=2),  # strided: left alone
        torch.nn.Sequential(torch.nn.Conv2d(32, 8, 1, bias=False)),  # nested, no bias: routed
    ).eval()


def _ops(module: torch.nn.Module, x: torch.Tensor) -> set[str]:
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        module(x)
    return {e.key for e in prof.key_averages()}


def test_only_plain_pointwise_convolutions_are_swapped_and_outputs_do_not_change() -> None:
    plain, routed = _net(), _net()
    weight = routed[1].weight
    route_pointwise_to_onednn(routed)
    swapped = [m for m in routed.modules() if isinstance(m, OneDnnPointwise)]
    assert len(swapped) == 2 and routed[1].weight is weight  # the same parameters, not a copy
    assert routed[3].__class__ is torch.nn.Conv2d and routed[4][0].bias is None
    with torch.inference_mode():
        for shape in [(1, 3, 8, 8), (1, 3, 96, 96), (4, 3, 40, 40), (16, 3, 20, 20)]:
            x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
            assert torch.allclose(routed(x), plain(x), atol=1e-5)


def test_small_batches_leave_torchs_im2col_path_with_one_thread() -> None:
    """The reason for the swap: batch 4, one thread -> torch's own path for plain 1x1 kernels, oneDNN for the
    routed ones; a single tiny input stays on torch's (undilated) path either way."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain, routed = _net(), route_pointwise_to_onednn(_net())
        x = torch.randn(4, 3, 40, 40).contiguous(memory_format=torch.channels_last)
        assert "aten::_slow_conv2d_forward" in _ops(plain, x)
        assert "aten::_slow_conv2d_forward" not in _ops(routed, x)
        tiny = torch.randn(1, 3, 4, 4)
        assert "aten::slow_conv_dilated2d" not in _ops(routed, tiny)
    finally:
        torch.set_num_threads(threads)
