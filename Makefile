# paimirror: build, test, lint, bench, demo.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/paimirror
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export CGO_ENABLED ?= 0

.PHONY: build test lint bench demo fuzz clean

## build: one static binary, bin/paimirror
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/paimirror

## test: every test, with the race detector (needs cgo for -race)
test:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m ./...

## lint: go vet, staticcheck, and go mod tidy leaving no diff
lint:
	$(GO) vet ./...
	GOFLAGS= $(GO) run $(STATICCHECK) ./...
	cp go.mod go.sum /tmp/ && $(GO) mod tidy && diff -q go.mod /tmp/go.mod && diff -q go.sum /tmp/go.sum

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run XXX -fuzz FuzzOpen -fuzztime 30s ./bundle
	$(GO) test -run XXX -fuzz FuzzLookup -fuzztime 30s ./fileserver
	$(GO) test -run XXX -fuzz FuzzValidateLayout -fuzztime 30s ./installer/patch
	$(GO) test -run XXX -fuzz FuzzPatchConfig -fuzztime 30s ./installer/patch
	$(GO) test -run XXX -fuzz FuzzPatchRequirement -fuzztime 30s ./installer/patch
	$(GO) test -run XXX -fuzz FuzzMergeDaemonJSON -fuzztime 30s ./installer/nodes
	$(GO) test -run XXX -fuzz FuzzAptMessages -fuzztime 30s ./installer/nodes
	$(GO) test -run XXX -fuzz FuzzParseConfig -fuzztime 30s ./installer/kube
	$(GO) test -run XXX -fuzz FuzzMarkStorage -fuzztime 30s ./installer/storage
	$(GO) test -run XXX -fuzz FuzzEnableStorageManager -fuzztime 30s ./installer/storage
	$(GO) test -run XXX -fuzz '^FuzzParse$$' -fuzztime 30s ./manifests
	$(GO) test -run XXX -fuzz '^FuzzParseVersion$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzParseSpecifierSet$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzParseMarker$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzParseRequirement$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzParseWheelName$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzParseAnchors$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzMetadataFiles$$' -fuzztime 30s ./bundle/pypi
	$(GO) test -run XXX -fuzz '^FuzzParseVersion$$' -fuzztime 30s ./bundle/apt
	$(GO) test -run XXX -fuzz '^FuzzParseDependencies$$' -fuzztime 30s ./bundle/apt
	$(GO) test -run XXX -fuzz '^FuzzParsePackages$$' -fuzztime 30s ./bundle/apt
	$(GO) test -run XXX -fuzz '^FuzzParseRelease$$' -fuzztime 30s ./bundle/apt

## bench: benchmarks side by side with their baselines, and the ratios (see README)
bench:
	GO=$(GO) ./.ci/bench.sh

## demo: the whole chain offline (see README)
demo: build
	./.ci/demo.sh

clean:
	rm -rf bin
