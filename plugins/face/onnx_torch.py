"""Turn the YuNet / SFace ONNX graphs into torch modules (worker only: imports onnx and torch).

The ONNX files are data, not code; they are parsed with ``onnx`` and rebuilt as a
torch ``fx`` graph by ``onnx2torch`` so faces can be batched on a GPU. Two small
graph edits are needed first, and ``patched_model`` is shared with the parity
tests so onnxruntime runs exactly the graph that torch runs:

* SFace (IR 6) lists its weights as graph inputs; they are dropped from the inputs
  so they are treated as constants.
* YuNet's head reshapes to ``[1, -1, k]``: the leading 1 becomes 0 ("copy the
  batch dimension") and the declared input size becomes symbolic, so any batch
  and any multiple-of-32 input size works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Parity tolerance between torch and onnxruntime, in absolute units of each output
#: (YuNet scores/offsets are O(1); SFace embedding components are O(1)).
PARITY_ATOL = 1e-4


def patched_model(path: Path) -> Any:
    """Load an ONNX model and apply the edits described in the module docstring."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    init_names = {init.name for init in graph.initializer}
    inputs = [inp for inp in graph.input if inp.name not in init_names]
    del graph.input[:]
    graph.input.extend(inputs)

    reshape_shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    for init in graph.initializer:
        if init.name in reshape_shapes:
            shape = numpy_helper.to_array(init).copy()
            if shape.ndim == 1 and shape.size == 3 and shape[0] == 1:
                shape[0] = 0
                init.CopyFrom(numpy_helper.from_array(shape, init.name))

    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        for idx, dim in enumerate(dims):
            if idx == 0 or (len(dims) == 4 and idx >= 2) or (len(dims) == 3 and idx == 1):
                dim.ClearField("dim_value")
                dim.dim_param = f"d{idx}"
    return model


def to_torch(path: Path) -> Any:
    """ONNX file -> eval-mode torch module with BatchNorm folded into the convolutions."""
    import torch
    from onnx2torch import convert

    module = convert(patched_model(path))
    module.eval()
    _fold_batchnorm(module)
    _inplace_relu(module)
    for param in module.parameters():
        param.requires_grad_(False)
    return module.to(memory_format=torch.channels_last)


def _fold_batchnorm(module: Any) -> None:
    """Fold every BatchNorm2d that only follows a Conv2d into that conv (inference speed-up).

    ``torch.fx``'s own ``fuse`` re-traces the module, which onnx2torch graphs do not
    allow, so the rewrite is done on the existing graph.
    """
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    modules = dict(module.named_modules())
    graph = module.graph
    for node in list(graph.nodes):
        if node.op != "call_module" or not isinstance(modules.get(node.target), torch.nn.BatchNorm2d):
            continue
        src = node.args[0] if node.args else None
        if getattr(src, "op", None) != "call_module" or len(src.users) != 1:
            continue
        conv = modules.get(src.target)
        if not isinstance(conv, torch.nn.Conv2d):
            continue
        fused = fuse_conv_bn_eval(conv, modules[node.target])
        parent_name, _, attr = src.target.rpartition(".")
        setattr(module.get_submodule(parent_name) if parent_name else module, attr, fused)
        node.replace_all_uses_with(src)
        graph.erase_node(node)
    graph.lint()
    module.delete_all_unused_submodules()
    module.recompile()


def optimise_for_cpu(module: Any, example: Any) -> Any:
    """TorchScript-freeze a module for CPU inference (conv+ReLU fusion, oneDNN layouts).

    Up to 2x faster than eager on CPU for a fixed input shape; the frozen graph
    accepts any batch and input size and matches eager within float rounding, but
    re-optimises on each new shape, so it is used only where shapes repeat (SFace's
    112x112 batches). GPUs use the eager module.
    """
    import warnings

    import torch

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about onnx2torch's shape logic (handled, see tests)
        traced = torch.jit.trace(module, example.contiguous(memory_format=torch.channels_last), check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))


def _inplace_relu(module: Any) -> None:
    """ReLU in place where its input has no other reader (saves a full-size copy per layer on CPU)."""
    import torch

    for node in module.graph.nodes:
        if node.op != "call_module":
            continue
        sub = module.get_submodule(node.target)
        src = node.args[0] if node.args else None
        if isinstance(sub, torch.nn.ReLU) and getattr(src, "op", None) == "call_module" and len(src.users) == 1:
            sub.inplace = True
