#!/usr/bin/env bash
# make bench: every benchmark, the servers side by side with their
# baselines in one run, ending with the ratio tables the README quotes.
#   - distribution's registry v3.1.2, the registry baseline, is built once
#     into $PAIMIRROR_CACHE/bin by .ci/badlink-tools.sh (about 3 minutes);
#     nginx, the file baseline, comes from apt; crane v0.22.1, the
#     baseline of build on bad links (BenchmarkBuildLink), from go install;
#   - the fixtures (bundles of generated images and files, one of about
#     4 GiB) are built once into $PAIMIRROR_CACHE/bench (under a minute);
#   - BENCHTIME (default 1s) is go test's -benchtime; COUNT (default 5) is
#     how many times each benchmark runs; the tables show the medians.
# PAIMIRROR_CACHE defaults to ~/.cache/paimirror.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
GO=${GO:-go}
export PAIMIRROR_CACHE=${PAIMIRROR_CACHE:-$HOME/.cache/paimirror}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

echo "--- distribution's registry v3.1.2 (and toxiproxy) in $PAIMIRROR_CACHE/bin (built once; about 3 minutes)"
badlink_bin=$(GO="$GO" .ci/badlink-tools.sh)
registry=$badlink_bin/registry
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ]; then
	echo "--- installing nginx (apt)"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
	nginx=/usr/sbin/nginx
fi

gobin=$("$GO" env GOBIN)
[ -n "$gobin" ] || gobin=$("$GO" env GOPATH)/bin
crane=$(command -v crane || echo "$gobin/crane")
if [ ! -x "$crane" ]; then
	echo "--- installing crane v0.22.1 (go install)"
	GOFLAGS= "$GO" install github.com/google/go-containerregistry/cmd/crane@v0.22.1
fi

echo "--- building bin/paimirror (the binary the benchmarks run)"
make --no-print-directory GO="$GO" build

# The benchmarks skip when a program is missing; here that is a failure.
export PAIMIRROR_BIN=$PWD/bin/paimirror PAIMIRROR_REGISTRY=$registry PAIMIRROR_TOXIPROXY=$badlink_bin/toxiproxy-server PAIMIRROR_NGINX=$nginx PAIMIRROR_CRANE=$crane PAIMIRROR_REQUIRE_TOOLS=1
out=$(mktemp /tmp/paimirror-bench.XXXXXX)
trap 'rm -f "$out"' EXIT

bt=${BENCHTIME:-1s} count=${COUNT:-5}
echo "--- serve against its baselines (-benchtime $bt, $count interleaved rounds)"
# Each round runs every pair once: unlike -count, which runs all of one side
# before the other, this lets the machine's other load, which drifts, weigh
# on both sides of a pair alike.
PAIMIRROR_BENCH_ROUNDS=$count "$GO" test -run XXX -bench . -skip BenchmarkServeRSS -benchmem -benchtime "$bt" -timeout 30m ./cmd/paimirror | tee "$out"
# One pull of everything per bundle is what peak RSS needs.
"$GO" test -run XXX -bench BenchmarkServeRSS -benchtime 1x -timeout 30m ./cmd/paimirror | tee -a "$out"

echo "--- the other packages' benchmarks (-benchtime $bt -count $count)"
status=0
others=$("$GO" list ./... | grep -v '/cmd/paimirror$')
"$GO" test -run XXX -bench . -benchmem -benchtime "$bt" -count "$count" -timeout 30m $others | tee -a "$out" || status=$?

echo
echo "--- ratios (medians of $count runs)"
echo
python3 .ci/benchtable.py "$out"
exit $status
