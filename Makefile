# Rampart's make targets. Trivy v0.74.0 imports encoding/json/v2, which Go 1.26
# only builds with this experiment switched on.
export GOEXPERIMENT := jsonv2
export GOTOOLCHAIN := local

GO ?= go
GOLANGCI_LINT_VERSION ?= v2.15.0
ACTIONLINT_VERSION ?= v1.7.12

.PHONY: all build test lint render check bench bench-fleet schemas fuzz judges examples

all: build

build:
	$(GO) build -o bin/rampart ./cmd/rampart

## test: vet and run every test with the race detector (the README's test command).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...
	# the GitHub workflows: expressions, job graph, action inputs; shell steps with shellcheck
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

## render: render teams/ into clusters/ (offline, with the example images and DB).
render:
	$(GO) run ./cmd/rampart render

## check: render, then fail if clusters/ or schemas/ differ from what is committed.
check:
	$(GO) run ./cmd/rampart check
	$(GO) run ./cmd/rampart schema --write
	git diff --exit-code -- clusters/ schemas/

schemas:
	$(GO) run ./cmd/rampart schema --write

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./generator/... | tee bench.txt

## bench-fleet: time whole rampart runs on synthetic fleets (markdown table on stdout).
bench-fleet: build
	$(GO) run ./generator/internal/fleet/cmd/benchfleet -rampart bin/rampart \
		-sizes 10x1,10x10,100x1,100x10,1000x1,1000x10 -n 3

## fuzz: run each fuzz target briefly (CI runs it too). The budget is a count of
## executions, not a duration: Go 1.26's coordinator can fail a duration-bounded run
## with a bare "context deadline exceeded" on a busy machine (go.dev/issue/75804).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoadTeam -fuzztime 2000x -fuzzminimizetime 50x ./generator/load

## judges: install etcd and build falco-filter, kube-apiserver, the Flux controllers and the Kyverno CLI for the judge tests.
judges:
	bash .ci/install-judges
