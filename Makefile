# watchparty build and test targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X watchparty/engine/app.Version=$(VERSION)
GO ?= go
# Packages holding code behind the gocv build tag.
GOCV_PKGS := ./engine/frames/... ./engine/app/...

.PHONY: build build-gocv run test test-go test-gocv deps lint lint-go lint-js lint-fmt lint-commits js-deps fmt \
	fmt-js fuzz

# golangci-lint, pinned; the linters it runs are in .golangci.yml.
GOLANGCI_LINT := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

# The JavaScript tools (eslint, prettier, axe-core for the browser tests),
# pinned in tools/js/package-lock.json.
JS := tools/js/node_modules/.bin
JS_FLAGS := --config tools/js/.prettierrc.json --ignore-path tools/js/.prettierignore

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o watchparty .

build-gocv:
	CGO_ENABLED=1 $(GO) build -tags gocv -trimpath -ldflags "$(LDFLAGS)" -o watchparty .

run:
	$(GO) run .

deps:
	./.ci/deps

# test installs what is missing (chromium, ffmpeg, OpenCV) and runs every
# test: the default build with the browser tests (build tag browser, which
# needs Chromium; plain go test ./... leaves them out), then the OpenCV-tagged
# packages.
test: deps lint-fmt lint-commits lint-js lint-go
	$(GO) vet -tags browser ./...
	$(GO) vet -tags gocv $(GOCV_PKGS)
	$(GOLANGCI_LINT) run --allow-parallel-runners --build-tags gocv $(GOCV_PKGS)
	$(GO) test -count=1 -timeout 12m -tags browser ./...
	$(GO) test -count=1 -timeout 10m -tags gocv $(GOCV_PKGS)

lint: lint-fmt lint-commits lint-js lint-go
	$(GO) vet -tags browser ./...
	$(GO) vet -tags gocv $(GOCV_PKGS)
	$(GOLANGCI_LINT) run --allow-parallel-runners --build-tags gocv $(GOCV_PKGS)

fmt: fmt-js
	gofmt -w $$(git ls-files '*.go')

lint-fmt:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

# Commit subjects stay short (at most 76 characters), from COMMITS_SINCE on
# (older history is left as it is). Outside a git checkout there is nothing
# to check.
COMMITS_SINCE := 35e5a18
lint-commits:
	@if git rev-parse -q --verify '$(COMMITS_SINCE)^{commit}' >/dev/null; then \
	  long=$$(git log --format='%h %s' '$(COMMITS_SINCE)..HEAD' | awk 'length($$0) - index($$0, " ") > 76'); \
	  if [ -n "$$long" ]; then echo "commit subjects over 76 characters:"; echo "$$long"; exit 1; fi; \
	fi

lint-go:
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

js-deps:
	@test -x $(JS)/eslint || npm ci --prefix tools/js --no-audit --no-fund --loglevel=error

lint-js: js-deps
	$(JS)/eslint --config tools/js/eslint.config.mjs --max-warnings 0 embed/static/js
	$(JS)/prettier $(JS_FLAGS) --check embed/static/js

fmt-js: js-deps
	$(JS)/prettier $(JS_FLAGS) --write embed/static/js

# fuzz runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# release cross-compiles static binaries into dist/ with their SHA256SUMS.
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
.PHONY: release deb container
# One version for the whole run (VERSION is otherwise re-read from git per use).
release deb container: VERSION := $(VERSION)
release deb container: LDFLAGS := -s -w -X watchparty/engine/app.Version=$(VERSION)
release:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=dist/watchparty-$(VERSION)-$$os-$$arch; \
	  echo "== $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out .; \
	done
	cd dist && sha256sum watchparty-* > SHA256SUMS && cat SHA256SUMS

# deb builds dist/watchparty_VERSION_ARCH.deb for each release platform.
deb: release
	@set -e; for p in $(RELEASE_PLATFORMS); do \
	  arch=$${p#*/}; packaging/deb/build.sh dist/watchparty-$(VERSION)-linux-$$arch $(VERSION) $$arch dist; \
	done
	cd dist && sha256sum watchparty* > SHA256SUMS && cat SHA256SUMS

# container builds both image targets with docker (or CONTAINER=podman).
CONTAINER ?= docker
container:
	$(CONTAINER) build -f packaging/container/Dockerfile --target static --build-arg VERSION=$(VERSION) -t watchparty:$(VERSION) .
	$(CONTAINER) build -f packaging/container/Dockerfile --target gocv --build-arg VERSION=$(VERSION) -t watchparty:$(VERSION)-gocv .
