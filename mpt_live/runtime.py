"""ONNX Runtime back end: load a self-describing MPT model (written by ``mpt-export``) and run it.

Torch-free. The model file carries everything the live loop needs: class names, the
:class:`~mpt_live.clip.ClipSpec` of the data path, backbone, precision and provenance, in its
``mpt.*`` metadata (docs/CONTRACTS.md). :class:`MPTRuntime` reads and validates that metadata
against the graph's inputs, so a model can never be fed clips it was not trained on.

Devices (execution providers; the one that really runs is :attr:`MPTRuntime.provider`; probing,
library loading and the one-line diagnoses live in :mod:`mpt_live.providers`):

* ``"auto"``: CUDA when it really works here (an fp32 or fp16 model), else the CPU, quietly;
  :meth:`MPTRuntime.describe` says which provider runs and why not the GPU. An int8 model stays
  on the CPU (its quantized MatMuls have no CUDA kernels: on a GPU they would run on the CPU with
  copies back and forth). Export fp16 or fp32 for GPUs.
* ``"cuda"``: the CUDA provider or a :class:`DeviceError` with one line saying why not (no driver,
  driver too old, no GPU, a named library missing).
* ``"tensorrt"``: the TensorRT provider (TensorRT 10 installed besides the ``[cuda]`` extra), CUDA taking any
  node it lacks. Engines are cached in :func:`~mpt_live.providers.trt_cache_dir`; a model's first
  run builds its engine, which can take minutes. Batch profile 1..64 for dynamic-batch models.
* ``"cpu"``: the CPU only.

Threads, chosen for a live loop that also reads the camera, aligns faces and magnifies motion on
the same machine: ``intra_op_num_threads`` = ``threads`` or, by default, the usable cores minus
one (at least 1), which leaves a core to the capture and preprocessing threads; one inter-op
thread and sequential execution, since the graph is a single chain of ops with no parallel
branches worth a second pool; and no spin-waiting of idle pool threads between calls, so the
pool does not burn the core the other stages need while waiting for the next clip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .blazeface import DETECTOR_MODULE, import_in_background
from .clip import ClipSpec
from .errors import InputError, first_line
from .load_errors import load_error, no_model_file, refuse_checkpoint
from .machine import check_count, default_threads, usable_cores, vector_extensions  # noqa: F401 (re-exported)
from .model_trust import fact_warning, failed_fact, int8_scheme, parity_fact, random_init
from .providers import (  # noqa: F401 (re-exported)
    CPU, CUDA, DEVICES, GPU_BATCH, PROVIDER_LABELS, TRT, TRT_MAX_BATCH, gpu_diagnosis, provider_works, trt_cache_dir,
    trt_options,
)
from .quiet import quiet_stdout
from .results import NEUTRAL

PRECISIONS = ("fp32", "fp16", "int8")
# every ClipSpec field an export writes; time_base and align came later (from_dict reads their absence)
CLIP_SPEC_REQUIRED = ("frames", "image_size", "window_s", "band_hz", "filter_order", "alpha", "pyramid_levels",
                      "attenuate", "mean", "std")
INPUTS = ("dynamic", "motion")
OUTPUT = "probs"
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}

def check_class_names(classes: Any, where: Any, field: str) -> None:
    """InputError ``<where>: ...`` unless ``classes`` is a non-empty list of distinct, non-empty names, none of them
    'neutral' (what mpt-live calls a window outside an event). mpt-export checks a checkpoint's with it too, so that
    it never writes a model that mpt-live refuses."""
    if not isinstance(classes, (list, tuple)) or not classes or not all(isinstance(c, str) and c for c in classes):
        raise InputError(f"{where}: bad {field} (need a non-empty list of names)")
    if any(c.strip().casefold() == NEUTRAL for c in classes):
        raise InputError(f"{where}: a class named 'neutral': mpt-live labels every window outside an event "
                         "'neutral', so the model's class would be confused with it (train with it renamed)")
    twice = sorted({c for c in classes if list(classes).count(c) > 1})
    if twice:
        raise InputError(f"{where}: bad {field} ({', '.join(map(repr, twice))} named more than once)")


class DeviceError(InputError):
    """The requested device cannot be used by ONNX Runtime on this machine."""


DEMO_MODEL_NAME = "demo_model.onnx"


def demo_model_path() -> Path:
    """The bundled demo model (it may not exist: scripts/make_demo_model.sh builds it)."""
    from .face import assets_dir

    return assets_dir() / DEMO_MODEL_NAME


def load_model(path: str | Path | None, device: str = "auto", threads: int | None = None,
               warmup: bool = True) -> "MPTRuntime | None":
    """``--model PATH``, else the bundled demo model when it exists, else None (motion-only)."""
    if path is None:
        path = demo_model_path()
        if not path.is_file():
            return None
    # a process that runs clips finds faces: the face detector's import meanwhile
    importing = import_in_background(DETECTOR_MODULE) if warmup else None
    try:
        rt = MPTRuntime(path, device=device, threads=threads)
        if warmup:
            rt.warmup(1)
    except BaseException:  # a bad model file, Ctrl-C: the process is not left importing while it ends
        if importing is not None:
            importing.join()
        raise
    return rt


class MPTRuntime:
    """An exported MPT model on ONNX Runtime.

    >>> rt = MPTRuntime("model.onnx")                  # device="auto"
    >>> print(rt.describe())
    >>> probs = rt.predict(dynamic, motion)             # (B,3,S,S), (B,T,3,S,S) -> (B,C) float32

    Attributes: ``path``, ``classes`` (list of names, the columns of ``probs``), ``clip_spec``,
    ``metadata`` (all metadata_props, raw strings), ``backbone``, ``precision`` (fp32|fp16|int8),
    ``demo`` (the bundled demo model), ``metrics`` (training metrics dict, or None),
    ``provider`` (the execution provider running the model), ``threads``, ``batch`` (the fixed
    batch size of the graph, or None for a dynamic batch), ``random_init`` (a randomly
    initialised backbone), ``parity`` (mpt-export's parity check: passed,
    FAILED or not recorded, with its figures) and ``parity_warning`` (one line where it failed, else '';
    :mod:`mpt_live.model_trust`).
    Bad files raise :class:`~mpt_live.errors.InputError` naming the file.
    """

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None) -> None:
        self.path = Path(path)
        if device not in DEVICES:
            raise InputError(f"--device {device}: choose one of {', '.join(DEVICES)}")
        if threads is not None and threads < 1:
            raise InputError(f"--threads {threads}: must be >= 1")
        check_count("--threads", threads, "threads")
        if not self.path.is_file():
            raise no_model_file(self.path)
        refuse_checkpoint(self.path)
        self.device = device
        self.threads = threads or default_threads()
        ort.set_default_logger_severity(3)  # errors only: no warnings about node placement etc.
        self.session, self.provider_note = self._create_session(device)
        self.provider = self.session.get_providers()[0]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self._read_metadata()
        self._check_graph()

    # ------------------------------------------------------------------ public

    def predict(self, dynamic_images: np.ndarray, motion_clips: np.ndarray) -> np.ndarray:
        """Class probabilities ``(B, C)`` float32 for a batch of clips.

        ``dynamic_images`` (B,3,S,S) and ``motion_clips`` (B,T,3,S,S) as made by
        :func:`mpt_live.motion.model_inputs` (stack them for a batch). A single unbatched clip,
        (3,S,S) and (T,3,S,S), is accepted too and gives ``(1, C)``.
        """
        S, T = self.clip_spec.image_size, self.clip_spec.frames
        d, m = np.asarray(dynamic_images), np.asarray(motion_clips)
        if d.shape == (3, S, S) and m.shape == (T, 3, S, S):
            d, m = d[None], m[None]
        if d.ndim != 4 or d.shape[1:] != (3, S, S) or m.shape != (d.shape[0], T, 3, S, S):
            raise ValueError(
                f"predict: expected dynamic (B,3,{S},{S}) and motion (B,{T},3,{S},{S}) for this model, "
                f"got {d.shape} and {m.shape}"
            )
        n = d.shape[0]
        if n == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        step = self.batch or (TRT_MAX_BATCH if self.provider == TRT else n)
        out = []
        for i in range(0, n, step):
            dd = np.ascontiguousarray(d[i:i + step], dtype=self._dtype)
            mm = np.ascontiguousarray(m[i:i + step], dtype=self._dtype)
            k = len(dd)
            if self.batch and k < self.batch:  # a fixed-batch graph: pad the last chunk
                dd = np.concatenate([dd, np.zeros((self.batch - k, *dd.shape[1:]), dd.dtype)])
                mm = np.concatenate([mm, np.zeros((self.batch - k, *mm.shape[1:]), mm.dtype)])
            out.append(self.session.run([OUTPUT], {"dynamic": dd, "motion": mm})[0][:k])
        return np.concatenate(out).astype(np.float32, copy=False)

    @property
    def max_batch(self) -> int:
        """Clips per call this runtime would batch by itself: the graph's fixed batch, else
        :data:`~mpt_live.providers.GPU_BATCH` on a GPU provider and 1 on the CPU (where concurrent
        single-clip calls scale better than one batched call)."""
        return self.batch or (1 if self.provider == CPU else GPU_BATCH)

    def warmup(self, runs: int = 2) -> None:
        """Run a few zero clips, so that one-off costs (allocations, TensorRT engines) are paid now."""
        S, T = self.clip_spec.image_size, self.clip_spec.frames
        b = self.batch or 1
        for _ in range(runs):
            self.predict(np.zeros((b, 3, S, S), np.float32), np.zeros((b, T, 3, S, S), np.float32))

    def describe(self) -> str:
        """One line: the model, what it was trained on, and where it runs."""
        s = self.clip_spec
        parts = [
            f"{self.path.name}: MPT {self.backbone or '?'} {self.precision}"
            + (" (random-init backbone)" if self.random_init else "")
            + (" (parity check FAILED at export)" if failed_fact(self.parity) else ""),
            f"{len(self.classes)} classes ({', '.join(self.classes)})",
            f"{s.frames} frames x {s.image_size}px over {s.window_s:g} s",
        ]
        shown = ""
        if self.metrics:  # the LOSO figures (UF1, UAR, ...; n as a count), not bookkeeping such as train_seconds
            shown = ", ".join(f"{k} {v:.3f}" if k != "n" else f"n {v:g}" for k, v in self.metrics.items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool) and "second" not in k)[:80]
        # named as LOSO's: after '(full)' they read as the deployed model's own figures on its training clips
        how = "; ".join(x for x in (self.protocol, f"LOSO {shown}" if shown else "") if x)
        # a demo model's or an mpt-synth-trained model's (mpt.data_kind) dataset is the layout its semi-synthetic clips
        # were written in (mpt-synth writes CASME II's), not the data it learned from: 'trained on casme2 (full)' reads
        # as the licensed dataset
        synthetic = self.demo or self.data_kind.startswith("semi-synthetic")
        data = f"semi-synthetic clips laid out as {self.dataset}" if synthetic and self.dataset else self.dataset
        how = "; ".join(x for x in (self.data_kind if not synthetic else "", how) if x)  # 'partly semi-synthetic'
        trained = f"{data} ({how})" if data and how else data or how
        if trained:
            parts.append(f"trained on {trained}{self.metrics_note}")
        elif self.metrics_note:
            parts.append(self.metrics_note.strip(" ()"))
        where = f"ONNX Runtime {ort.__version__} {PROVIDER_LABELS.get(self.provider, self.provider)}"
        if self.provider == CPU:
            where += f" ({self.threads} thread{'s' if self.threads > 1 else ''})"
        parts.append(where + self.provider_note)
        line = ", ".join(parts)
        return line + (" [DEMO model: synthetic training data, not a real recognizer]" if self.demo else "")

    def __repr__(self) -> str:
        return f"MPTRuntime({str(self.path)!r}, provider={self.provider!r})"

    # ------------------------------------------------------------------ loading

    def _create_session(self, device: str) -> tuple[ort.InferenceSession, str]:
        """Session on the provider the device asks for; returns it and a note on where it runs and why."""
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")

        flag = f"--device {device}"
        want = {"tensorrt": TRT, "cuda": CUDA}.get(device)
        plan: list[tuple[str, dict[str, str]]] = []
        note = ""
        if want is not None:
            if not provider_works(want):
                raise DeviceError(f"{flag}: ONNX Runtime cannot use the GPU here: {gpu_diagnosis(want)}; "
                                  "use --device cpu or auto")
            if want == TRT:
                precision, dynamic, shapes = self._peek()
                plan.append((TRT, trt_options(precision, shapes, dynamic)))
                note = f" (engine cache {trt_cache_dir()})"
            if provider_works(CUDA):
                plan.append((CUDA, {}))
        elif device == "auto":
            if not provider_works(CUDA):
                note = f" (not the GPU: {gpu_diagnosis(CUDA)})"
            elif self._peek()[0] == "int8":
                note = " (not the GPU: int8 models run on the CPU; export fp16 for the GPU)"
            else:
                plan.append((CUDA, {}))
        gpu_error = ""
        while True:
            providers = plan + [(CPU, {})]   # the CPU also takes any node a GPU provider lacks
            try:
                with quiet_stdout():
                    sess = ort.InferenceSession(str(self.path), so, providers=[p for p, _ in providers],
                                                provider_options=[o for _, o in providers])
            except Exception as e:
                if not plan:   # the CPU alone failed: the file is the problem
                    raise load_error(self.path, e) from None
                gpu_error = first_line(e)
                if want is not None and plan[0][0] == want:
                    raise DeviceError(f"{flag}: {self.path.name} does not run on "
                                      f"{PROVIDER_LABELS[want]} ({gpu_error})") from None
                plan = plan[1:]
                continue
            got = sess.get_providers()[0]
            if want is not None and got != want:
                raise DeviceError(f"{flag}: ONNX Runtime fell back to "
                                  f"{'the CPU' if got == CPU else PROVIDER_LABELS.get(got, got)} ({gpu_diagnosis(want)})")
            if gpu_error and got == CPU:
                note = f" (GPU unavailable: {gpu_error})"
            return sess, note

    def _peek(self) -> tuple[str, bool, tuple[int, int] | None]:
        """Precision, dynamic batch and (frames, image size), which shape the GPU providers' options.

        Reading metadata needs a session, so when a GPU provider is to be used these few fields are
        first read through a CPU session without graph optimisation (about a second for ViT-B).
        """
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        try:
            sess = ort.InferenceSession(str(self.path), so, providers=[CPU])
        except Exception as e:
            raise load_error(self.path, e) from None
        meta = sess.get_modelmeta().custom_metadata_map
        try:
            spec = ClipSpec.from_json(meta["mpt.clip_spec"])
            shapes: tuple[int, int] | None = (spec.frames, spec.image_size)
        except Exception:
            shapes = None  # reported properly by _read_metadata
        dims = [i.shape[0] if i.shape else None for i in sess.get_inputs()]
        return meta.get("mpt.precision", "fp32"), not all(isinstance(x, int) for x in dims), shapes

    def _read_metadata(self) -> None:
        meta, p = self.metadata, self.path
        if "mpt.classes" not in meta or "mpt.clip_spec" not in meta:
            raise InputError(f"{p}: not an MPT model (no mpt.classes / mpt.clip_spec metadata; export it with mpt-export)")
        try:
            classes = json.loads(meta["mpt.classes"])
        except json.JSONDecodeError as e:
            raise InputError(f"{p}: bad mpt.classes metadata ({e})") from None
        check_class_names(classes, p, "mpt.classes metadata")
        try:
            spec = json.loads(meta["mpt.clip_spec"])
            if not isinstance(spec, dict):
                raise ValueError(f"a JSON {type(spec).__name__}, not an object of ClipSpec fields")
            missing = sorted(set(CLIP_SPEC_REQUIRED) - set(spec))
            if missing:  # mpt-export writes every field: defaults would not be what the model was trained with
                raise ValueError(f"missing {', '.join(missing)}")
            self.clip_spec = ClipSpec.from_dict(spec)
        except (ValueError, TypeError, AttributeError) as e:
            raise InputError(f"{p}: bad mpt.clip_spec metadata ({first_line(e)})") from None
        self.classes: list[str] = classes
        self.precision = meta.get("mpt.precision", "fp32")
        if self.precision not in PRECISIONS:
            raise InputError(f"{p}: bad mpt.precision metadata {self.precision!r} (one of {', '.join(PRECISIONS)})")
        try:  # the LOSO figures are for information only: unreadable, they are left out (and said so)
            metrics = json.loads(meta["mpt.metrics"]) if meta.get("mpt.metrics") else None
            self.metrics_note = ("" if metrics is None or isinstance(metrics, dict)
                                 else " (its mpt.metrics is not a JSON object: not shown)")
        except json.JSONDecodeError:
            metrics, self.metrics_note = None, " (its mpt.metrics metadata is not JSON: not shown)"
        self.metrics: dict[str, Any] | None = metrics if isinstance(metrics, dict) else None
        self.backbone = meta.get("mpt.backbone", "")
        self.backbone_weights = meta.get("mpt.backbone_weights", "")  # where the frozen ViT's weights came from
        self.dataset = meta.get("mpt.dataset", "")
        self.data_kind = meta.get("mpt.data_kind", "").strip()  # 'semi-synthetic (mpt-synth)'; "" in older files
        self.protocol = meta.get("mpt.protocol", "")
        self.demo = meta.get("mpt.demo", "0").strip().lower() in ("1", "true", "yes")
        self.random_init = random_init(self.backbone_weights)  # --backbone-weights none
        self.parity = parity_fact(meta)                         # the model fact: passed, FAILED or not recorded
        # one line where mpt-export's check failed, else '' (its advice by the int8 scheme where there is one)
        self.parity_warning = fact_warning(p.name, self.parity, int8_scheme(meta))

    def _check_graph(self) -> None:
        """The graph's inputs and output must be the ones the metadata's ClipSpec and classes imply."""
        p, S, T, C = self.path, self.clip_spec.image_size, self.clip_spec.frames, len(self.classes)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if sorted(inputs) != sorted(INPUTS):
            raise InputError(f"{p}: model inputs {sorted(inputs)} are not {list(INPUTS)}")
        outputs = {o.name: o for o in self.session.get_outputs()}
        if OUTPUT not in outputs:
            raise InputError(f"{p}: model has no '{OUTPUT}' output (outputs: {sorted(outputs)})")
        want = {"dynamic": (3, S, S), "motion": (T, 3, S, S)}
        batches = set()
        for name, tail in want.items():
            shape = list(inputs[name].shape)
            if len(shape) != len(tail) + 1 or any(isinstance(a, int) and a != b for a, b in zip(shape[1:], tail)):
                raise InputError(
                    f"{p}: input '{name}' has shape {_fmt(shape)} but its ClipSpec "
                    f"(frames={T}, image_size={S}) needs (B, {', '.join(map(str, tail))})"
                )
            batches.add(shape[0] if isinstance(shape[0], int) else None)
            if inputs[name].type not in _DTYPES:
                raise InputError(f"{p}: input '{name}' is {inputs[name].type}, expected float32 or float16")
        if len(batches) != 1:
            raise InputError(f"{p}: inputs 'dynamic' and 'motion' have different batch sizes")
        self.batch: int | None = batches.pop()
        out = list(outputs[OUTPUT].shape)
        if len(out) != 2 or (isinstance(out[1], int) and out[1] != C):
            raise InputError(f"{p}: output '{OUTPUT}' has shape {_fmt(out)} but the model names {C} classes")
        self._dtype = _DTYPES[inputs["dynamic"].type]


def _fmt(shape: list[Any]) -> str:
    return "(" + ", ".join(str(d) if d is not None else "?" for d in shape) + ")"
