#!/usr/bin/env bash
# make demo: the whole chain on a machine with no internet.
#   1. a local upstream holds random images under the default manifest's real
#      names, and generated files (cmd/demo-upstream);
#   2. paimirror build pulls everything through --mirror into one bundle;
#   3. paimirror verify checks it offline;
#   4. paimirror serve serves it; crane pulls every image back under every
#      mirror name and checks its digest; curl fetches every file path; pip
#      downloads every Python package file from /pypi/simple/ (the
#      upstream's package index holds tiny stand-in wheels for the default
#      manifest's pinned requirements);
#   5. the index page's address is printed.
# DEMO_KEEP=1 keeps serve running at the end until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v crane >/dev/null; then
	echo "demo: installing crane (the client that pulls the images back) from the Go module proxy"
	GOFLAGS= go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
fi
for tool in curl python3; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/paimirror-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Anything not mirrored must fail at once, never reach out.
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=

CGO_ENABLED=0 go build -o "$work/demo-upstream" ./cmd/demo-upstream
"$work/demo-upstream" -dir "$work" & pids+=($!)
for _ in $(seq 600); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || { echo "demo: upstream did not start" >&2; exit 1; }

echo "== build"
bin/paimirror build -f "$work/manifest.yaml" --mirrors-file "$work/mirrors.txt" -o "$work/openpai-v1.8.0.tar"
echo "== verify"
bin/paimirror verify "$work/openpai-v1.8.0.tar"

echo "== serve"
port=$(free_port)
bin/paimirror serve "$work/openpai-v1.8.0.tar" --addr "127.0.0.1:$port" & pids+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== pull every image back with crane, under every name"
bin/paimirror inspect -o json "$work/openpai-v1.8.0.tar" > "$work/inspect.json"
python3 - "$work/inspect.json" > "$work/names.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for img in s["images"]:
    for n in img["names"]:
        print(n, img["digest"])
PY
python3 - "$work/inspect.json" > "$work/paths.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for f in s["files"]:
    for p in f["paths"]:
        print(p, f["sha256"])
PY
images=0
while read -r name digest; do
	got=$(crane digest --insecure "127.0.0.1:$port/$name")
	[ "$got" = "$digest" ] || { echo "demo: $name serves $got, the bundle has $digest" >&2; exit 1; }
	crane pull --insecure --format oci "127.0.0.1:$port/$name" "$work/pulled" >/dev/null
	rm -rf "$work/pulled"
	images=$((images + 1))
done < "$work/names.txt"
echo "pulled $images image names"

files=0
while read -r path sum; do
	got=$(curl -fsS "http://127.0.0.1:$port$path" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$sum" ] || { echo "demo: $path is $got, want $sum" >&2; exit 1; }
	files=$((files + 1))
done < "$work/paths.txt"
echo "fetched $files file paths"

echo "== download every Python package back with pip"
python3 - "$work/inspect.json" > "$work/python.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for f in s.get("pythonFiles", []):
    print(f["project"], f["version"], f["filename"], f["sha256"])
PY
if ! python3 -m pip --version >/dev/null 2>&1; then
	echo "demo: python3 has no pip (apt-get install python3-pip)" >&2; exit 1
fi
pyfiles=0
while read -r project version filename sum; do
	rm -rf "$work/pip"
	env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy \
		PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
		python3 -m pip download -q --no-deps --index-url "http://127.0.0.1:$port/pypi/simple/" \
		--dest "$work/pip" "$project==$version"
	got=$(sha256sum "$work/pip/$filename" | cut -d' ' -f1)
	[ "$got" = "$sum" ] || { echo "demo: pip got $filename as $got, want $sum" >&2; exit 1; }
	pyfiles=$((pyfiles + 1))
done < "$work/python.txt"
echo "downloaded $pyfiles Python package files with pip"

echo
echo "demo ok: index page at http://127.0.0.1:$port/"
if [ "${DEMO_KEEP:-}" = 1 ]; then
	echo "serving until Ctrl-C"
	wait "${pids[1]}"
fi
