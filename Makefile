# Entry points: `make demo` (pure-Dask demo on the embedded local cluster) and `make test`
# (`make lint`, then every package's tests, with a real SLURM and sshd started when run as root);
# `make lint` runs ruff and mypy (configured in pyproject.toml);
# `make demo-persistent` runs the persistent-mode demo twice (computed, then from the database).
# Each target first installs what it needs into $(VENV) from the project's own files.

PYTHON ?= python3
VENV ?= .venv
PACKAGES := seamless-service seamless-core seamless-config seamless-remote seamless-dask seamless-transformer seamless-jobserver
STAMP := $(VENV)/.installed

.PHONY: demo demo-persistent test lint bench install services-up services-down clean

install: $(STAMP)

# All packages in one pip call, so that their mutual dependencies resolve to these folders.
$(STAMP): $(foreach p,$(PACKAGES),$(p)/pyproject.toml) requirements-test.txt
	@echo "Installing the packages into $(VENV) (log: $(VENV)/install.log)"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@{ $(VENV)/bin/python -m pip install --upgrade pip \
	  && $(VENV)/bin/python -m pip install $(foreach p,$(PACKAGES),-e ./$(p)) -r requirements-test.txt; \
	} > $(VENV)/install.log 2>&1 || { tail -30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python examples/pure-dask/pi.py

demo-persistent: $(STAMP)
	$(VENV)/bin/python examples/persistent/primes.py
	$(VENV)/bin/python examples/persistent/primes.py

test: $(STAMP)
	VENV=$(VENV) scripts/run-tests.sh

lint: $(STAMP)
	VENV=$(VENV) scripts/lint.sh

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

services-up:
	scripts/services-up.sh

services-down:
	scripts/services-down.sh

clean:
	rm -rf $(VENV)
