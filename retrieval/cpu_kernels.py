"""CPU kernel choice for torch networks on workers (imports torch: import it inside worker code only).

Why: with one thread and a batch under 16, torch runs 1x1 convolutions through its own im2col + GEMM path
with a separate full-size bias copy instead of oneDNN (``use_mkldnn`` in ATen's Convolution.cpp). A 1x1
kernel with a dilation of 2 computes exactly the same output, and torch hands dilated convolutions to oneDNN:
2-2.7x faster per layer on YuNet's 640-px tiles, 2-3x for YAMNet's batches of 4-15 patches. For tiny inputs
(one item of at most ``SMALL_INPUT`` values) torch keeps its own path either way, and its dilated variant of
that path is the slower one, so such calls stay undilated. Outputs are identical (tests compare them).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

#: torch's own size limit below which a single-item convolution is not sent to oneDNN.
SMALL_INPUT = 20480


class OneDnnPointwise(torch.nn.Conv2d):
    """A 1x1 convolution that runs dilated (same output) wherever that puts it on oneDNN."""

    @classmethod
    def wrap(cls, conv: torch.nn.Conv2d) -> OneDnnPointwise:
        new = cls(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None, device="meta")
        new.weight, new.bias = conv.weight, conv.bias  # the same parameters, no copy
        new.train(conv.training)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and (x.shape[0] > 1 or x.numel() > SMALL_INPUT):
            return F.conv2d(x, self.weight, self.bias, 1, 0, 2, 1)
        return F.conv2d(x, self.weight, self.bias)


def route_pointwise_to_onednn(module: Any) -> Any:
    """Swap every plain 1x1 convolution (stride 1, no padding, no groups) of ``module`` in place; returns it."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Conv2d and _plain_pointwise(child):
                setattr(parent, name, OneDnnPointwise.wrap(child))
    return module


def _plain_pointwise(conv: torch.nn.Conv2d) -> bool:
    return (
        conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding in ((0, 0), "valid")
        and conv.dilation == (1, 1)
        and conv.groups == 1
    )
