"""One ONNX Runtime ``MultiHeadAttention`` node for each ViT block's attention core, in an exported graph.

A dynamo export spells a timm block's attention (between the ``qkv`` and ``proj`` Linears) as ~30 nodes: the
qkv product's bias Add, a reshape to (B, N, 3, heads, d), three Slice/Transpose/Squeeze branches, q and k each
scaled, the two products, Softmax, a Transpose and a Reshape back, plus Shape/Slice/Concat glue; on the CPU at one
thread the glue costs about as much as the two products. :func:`fuse_attention` replaces each such span by a
``Split`` of the qkv product into q, k and v and one ``com.microsoft.MultiHeadAttention`` node (the qkv bias as its
bias input, the scale the product of the span's two), which ONNX Runtime runs as one kernel. On the demo model
(ViT-S/14 at 112 px, static int8, one thread) the attention then takes 1.7 ms of kernel time a clip instead of
~3.2, the whole call 0.96x the CPU time at B=1 and B=2 (``python bench/model_call.py --profile``, a loaded machine).

It works on the fp32 export and on the static int8 QDQ graph alike: the qkv and proj MatMuls and their Q/DQ
pairs are left as they are (the attention products are fp32 in both). Spans are recognised by their shape, not
by node names; one that is not exactly of that shape is left alone, and the result is checked against the
unfused graph by whoever calls it (mpt-export's parity check, ``bench/model_call.py``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import helper, numpy_helper

# what may lie between the qkv reshape and the reshape back, besides the two products and the Softmax
GLUE = {"Reshape", "Slice", "Transpose", "Squeeze", "Unsqueeze", "Shape", "Concat", "Mul", "Split", "Gather",
        "Constant"}
MS_DOMAIN = "com.microsoft"


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            values[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return values


def _shape(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> list[int] | None:
    if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in consts:
        return None
    return [int(x) for x in np.asarray(consts[node.input[1]]).ravel()]


def _match(start: onnx.NodeProto, graph_outputs: set[str], producers: dict[str, onnx.NodeProto],
           consumers: dict[str, list[onnx.NodeProto]], consts: dict[str, np.ndarray]) -> dict | None:
    """The attention span that begins at ``start`` (the Reshape of the qkv product to (B, N, 3, heads, d)), or None."""
    shape = _shape(start, consts)
    if shape is None or len(shape) != 5 or shape[2] != 3 or min(shape[1], shape[3], shape[4]) <= 0:
        return None
    tokens, heads, width = shape[1], shape[3], shape[3] * shape[4]
    add = producers.get(start.input[0])
    if add is None or add.op_type != "Add" or [c.name for c in consumers[add.output[0]]] != [start.name]:
        return None
    biases = [i for i in add.input if i in consts and np.asarray(consts[i]).shape == (3 * width,)]
    if len(biases) != 1 or add.output[0] in graph_outputs:
        return None
    qkv = next(i for i in add.input if i != biases[0])
    span: dict[str, onnx.NodeProto] = {start.name: start}
    ends: dict[str, onnx.NodeProto] = {}
    todo = [start]
    while todo:
        for out in todo.pop().output:
            if out in graph_outputs:
                return None
            for c in consumers.get(out, []):
                if c.name in span or c.name in ends:
                    continue
                s = _shape(c, consts)
                if s is not None and len(s) == 3 and s[1:] == [tokens, width]:
                    ends[c.name] = c
                    continue
                if len(span) > 80:
                    return None
                span[c.name] = c
                todo.append(c)
    ops = [n.op_type for n in span.values()]
    if len(ends) != 1 or ops.count("MatMul") != 2 or ops.count("Softmax") != 1 or \
            any(o not in GLUE | {"MatMul", "Softmax"} for o in ops):
        return None
    end = next(iter(ends.values()))
    inside = {o for n in span.values() for o in n.output}
    for n in [*span.values(), end]:  # fed only by the span itself (and constants)
        if any(i and i not in inside and i not in consts and i != add.output[0] for i in n.input):
            return None
    softmax = next(n for n in span.values() if n.op_type == "Softmax")
    axis = next((a.i for a in softmax.attribute if a.name == "axis"), -1)
    if axis not in (-1, 3):
        return None
    scale = 1.0
    for n in span.values():
        if n.op_type == "Mul":
            c = [np.asarray(consts[i]) for i in n.input if i in consts]
            if len(c) != 1 or c[0].size != 1:
                return None
            scale *= float(c[0].ravel()[0])
    return {"add": add, "qkv": qkv, "bias": biases[0], "span": list(span.values()), "end": end,
            "heads": heads, "width": width, "scale": scale}


def fuse_attention(proto: onnx.ModelProto) -> int:
    """Replace, in place, each ViT attention span of ``proto`` by Split + ``MultiHeadAttention``; returns how many."""
    graph = proto.graph
    consts = _constants(graph)
    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for n in graph.node:
        for i in n.input:
            consumers[i].append(n)
    outputs = {o.name for o in graph.output}
    names = {n.name for n in graph.node}
    if len(names) != len(graph.node) or "" in names:  # spans are tracked by node name: such a graph is left alone
        return 0
    matches = []
    for node in graph.node:
        m = _match(node, outputs, producers, consumers, consts)
        if m is not None:
            matches.append(m)
    if not matches:
        return 0
    drop: set[str] = set()
    insert: dict[str, list[onnx.NodeProto]] = {}
    for k, m in enumerate(matches):
        w, stem = m["width"], f"mpt_attention_{k}"
        sizes = numpy_helper.from_array(np.array([w, w, w], np.int64), f"{stem}_split")
        graph.initializer.append(sizes)
        q, key, v = f"{stem}_q", f"{stem}_k", f"{stem}_v"
        split = helper.make_node("Split", [m["qkv"], sizes.name], [q, key, v], name=f"{stem}_Split", axis=-1)
        mha = helper.make_node("MultiHeadAttention", [q, key, v, m["bias"]], [m["end"].output[0]],
                               name=f"{stem}_MultiHeadAttention", domain=MS_DOMAIN,
                               num_heads=m["heads"], scale=m["scale"])
        insert[m["add"].name] = [split, mha]
        drop |= {m["add"].name, m["end"].name, *(n.name for n in m["span"])}
    kept = []
    for n in graph.node:
        kept += insert.get(n.name, [])
        if n.name not in drop:
            kept.append(n)
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input}
    unused = [t for t in graph.initializer if t.name not in used]
    for t in unused:
        graph.initializer.remove(t)
    if not any(o.domain == MS_DOMAIN for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return len(matches)


__all__ = ["fuse_attention"]
