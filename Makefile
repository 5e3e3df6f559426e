# One command per job; CI runs `make test` through .ci/run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
STORESIM_PORT ?= 8181
REPLICAS ?= 2
STORE ?= storeapi

.PHONY: setup demo screenshots test client-test fuzz lint format bench bench-quick chaos chaos-quick stack storesim image-test image-test-clean clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements-dev.lock pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## setup: the virtualenv with every locked dependency; redis-server, nginx and wrk when missing
setup: $(VENV)/.installed
	@scripts/install-system-deps.sh

## demo: the gateway on :8080 with storesim (realistic latency), the embedded state store and the
##       demo page (it prints the page's URL: http://127.0.0.1:8080/demo/);
##       STORE=cocart puts it in front of storesim's CoCart face instead of the Store API
demo: setup
	$(BIN)/python -m cartsync demo --port $(PORT) --storesim-port $(STORESIM_PORT) --store $(STORE)

## screenshots: docs/demo.png, the demo page in use, taken by its browser test (Debian's Chromium)
screenshots: setup
	CARTSYNC_DEMO_SCREENSHOT=docs/demo.png $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/browser/test_demo.py -k TestScreenshot

## storesim: the simulated store alone (Store API and CoCart faces), no latency
storesim: setup
	$(BIN)/python -m storesim --port $(STORESIM_PORT)

## test: the whole suite (starts its own redis-server and storesim), then the TypeScript client's
test: setup
	$(BIN)/python -m pytest
	$(CLIENT_TEST)

## client-test: the TypeScript client (clients/typescript): npm ci, its generated types checked
##              against openapi/, tsc --strict, its tests against a gateway + storesim it starts
CLIENT_TEST = cd clients/typescript && npm ci --no-audit --no-fund && PYTHON="$(abspath $(BIN)/python)" npm test
client-test: setup
	$(CLIENT_TEST)

## fuzz: schemathesis against a running gateway (storesim, redis-server): 6,000 cases with a
##       new seed; prints the cases, each check's failures and the statuses seen (make test runs 1,000)
FUZZ_CASES ?= 6000
fuzz: setup
	CARTSYNC_FUZZ_CASES=$(FUZZ_CASES) CARTSYNC_FUZZ_SEED=$${CARTSYNC_FUZZ_SEED:-$$(date +%s)} \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/integration/test_fuzz.py

## lint: ruff, mypy strict, import-linter (the dependency rule), deploy/ (hadolint, compose schema, yamllint, Kubernetes schemas), and pip-audit on the locks (skipped, saying why, when no advisory data is reachable)
lint: setup
	$(BIN)/ruff check service tests tools bench deploy
	$(BIN)/ruff format --check service tests tools bench deploy
	$(BIN)/mypy
	$(BIN)/lint-imports
	BIN=$(BIN) deploy/check.sh
	BIN=$(BIN) scripts/audit-deps.sh

format: setup
	$(BIN)/ruff format service tests tools bench deploy
	$(BIN)/ruff check --fix service tests tools bench deploy

## bench: every benchmark beside its baseline; tables, JSON and charts into bench/results/
bench: setup
	$(BIN)/python -m bench.run_all --out bench/results

## bench-quick: every benchmark for about a second (keeps the scripts working; figures mean nothing)
bench-quick: setup
	$(BIN)/python -m bench.run_all --quick --out bench/results/quick

## chaos: 50 shoppers x 20 writes through two replicas while Redis is killed (SIGKILL) and
##        restarted, one replica killed, the other stopped (SIGTERM), both restarted, and storesim
##        injects 500s, hangs and drops; once with Redis persistence, once without. Prints what was
##        acknowledged, kept, lost and doubled (docs/reliability.md); exit 1 when a goal is missed
chaos: setup
	$(BIN)/python -m bench.chaos

## chaos-quick: the same run, 20 shoppers x 15 writes (CI runs it)
chaos-quick: setup
	$(BIN)/python -m bench.chaos --quick

## stack: redis-server, storesim (realistic latency), $(REPLICAS) gateway replicas and nginx on :$(PORT)
stack: setup
	$(BIN)/python -m deploy.local.stack --replicas $(REPLICAS) --port $(PORT)

## image-test: build deploy/Dockerfile and run it (gateway and storesim from the one image), then
##             deploy/compose.yaml (Redis, storesim, two replicas, nginx), checking both through
##             HTTP; prints build time, image size, seconds to ready (deploy/imagetest/).
##             ENGINE=podman (default: Debian's, installed when missing) or ENGINE=docker.
##             Base images a registry cannot give are built as stand-ins from Debian
ENGINE ?= podman
IMAGE_TEST_VENV := $(VENV)/image-test
IMAGE_TEST = $(BIN)/python -m deploy.imagetest --engine $(ENGINE) --compose $(IMAGE_TEST_VENV)/bin/podman-compose
$(IMAGE_TEST_VENV)/.installed: deploy/image-test-requirements.txt
	$(PYTHON) -m venv $(IMAGE_TEST_VENV)
	$(IMAGE_TEST_VENV)/bin/python -m pip install --quiet --no-deps -r deploy/image-test-requirements.txt
	touch $@

image-test: setup $(IMAGE_TEST_VENV)/.installed
	@scripts/install-system-deps.sh --image-test=$(ENGINE)
	$(IMAGE_TEST)

## image-test-clean: remove everything image-test made and cached (its Podman store, its images)
image-test-clean: setup
	$(IMAGE_TEST) --clean

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
