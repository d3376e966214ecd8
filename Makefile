# onetoone: `make demo` runs the whole pipeline on an embedded warehouse, `make test` the suite.
# Both install what they need from the lock file and are safe to rerun.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
CUSTOMERS ?= 3000
SEED ?= 42
# make bench: a second, smaller size for the linearity goal (empty: none), and whether to run
# the next day's increment after the full day.
COMPARE_CUSTOMERS ?=
INCREMENT ?= 1
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: install demo test bench lint clean mutate

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Byte-compiled at install: importing Airflow and GX takes about half as long.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/onetoone demo --customers $(CUSTOMERS) --seed $(SEED)

test: install
	$(VENV)/bin/python -m pytest

bench: install
	$(VENV)/bin/python bench/bench_pipeline.py --customers $(CUSTOMERS) --seed $(SEED) \
		$(if $(COMPARE_CUSTOMERS),--compare-customers $(COMPARE_CUSTOMERS)) \
		$(if $(filter 1,$(INCREMENT)),--increment,--no-increment)

# Mutation testing of the modules that guard data against their fast unit tests (pyproject
# [tool.mutmut]; README, "Mutation testing"). Slow, so not part of `make test`; it resumes
# where it stopped (`rm -rf mutants` starts afresh). One OpenMP thread: mutmut forks its workers
# from a process that has already run scikit-learn, and OpenMP's thread pool hangs in a fork.
mutate: install
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut export-cicd-stats
	$(VENV)/bin/python tests/mutation_score.py

lint: install
	$(VENV)/bin/ruff check src dags plugins tests bench expectations

clean:
	-$(VENV)/bin/onetoone warehouse stop
	rm -rf .state
