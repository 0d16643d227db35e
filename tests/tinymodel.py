"""A tiny model with the exported MPT interface, for tests that need a model but not a trained one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mpt_live.clip import ClipSpec


def tiny_onnx(path: Path, classes=("negative", "positive", "surprise"), spec: ClipSpec | None = None) -> Path:
    """A tiny model with the exported interface (inputs dynamic/motion, output probs, mpt.* metadata)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    spec = spec or ClipSpec()
    S, T, C = spec.image_size, spec.frames, len(classes)
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 3, (6, C)).astype(np.float32), "W"),
             numpy_helper.from_array(np.array([2, 3], np.int64), "ax_d"),
             numpy_helper.from_array(np.array([1, 3, 4], np.int64), "ax_m")]
    nodes = [helper.make_node("ReduceMean", ["dynamic", "ax_d"], ["fd"], keepdims=0),
             helper.make_node("ReduceMean", ["motion", "ax_m"], ["fm"], keepdims=0),
             helper.make_node("Concat", ["fd", "fm"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "W"], ["z"]),
             helper.make_node("Softmax", ["z"], ["probs"], axis=1)]
    graph = helper.make_graph(nodes, "tiny", [
        helper.make_tensor_value_info("dynamic", TensorProto.FLOAT, ["B", 3, S, S]),
        helper.make_tensor_value_info("motion", TensorProto.FLOAT, ["B", T, 3, S, S])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["B", C])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    meta = {"mpt.classes": json.dumps(list(classes)), "mpt.clip_spec": spec.to_json(), "mpt.backbone": "tiny_test",
            "mpt.precision": "fp32", "mpt.demo": "1", "mpt.dataset": "none", "mpt.protocol": "none"}
    for k, v in meta.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path
