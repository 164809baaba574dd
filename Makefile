# Two commands a new user needs: `make demo` and `make test`.
# Both create .venv when it is missing and install the project from the lock file;
# the stamp file makes a second run a no-op until pyproject.toml or the lock changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= small
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False

.PHONY: demo test bench bench-parts lock venv clean audit

venv: $(STAMP)

# --compile-bytecode: uv leaves .pyc to the first import, which cannot write them where
# PYTHONDONTWRITEBYTECODE is set (as on CI): each dbt, Airflow and kpi process would then
# compile its imports from source again (2-3 s of every `dbt build` on 2 cores).
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==0.13.8"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kpi demo

# pytest exits 5 when it collected nothing: that must fail, and it does here because
# make propagates every non-zero exit code. Two xdist workers, each taking whole files (their
# module fixtures run one Airflow night or one pipeline for all their tests); TEST_WORKERS=0
# runs it in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Results go to benchmarks/results/<date>-*.json. SCALE=small|medium|large.
# bench: the whole pipeline (every source, dbt full and incremental, the DAG on small),
# benchmarks/results/<date>-$(SCALE).json and .md. bench-parts: the component benchmarks.
bench: $(STAMP)
	nice -n 10 $(BIN)/python -m benchmarks.pipeline --scale $(SCALE)

bench-parts: $(STAMP)
	$(BIN)/python -m benchmarks.simulator_scale --scale $(SCALE) --source jira
	$(BIN)/python -m benchmarks.github_extraction --scale $(SCALE)
	$(BIN)/python -m benchmarks.load_volume --records 500000 1000000 2000000

# Regenerate the full pinned dependency set from pyproject.toml.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==0.13.8"
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra test pyproject.toml -o requirements.lock

# pip-audit over exactly the pinned set (no resolution: the lock is the set), in uv's own
# tool environment, not the project's. --strict: a package the vulnerability service cannot
# look up fails the audit instead of being skipped, so the audit never passes having checked
# nothing (behind a registry mirror without PyPI's JSON API every package is such a package;
# AUDIT_SERVICE=osv asks OSV.dev instead).
AUDIT_SERVICE ?= pypi
audit: $(STAMP)
	$(BIN)/uv tool run --quiet --from "pip-audit==2.10.1" pip-audit -r requirements.lock \
		--no-deps --disable-pip --strict --vulnerability-service $(AUDIT_SERVICE)

clean:
	rm -rf $(VENV) data dbt_project/target dbt_project/logs
