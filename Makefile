# The two commands of the README:  make demo  and  make test.
# Both build .venv from scratch when it is missing: torch==2.13.0 first (CPU build), then the package.
# constraints.txt holds this machine's pins (torch==2.13.0): every pip call below passes it, so pip
# never resolves another torch. pyproject.toml itself puts no upper cap on torch.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIN    := -c constraints.txt

.PHONY: demo test venv clean benchmarks

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(PIN) torch==2.13.0
	$(BIN)/python -m pip install -q $(PIN) -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/layerwise demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf $(VENV) runs .pytest_cache
