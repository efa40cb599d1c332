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
#      manifest's pinned requirements); for every apt target and
#      architecture of the lock, the real apt-get, with its own state,
#      cache, config and sources and each repository's key (fetched from
#      serve) as signed-by, does what a node does: updates from the
#      repositories install puts in its sources and downloads their wanted
#      packages, then adds the others (Docker's, which kubespray adds) and
#      downloads theirs. Any warning, error, note or file it gives up on
#      fails the demo, and the two stages must fetch exactly the .debs the
#      build resolved (the upstream's repositories hold small signed
#      stand-ins);
#   5. the index page's address is printed.
# DEMO_KEEP=1 keeps serve running at the end until Ctrl-C; DEMO_MANIFEST=FILE
# builds FILE instead of the default manifest.
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
"$work/demo-upstream" -dir "$work" ${DEMO_MANIFEST:+-manifest "$DEMO_MANIFEST"} & pids+=($!)
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

echo "== download every apt target's packages back with apt-get"
# As on a node: first the packages installed from the repositories install
# puts in the node's sources, with those alone; then, once kubespray has
# added the others (Docker's), their packages with every repository. One
# directory per target and architecture holds a sources list per stage, the
# keys as served, each stage's wanted packages and the .debs the build
# resolved; both stages together must download exactly those.
curl -fsS "http://127.0.0.1:$port/paimirror.json" > "$work/lock.json"
python3 - "$work/lock.json" "http://127.0.0.1:$port" "$work/apt" > "$work/apt-targets.txt" <<'PY'
import json, os, sys, urllib.request
lock, base, root = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
apt = lock.get("apt") or {}
fetch = urllib.request.build_opener(urllib.request.ProxyHandler({}))
keys = {}
for k in apt.get("keys", []):
    data = fetch.open(base + k["path"]).read()
    # apt takes an armored key from a .asc file, a binary one from .gpg.
    ext = ".asc" if data.lstrip().startswith(b"-----BEGIN PGP") else ".gpg"
    keys[k["url"]] = (data, ext)
for res in apt.get("resolutions", []):
    target, arch = res["target"], res["architecture"]
    d = os.path.join(root, target + "-" + arch)
    os.makedirs(os.path.join(d, "etc"))
    stages = {1: ([], []), 2: ([], [])}  # stage: (sources lines, wanted)
    for i, r in enumerate(apt["repositories"]):
        if r["target"] != target or arch not in r["architectures"]:
            continue
        data, ext = keys[r["keyUrl"]]
        keyfile = os.path.join(d, "etc", "key%d%s" % (i, ext))
        open(keyfile, "wb").write(data)
        suites = ["./"] if r.get("flat") else r["suites"]
        lines = [("deb [arch=%s signed-by=%s] %s%s %s %s" % (arch, keyfile, base, r["prefix"], suite, " ".join(r["components"]))).rstrip() for suite in suites]
        # apt-get install takes "name" or "name=version", not a relation.
        wanted = [w.split("(")[0].strip() for w in r["wanted"]]
        if r["sources"]:
            stages[1][0].extend(lines)
            stages[1][1].extend(wanted)
        else:
            stages[2][1].extend(wanted)
        stages[2][0].extend(lines)
    for n, (lines, wanted) in stages.items():
        open(os.path.join(d, "sources%d.list" % n), "w").write("\n".join(lines) + "\n")
        open(os.path.join(d, "wanted%d" % n), "w").write(" ".join(wanted) + "\n")
    debs = sorted("%s_%s_%s.deb" % (p["name"], p["version"].replace(":", "%3a"), p["architecture"]) for p in res["packages"])
    open(os.path.join(d, "expected"), "w").write("".join(x + "\n" for x in debs))
    print(d, arch)
PY
targets=$(wc -l < "$work/apt-targets.txt")
if [ "$targets" -gt 0 ]; then
	for tool in apt-get gpgv; do
		command -v "$tool" >/dev/null || { echo "demo: $tool is missing (apt-get install apt gpgv): the bundle has apt repositories to check" >&2; exit 1; }
	done
fi
aptdebs=0
while read -r dir arch; do
	case "$dir" in "$work"/apt/?*) ;; *) echo "demo: unexpected apt directory '$dir'" >&2; exit 1 ;; esac
	name=$(basename "$dir")
	# Every file apt reads or writes is under $dir, never the host's:
	# APT_CONFIG moves the main config, its parts, the state, the cache
	# and the logs there.
	mkdir -p "$dir"/{state/lists/partial,cache/archives/partial,etc/apt.conf.d,etc/sources.list.d,etc/trusted.gpg.d,etc/preferences.d,log}
	: > "$dir/state/status"
	{
		echo "Dir::State \"$dir/state/\";"
		echo "Dir::State::status \"$dir/state/status\";"
		echo "Dir::Cache \"$dir/cache/\";"
		echo "Dir::Etc \"$dir/etc/\";"
		echo 'Dir::Etc::main "apt.conf";'
		echo 'Dir::Etc::parts "apt.conf.d";'
		echo "Dir::Log \"$dir/log/\";"
		echo 'Debug::NoLocking "true";'
		echo "APT::Architecture \"$arch\";"
		echo "APT::Architectures { \"$arch\"; };"
		echo 'APT::Install-Recommends "false";'
		echo 'Acquire::http::Proxy "DIRECT";'
		echo 'Acquire::Retries "0";'
		[ "$(id -u)" -ne 0 ] || echo 'APT::Sandbox::User "root";'
	} > "$dir/etc/apt.conf"
	for stage in 1 2; do
		cp "$dir/sources$stage.list" "$dir/etc/sources.list"
		read -ra wanted < "$dir/wanted$stage"
		[ "${#wanted[@]}" -gt 0 ] || continue
		for step in update install; do
			args=(update)
			[ "$step" = update ] || args=(install -y --download-only "${wanted[@]}")
			if ! out=$(env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy APT_CONFIG="$dir/etc/apt.conf" LC_ALL=C \
				apt-get "${args[@]}" 2>&1); then
				echo "$out" >&2
				echo "demo: $name: stage $stage: apt-get ${args[*]} failed" >&2; exit 1
			fi
			if grep -qE '^(W:|E:|Err:|Ign:|N:)' <<<"$out"; then
				echo "$out" >&2
				echo "demo: $name: stage $stage: apt-get ${args[*]} complained" >&2; exit 1
			fi
		done
	done
	(cd "$dir/cache/archives" && find . -maxdepth 1 -name '*.deb' -printf '%f\n' | sort) > "$dir/downloaded"
	if ! diff -u "$dir/expected" "$dir/downloaded" >&2; then
		echo "demo: $name: apt-get downloaded other .debs than the build resolved (-resolved +downloaded)" >&2; exit 1
	fi
	n=$(wc -l < "$dir/downloaded")
	echo "$name: in the nodes' two stages, apt-get updated from the mirror and downloaded the $n packages the build resolved"
	aptdebs=$((aptdebs + n))
done < "$work/apt-targets.txt"
echo "downloaded $aptdebs .deb files with apt-get for $targets apt targets"

echo
echo "demo ok: index page at http://127.0.0.1:$port/"
if [ "${DEMO_KEEP:-}" = 1 ]; then
	echo "serving until Ctrl-C"
	wait "${pids[1]}"
fi
