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
CRANE_VERSION       := v0.22.1
KO_VERSION          := v0.18.1
# tkn is pinned with the cluster's versions; the bundle tests compare with it.
TKN_VERSION         := $(shell sed -n 's/^TKN_VERSION=\$${TKN_VERSION:-\([^}]*\)}.*/\1/p' tests/cluster/cluster.env)
# The Kaniko executor image (catalog/kaniko) is built from these, from source.
KANIKO_VERSION      := v1.25.16
ECR_LOGIN_VERSION   := v0.13.0
KANIKO_REPO         ?= lambda-builder/kaniko-executor
# Built only by `make bench-kaniko` (minutes), never by `make test`.
BUILDKIT_VERSION    := v0.34.2

CMDS := $(notdir $(wildcard cmd/*))
TEST_FLAGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every step binary of cmd/ into bin/
	@mkdir -p bin
	$(if $(CMDS),CGO_ENABLED=0 $(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(CMDS)),@echo "no step binaries yet")

.PHONY: generate
generate: ## write the generated Tasks (tasks/function-build) from their single-step parts
	$(GO) run ./catalog/cmd/generate

.PHONY: test
test: lint unit integration e2e ## everything CI runs: lint, unit, integration and end-to-end tests

.PHONY: unit
unit: system-deps ## unit tests, the catalog lint included (no servers)
	$(GO) test $(TEST_FLAGS) ./...

.PHONY: integration
integration: tools ## integration tests against real servers (versitygw, registry)
	$(GO) test $(TEST_FLAGS) -tags integration -count=1 -timeout 30m ./tests/integration/...

.PHONY: lint
lint: tools ## gofmt, go vet, staticcheck (the catalog lint runs with the unit tests)
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags integration,e2e ./...
	$(TOOLS_BIN)/staticcheck -tags integration,e2e ./...

.PHONY: e2e
e2e: cluster-up stage ## end-to-end tests on the local cluster (started if not running; logs collected on failure)
	@set -a && source $(CLUSTER_DIR)/e2e.env && source $(CLUSTER_DIR)/stage.env && set +a && \
	  $(GO) test $(TEST_FLAGS) -tags e2e -count=1 ./tests/e2e/... || { tests/cluster/logs.sh; exit 1; }

.PHONY: cluster-tools
cluster-tools: system-deps ## build Kubernetes, Tekton, Triggers, tkn and CoreDNS once into TOOLS_DIR
	@tests/cluster/build.sh

.PHONY: cluster-up
cluster-up: cluster-tools tools ## start the local Kubernetes + Tekton + Triggers (or reuse a healthy one)
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
	@tests/tools/go-install.sh crane $(CRANE_VERSION) github.com/google/go-containerregistry/cmd/crane
	@tests/tools/go-install.sh ko $(KO_VERSION) github.com/google/ko
	@tests/tools/go-build-module.sh tkn $(TKN_VERSION) github.com/tektoncd/cli tkn=./cmd/tkn
	@GO_LDFLAGS="-X github.com/chainguard-dev/kaniko/pkg/version.version=$(KANIKO_VERSION)" \
	  tests/tools/go-build-module.sh kaniko $(KANIKO_VERSION) github.com/chainguard-dev/kaniko kaniko-executor=./cmd/executor
	@tests/tools/go-install.sh docker-credential-ecr-login $(ECR_LOGIN_VERSION) github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login

.PHONY: kaniko-image
kaniko-image: tools ## build the Kaniko executor image from source, push it to REGISTRY, print repository@digest
	@test -n "$(REGISTRY)" || { echo "usage: make kaniko-image REGISTRY=host:port [KANIKO_REPO=$(KANIKO_REPO)]" >&2; exit 1; }
	@$(GO) run ./catalog/cmd/kaniko-image --executor $(TOOLS_BIN)/kaniko-executor \
	  --ecr-login $(TOOLS_BIN)/docker-credential-ecr-login \
	  --kaniko-version $(KANIKO_VERSION) --ecr-login-version $(ECR_LOGIN_VERSION) \
	  $(REGISTRY)/$(KANIKO_REPO):$(KANIKO_VERSION)

.PHONY: system-deps
system-deps: ## install the Debian packages the tests need (tests/tools/debian-packages)
	@tests/tools/install-debian-packages.sh

.PHONY: kaniko-capability-sweep
kaniko-capability-sweep: tools ## the Kaniko corpus once per capability, that capability removed (the README's table)
	$(GO) test -tags integration,capsweep -count=1 -timeout 90m -run TestCapabilitySweep ./tests/integration/kaniko

.PHONY: bench
bench: bench-fetch bench-verify bench-kaniko ## benchmarks side by side with the tools users would pick instead

.PHONY: bench-fetch
bench-fetch: tools ## fetch-code vs aws s3 sync and a plain Go fetcher (BENCH_ROUNDS, default 3)
	$(GO) test -tags integration -count=1 -timeout 60m -run '^TestFetchBenchmark$$' -v ./tests/bench/fetch/

.PHONY: bench-verify
bench-verify: tools build ## verify-image vs crane digest+manifest+config+validate (BENCH_RUNS=5)
	VERIFY_IMAGE=$(abspath bin/verify-image) $(GO) test -tags integration -count=1 -timeout 30m -run TestBenchVerify -v ./tests/bench/verify/

.PHONY: bench-kaniko
bench-kaniko: tools ## the Task's Kaniko step vs BuildKit vs buildah: cold, warm, code edit (medians of 3)
	@tests/tools/go-build-module.sh buildkit $(BUILDKIT_VERSION) github.com/moby/buildkit buildkitd=./cmd/buildkitd buildctl=./cmd/buildctl
	@command -v buildah >/dev/null || { echo "installing Debian's buildah (bench only)"; apt-get install -y -qq --no-install-recommends buildah >/dev/null; }
	$(GO) test -tags bench -count=1 -timeout 90m -run TestBench -v ./tests/bench/kaniko 2>&1 | grep -v -e '^=== ' -e '^--- PASS'

.PHONY: run
run: cluster-up stage ## the main job: a sample function (FUNCTION=python|node|go) built from S3, pushed and verified on the local cluster
	@tests/cluster/run.sh

.PHONY: stage
stage: tools ## push this checkout's step, Kaniko and base images to the local cluster's registry; write release.yaml pinned to them
	@tests/cluster/stage.sh

.PHONY: release
release: tools ## REGISTRY=host[:port][/path]: step images (ko) and Kaniko image by digest, dist/release.yaml + checksums, the catalog bundle
	@tests/tools/release.sh

.PHONY: bundle
bundle: release ## REGISTRY=...: the catalog bundle (make release pushes it, with everything it pins)

.PHONY: clean
clean: ## remove build outputs (the tool cache stays; rm -rf $(TOOLS_DIR) to drop it)
	rm -rf bin dist
