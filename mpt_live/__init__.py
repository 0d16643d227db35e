"""mpt-live: real-time micro-expression recognition with Motion Prompt Tuning (MPT).

The runtime package is torch-free: face alignment, clip sampling, Eulerian magnification,
rank pooling, the ONNX Runtime back end and the session engine that runs them on any source.
"""

__version__ = "0.1.0"
