# clearway: the everyday commands. Packaging lives in build/ (see build/dist.sh).
.PHONY: help run build test dist dist-fast macos-app clean

GO ?= go
VERSION := $(shell tr -d " \n" < build/VERSION)
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS = -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

help:
	@echo "make run        run clearway from source (the tray; headless where there is none)"
	@echo "make build      build ./clearway for this machine, version-stamped"
	@echo "make test       run every test (build/test.sh)"
	@echo "make dist       build every release artifact into dist/ (build/dist.sh)"
	@echo "make dist-fast  the same for Linux amd64 and Windows only (what CI runs)"
	@echo "make macos-app  build clearway.app on a Mac (build/macos/build-app.sh)"
	@echo "make clean      remove ./clearway and dist/"

run:
	$(GO) run .

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o clearway .

test:
	./build/test.sh

dist:
	./build/dist.sh

dist-fast:
	./build/dist.sh --fast

macos-app:
	./build/macos/build-app.sh

clean:
	rm -rf clearway clearway.exe dist rsrc_windows_amd64.syso
