# lambda-builder: build, lint and test the catalog and its step binaries.
# `make help` lists the targets. Every target works on a fresh Debian machine:
# what the tests need is installed (Debian packages, as root) or built once into
# the tool cache (TOOLS_DIR) by `make tools`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
TOOLS_DIR ?= $(HOME)/.cache/lambda-builder/tools
export LB_TOOLS_DIR := $(abspath $(TOOLS_DIR))
TOOLS_BIN := $(LB_TOOLS_DIR)/bin
# The local cluster's state (tests/cluster/cluster.env has every other setting).
CLUSTER_DIR ?= $(HOME)/.cache/lambda-builder/cluster
export CLUSTER_DIR := $(abspath $(CLUSTER_DIR))

# Pinned tool versions: bumping one rebuilds only that tool.
VERSITYGW_VERSION   := v1.8.0
STATICCHECK_VERSION := v0.8.2

CMDS := $(notdir $(wildcard cmd/*))
TEST_FLAGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every step binary of cmd/ into bin/
	@mkdir -p bin
	$(if $(CMDS),CGO_ENABLED=0 $(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(CMDS)),@echo "no step binaries yet")

.PHONY: test
test: lint unit integration e2e ## everything CI runs: lint, unit, integration and end-to-end tests

.PHONY: unit
unit: system-deps ## unit tests, the catalog lint included (no servers)
	$(GO) test $(TEST_FLAGS) ./...

.PHONY: integration
integration: tools ## integration tests against real servers (versitygw, registry)
	$(GO) test $(TEST_FLAGS) -tags integration -count=1 ./tests/integration/...

.PHONY: lint
lint: tools ## gofmt, go vet, staticcheck (the catalog lint runs with the unit tests)
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags integration,e2e ./...
	$(TOOLS_BIN)/staticcheck -tags integration,e2e ./...

.PHONY: e2e
e2e: cluster-up ## end-to-end tests on the local cluster (started if not running; logs collected on failure)
	@set -a && source $(CLUSTER_DIR)/e2e.env && set +a && \
	  $(GO) test $(TEST_FLAGS) -tags e2e -count=1 ./tests/e2e/... || { tests/cluster/logs.sh; exit 1; }

.PHONY: cluster-tools
cluster-tools: system-deps ## build Kubernetes, Tekton, Triggers, tkn and CoreDNS once into TOOLS_DIR
	@tests/cluster/build.sh

.PHONY: cluster-up
cluster-up: cluster-tools ## start the local Kubernetes + Tekton + Triggers (or reuse a healthy one)
	@tests/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## stop the local cluster, remove what it made, fail on leftovers
	@tests/cluster/down.sh

.PHONY: cluster-status
cluster-status: ## what of the local cluster runs, and is it healthy
	@tests/cluster/status.sh

.PHONY: cluster-logs
cluster-logs: ## collect the local cluster's component and pod logs
	@tests/cluster/logs.sh

.PHONY: tools
tools: system-deps ## build the pinned test tools once into TOOLS_DIR
	@tests/tools/go-install.sh versitygw $(VERSITYGW_VERSION) github.com/versity/versitygw/cmd/versitygw
	@tests/tools/go-install.sh staticcheck $(STATICCHECK_VERSION) honnef.co/go/tools/cmd/staticcheck

.PHONY: system-deps
system-deps: ## install the Debian packages the tests need (tests/tools/debian-packages)
	@tests/tools/install-debian-packages.sh

.PHONY: bench
bench: ## benchmarks side by side with the tools users would pick instead
	@echo "make bench: no benchmark yet; the fetch-code, Kaniko and verify-image issues add them" >&2; exit 1

.PHONY: run
run: ## the main job: a function built from S3 and pushed, on a local cluster
	@echo "make run: not available yet; the function-build issue adds it" >&2; exit 1

.PHONY: clean
clean: ## remove build outputs (the tool cache stays; rm -rf $(TOOLS_DIR) to drop it)
	rm -rf bin
