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
pairs are left as they are (the attention products are fp32 in both). Spans are recognised by their shape and by
what they compute, not by node names: which third of the qkv tensor each Slice takes (q, k, v), which of them
feeds which side of which product (k alone transposed), that the scales sit on q or k before the first product,
and the Transposes' perms; a span that differs in any of these is left alone. mpt-export's parity check (int8
against torch, within 0.05) would pass a span fused with k and v swapped (6.7e-3 on ViT-Ti/16): the int8 files are
fused through :func:`fuse_checked`, which first fuses the fp32 export in memory and compares it with itself unfused
(within 1e-4, one random input), and leaves the int8 graph unfused where they differ.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

# what may lie between the qkv reshape and the reshape back, besides the two products and the Softmax
GLUE = {"Reshape", "Slice", "Transpose", "Squeeze", "Unsqueeze", "Shape", "Concat", "Mul", "Split", "Gather",
        "Constant"}
MS_DOMAIN = "com.microsoft"


SMALL = 4096  # elements: the constants a span is recognised by (shapes, slice bounds, scales, the qkv bias) are fewer


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """The graph's small constants as arrays (weights are left out by their dims, never converted)."""
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer if int(np.prod(t.dims)) <= SMALL}
    for n in graph.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value" \
                and int(np.prod(n.attribute[0].t.dims)) <= SMALL:
            values[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return values


def _shape(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> list[int] | None:
    if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in consts:
        return None
    return [int(x) for x in np.asarray(consts[node.input[1]]).ravel()]


def _perm(node: onnx.NodeProto) -> list[int] | None:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None) \
        if node.op_type == "Transpose" else None


def _third(node: onnx.NodeProto, consts: dict[str, np.ndarray], axes: tuple[list[int], ...]) -> int | None:
    """Which third of the qkv tensor a Slice on one of ``axes`` takes (0 q, 1 k, 2 v), or None."""
    if node.op_type != "Slice" or len(node.input) not in (4, 5) or any(i not in consts for i in node.input[1:]):
        return None
    starts, ends, axis, *steps = (np.asarray(consts[i]).ravel().tolist() for i in node.input[1:])
    if axis not in axes or steps not in ([], [[1]]) or len(starts) != 1 or starts[0] not in (0, 1, 2) \
            or ends != [starts[0] + 1]:
        return None
    return int(starts[0])


def _computes_attention(start: onnx.NodeProto, span: dict[str, onnx.NodeProto], end: onnx.NodeProto,
                        softmax: onnx.NodeProto, consts: dict[str, np.ndarray]) -> bool:
    """Whether the span computes softmax(q k^T * scale) v of the qkv reshape's thirds, as the fused node does.

    Each tensor is labelled with the thirds it derives from (0 q, 1 k, 2 v; shape glue of a branch carries its
    label): the reshape's one consumer is the (2, 0, 3, 1, 4) Transpose, which feeds three Slices taking thirds
    0, 1 and 2; the first product is q (only q) times k (only k, with the one Transpose of the span's branches);
    the scale Muls sit on q or k alone; the Softmax takes the first product; the second product is the Softmax
    times v (only v, untransposed); and the end reshape takes that product through the (0, 2, 1, 3) Transpose.
    """
    order = list(span.values())
    users = [n for n in order if start.output[0] in n.input]
    whole = [2, 0, 3, 1, 4]  # (B, N, 3, heads, d) -> (3, B, heads, N, d)
    if len(users) == 1 and _perm(users[0]) == whole:  # as exported: one Transpose, then a Slice a third
        permutes = users
        slices = [n for n in order if users[0].output[0] in n.input]
        axes: tuple[list[int], ...] = ([0], [-5])
    else:  # ORT's transpose optimiser (quant_pre_process) moves it below the Slices: one a branch
        slices = users
        permutes = [c for n in slices for c in order if n.output[0] in c.input]
        if len(permutes) != 3 or any(_perm(t) != whole for t in permutes):
            return False
        axes = ([2], [-3])
    label: dict[str, frozenset[int]] = {}
    thirds = []
    for n in slices:
        third = _third(n, consts, axes)
        if third is None or n.input[0] not in (start.output[0], permutes[0].output[0]):
            return False
        thirds.append(third)
        label[n.output[0]] = frozenset({third})
    if sorted(thirds) != [0, 1, 2]:
        return False
    rest = [n for n in order if n is not start and n not in slices and not (len(permutes) == 1 and n is permutes[0])]
    for _ in range(len(rest)):  # the span was gathered breadth first, not in order: label until nothing changes
        changed = False
        for n in rest:
            got = frozenset().union(*(label.get(i, frozenset()) for i in n.input))
            for o in n.output:
                changed |= label.get(o) != got
                label[o] = got
        if not changed:
            break
    q, k, v = frozenset({0}), frozenset({1}), frozenset({2})
    products = [n for n in order if n.op_type == "MatMul"]
    first = next((n for n in products if n.output[0] == softmax.input[0]), None)
    second = next((n for n in products if n is not first), None)
    if first is None or second is None or label.get(first.input[0]) != q or label.get(first.input[1]) != k \
            or second.input[0] != softmax.output[0] or label.get(second.input[1]) != v:
        return False
    for n in order:
        if n.op_type == "Mul" and label.get(n.output[0]) not in (q, k):
            return False
        if n.op_type == "Transpose" and n not in permutes and label.get(n.output[0]) in (q, v):
            return False
    if sum(n.op_type == "Transpose" and n not in permutes and label.get(n.output[0]) == k for n in order) != 1:
        return False
    back = next((n for n in order if n.output[0] == end.input[0]), None)
    return back is not None and _perm(back) == [0, 2, 1, 3] and back.input[0] == second.output[0]


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
    if axis not in (-1, 3) or not _computes_attention(start, span, end, softmax, consts):
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
    taken = names | {t.name for t in graph.initializer} | {i for n in graph.node for i in n.input} | \
        {o for n in graph.node for o in n.output}
    stems = (f"mpt_attention_{k}" for k in range(len(taken) + len(matches)))
    for m in matches:  # names of a graph fused before are kept: each new node and tensor name is free
        stem = next(s for s in stems if not any(t.startswith(s + "_") for t in taken))
        w = m["width"]
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


CHECK_TOLERANCE = 1e-4  # max |difference| of the fused fp32 graph's outputs from its own, unfused (fp32 rounding)


def fuse_checked(proto: onnx.ModelProto, fp32: str | Path, work: str | Path) -> tuple[int, str | None]:
    """:func:`fuse_attention` on ``proto`` (an int8 file made from the fp32 export ``fp32``) where the fp32 graph,
    fused the same way in memory, gives its own unfused outputs within :data:`CHECK_TOLERANCE` on one random input;
    else ``proto`` is left as it is. Returns the spans fused and, where none were for that reason, the line why.
    The two graphs are written in a temporary folder in ``work`` (beside the output: made if need be), removed."""
    import tempfile

    import onnxruntime as ort

    plain = onnx.load(str(fp32))
    fused = onnx.ModelProto()
    fused.CopyFrom(plain)
    if fuse_attention(fused):
        rng = np.random.default_rng(0)
        feeds = {i.name: rng.standard_normal([d.dim_value if d.dim_value > 0 else 1
                                              for d in i.type.tensor_type.shape.dim]).astype(np.float32)
                 for i in plain.graph.input}
        Path(work).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mpt-fuse-check-", dir=work) as tmp:
            outs = []
            for k, model in enumerate((plain, fused)):  # through files: a model over 2 GB has no one-piece bytes
                path = Path(tmp) / f"{k}.onnx"
                onnx.save(model, str(path), save_as_external_data=True, location=f"{k}.onnx.data")
                sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                outs.append(sess.run(None, feeds))
        diff = max(float(np.abs(a - b).max()) for a, b in zip(*outs))
        if not diff <= CHECK_TOLERANCE:
            return 0, (f"attention left unfused: the fp32 graph with its attention fused gave {diff:.1e} from its own "
                       f"outputs (over {CHECK_TOLERANCE:g}) on a random input")
    return fuse_attention(proto), None


__all__ = ["fuse_attention", "fuse_checked"]
