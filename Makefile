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

## fuzz: a short run of every fuzz target. Go's default spends up to 60 s
## minimising each new input it finds, in which time it explores nothing:
## FUZZMINIMIZE bounds that to a number of executions (not a time, so a
## loaded machine minimises as much). What the runs find stays in Go's fuzz cache
## (`go env GOCACHE`/fuzz) and seeds the next run; a failing input is
## written to the package's testdata/fuzz/, to commit with its fix.
FUZZTIME     ?= 30s
FUZZMINIMIZE ?= 500x
FUZZFLAGS    = -run XXX -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
fuzz:
	$(GO) test $(FUZZFLAGS) -fuzz FuzzOpen ./bundle
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzSplitIndex$$' ./bundle
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseSize$$' ./cmd/paimirror
	$(GO) test $(FUZZFLAGS) -fuzz FuzzKeys ./bundle/sign
	$(GO) test $(FUZZFLAGS) -fuzz FuzzPURL ./bundle/sbom
	$(GO) test $(FUZZFLAGS) -fuzz FuzzLookup ./fileserver/files
	$(GO) test $(FUZZFLAGS) -fuzz FuzzValidateLayout ./installer/pai
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzPatchConfig$$' ./installer/patch
	$(GO) test $(FUZZFLAGS) -fuzz FuzzPatchRequirement ./installer/patch
	$(GO) test $(FUZZFLAGS) -fuzz FuzzEvalCondition ./installer/patch
	$(GO) test $(FUZZFLAGS) -fuzz FuzzPatchConfigRegistry ./installer/patch
	$(GO) test $(FUZZFLAGS) -fuzz FuzzMergeDaemonJSON ./installer/nodes
	$(GO) test $(FUZZFLAGS) -fuzz FuzzAptMessages ./installer/nodes
	$(GO) test $(FUZZFLAGS) -fuzz FuzzMergeDockerAuth ./installer/nodes
	$(GO) test $(FUZZFLAGS) -fuzz FuzzAddInsecureRegistry ./installer/nodes
	$(GO) test $(FUZZFLAGS) -fuzz FuzzParseConfig ./installer/kube
	$(GO) test $(FUZZFLAGS) -fuzz FuzzMarkStorage ./installer/storage
	$(GO) test $(FUZZFLAGS) -fuzz FuzzEnableStorageManager ./installer/storage
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParse$$' ./manifests
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzEdit$$' ./manifests/yamltext
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseVersion$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseSpecifierSet$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseMarker$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseRequirement$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseWheelName$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseAnchors$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzMetadataFiles$$' ./bundle/pypi
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseVersion$$' ./bundle/apt
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseDependencies$$' ./bundle/apt
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParsePackages$$' ./bundle/apt
	$(GO) test $(FUZZFLAGS) -fuzz '^FuzzParseRelease$$' ./bundle/apt

## bench: benchmarks side by side with their baselines, and the ratios (see README)
bench:
	GO=$(GO) ./.ci/bench.sh

## demo: the whole chain offline (see README)
demo: build
	./.ci/demo.sh

clean:
	rm -rf bin
