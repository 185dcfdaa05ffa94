# imbalance-lab: make demo | make test | make bench
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CIFAR-10 copy beside the checkout when it exists, else torchvision's download.
DATA ?= $(if $(wildcard ../shared/datasets/cifar10/train),../shared/datasets/cifar10,cifar10:$(HOME)/.cache/imbalance-lab/downloads)
OUT ?= results/article

.PHONY: venv demo test lint bench clean

$(BIN)/imbalance-lab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1" -e ".[dev]"
	touch $@

venv: $(BIN)/imbalance-lab

demo: venv
	$(BIN)/imbalance-lab reproduce article --data "$(DATA)" --out $(OUT) --both --workers 2

lint: venv
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

test: lint
	$(BIN)/python -m pytest -q

bench: venv
	PYTHONPATH=. $(BIN)/python -m bench.run --data "$(DATA)" $(BENCH_ARGS)

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
