# make demo : create .venv, install milestones, train a small LSTM and an NTM briefly, build the HTML report
# make test : create .venv, install milestones with its test and cluster extras, lint, type-check the core, run the tests
# make bench: the speed benchmarks (benchmarks/*.py), with the peers they measure (the bench extra)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# test workers (pytest-xdist): one per core by default; TEST_JOBS=0 runs the tests in this process
TEST_JOBS ?= auto

.PHONY: demo test venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,cluster]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check
	$(PY) -m mypy
	$(PY) -m pytest -q -n $(TEST_JOBS) --durations=15

demo: $(STAMP)
	$(PY) -m milestones demo

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(PY) benchmarks/rnn_speed.py
	$(PY) benchmarks/ntm_speed.py --compile
	$(PY) benchmarks/gan_speed.py
	$(PY) benchmarks/memory_speed.py
	$(PY) benchmarks/dqn_speed.py
	$(PY) benchmarks/mcts_speed.py

clean:
	rm -rf $(VENV) runs report
