// Package manifests reads, validates and selects paimirror manifests, holds
// the built-in ones, and defines the naming rules that build, serve and
// install agree on.
//
// # The manifest format
//
// A manifest is one YAML document listing the container images, plain
// files, Python packages and apt packages a bundle must hold:
//
//	name: my-lab                        # required; letters, digits, . _ -
//	description: free text
//	groups:                             # every group an item may name
//	  - name: core                      # lowercase letters, digits, . _ -
//	  - name: extras
//	    default: false                  # built only when included; absent means true
//	images:
//	  - ref: quay.io/coreos/etcd:v3.3.10          # host optional, tag required
//	  - ref: gcr.io/google-containers/pause:3.1
//	    digest: sha256:<64 hex>                   # optional pin
//	    platforms: [linux/amd64, linux/arm64]     # default [linux/amd64]
//	    aliases: [siaimes/pause:3.1]              # extra names, no host
//	    groups: [core]
//	files:
//	  - name: kubeadm                             # default: last URL element
//	    url: https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm
//	    alternates: [https://example.org/kubeadm] # same bytes, tried in order
//	    sha256: <64 lowercase hex>                # or no_checksum: <reason>
//	    paths: [/k8s-share/kubeadm]               # extra mirror paths
//	    groups: [extras]
//	python:                                       # optional: pip packages
//	  index: https://pypi.org                     # a PyPI JSON API (the default)
//	  simple: https://mirror.example/simple       # or a simple API root
//	  groups: [core]
//	  targets:                                    # the Pythons pip runs on
//	    - name: ubuntu-18.04
//	      python: "3.6"                           # major.minor
//	      python_full: "3.6.9"                    # optional, default 3.6.0
//	      platform: manylinux_x86_64              # Linux with glibc
//	      glibc: "2.27"                           # optional, default 2.17
//	  installs:                                   # pip install commands, in order
//	    - name: openpai
//	      requirements: [kubernetes==12.0.0, jinja2==2.11.2]
//	apt:                                          # optional: apt repositories
//	  - name: ubuntu-bionic                       # a label
//	    target: ubuntu-18.04                      # the nodes' {ID}-{VERSION_ID}
//	    url: http://archive.ubuntu.com/ubuntu     # holds dists/ and pool/
//	    suites: [bionic, bionic-updates]
//	    components: [main, universe]
//	    architectures: [amd64]                    # default [amd64]
//	    key:                                      # signs the Release files
//	      url: http://archive.ubuntu.com/ubuntu/project/ubuntu-archive-keyring.gpg
//	      fingerprint: 790B C727 7767 219C 42C8  6F93 3B4F E6AC C0B2 1F32
//	    packages: [curl, "docker-ce=5:18.09.7~3-0~ubuntu-bionic"]
//	    sources: true                             # install adds it to the nodes' apt sources
//	    groups: [core]
//	  - name: nvidia                              # a flat repository: "deb URL ./"
//	    target: ubuntu-18.04
//	    url: https://nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64
//	    flat: true                                # no suites, no components
//	    key: {url: https://nvidia.github.io/libnvidia-container/gpgkey, fingerprint: C95B321B61E88C1809C4F759DDCAE044F796ECB0}
//	    packages: [nvidia-container-runtime]
//
// Parsing is strict: unknown keys, repeated keys, values of the wrong kind
// and more than one YAML document are errors. Anchors and aliases are
// resolved; merge keys (<<) are not supported. Every problem is reported,
// not only the first, as a *ValidationError whose entries read
// "FILE:LINE: FIELD: MESSAGE", e.g. "my.yaml:42: images[3].ref: ...".
//
// The rules:
//   - name is required. Group names are unique, and every group an item
//     names must be declared.
//   - An image ref is a docker reference as docker pull reads it (no host
//     means Docker Hub), with an explicit tag and no digest; digest, if set,
//     is "sha256:" and 64 lowercase hex digits. Platforms are
//     "os/arch[/variant]". Aliases are "repository:tag" with no registry
//     host. No two images have the same reference (after normalization:
//     "busybox:1.31.1" is "docker.io/library/busybox:1.31.1") and no mirror
//     name, aliases included, belongs to two images.
//   - A file url, and each alternate, is http or https with a host and no
//     credentials; the url's path names a file. sha256 is 64 lowercase hex
//     digits and is required unless no_checksum gives the reason upstream
//     publishes none; setting both is an error. Paths are absolute and clean
//     (path.Clean(p) == p), hold no "..", and do not start with /v2, which
//     belongs to the registry, or with /pypi (PythonPrefix), which belongs
//     to the Python package index. No mirror path, the upstream-shaped one
//     included, belongs to two files.
//   - The python section, when present, has at least one target and one
//     install. index and simple are http or https URLs without
//     credentials; with neither, index is DefaultPythonIndex; with both,
//     simple is tried after index. Target names are unique labels; python
//     is "major.minor", python_full (optional) a release of it, platform
//     "manylinux_<arch>", glibc (optional) "2.N". Install names are
//     unique; each requirement starts with a project name. Requirements
//     are otherwise kept as written: build parses them (PEP 508) and
//     resolves every dependency for every target.
//   - An apt entry has a unique name, a target ("{ID}-{VERSION_ID}" of
//     /etc/os-release, lowercase), an http or https url without query,
//     at least one suite and one component (simple words; a suite may
//     hold '/'), or flat: true and neither, dpkg architectures, and a key: a url naming a file and a
//     40 (or 64) hex digit fingerprint, spaces allowed. No suite of one
//     repository is listed twice, no key path belongs to two key URLs or
//     to a file, and no file is served inside a repository's dists/ or
//     pool/. Packages start with a package name; build parses them as
//     "name", "name=version" or "name (op version)" and resolves them,
//     with all entries of the same target, against the signed indexes.
//
// # Selection
//
// Groups let one manifest serve several installs. Manifest.Select keeps an
// item (an image, a file, the python section, an apt entry) when every one of its groups
// is enabled; the enabled groups are those
// on by default, plus the included ones, minus the excluded ones.
//
// # Mirror naming
//
// MirrorName gives the repository:tag an image is served under: Docker Hub
// images keep their Docker Hub path, with library/ for official images
// ("docker.io/nginx:1.15" is "library/nginx:1.15"), so docker's
// registry-mirrors finds them unchanged; every other registry's images keep
// the registry host as the first path element ("quay.io/coreos/etcd:v3.3.10"
// unchanged). A port's ':' becomes '_' there, since a repository name cannot
// hold a ':'. Image.MirrorNames adds the aliases. A file is served at
// "/<host>/<url path>" and at its paths (File.MirrorPaths). An apt
// repository is served under "/<host>/<url path>" (Apt.MirrorPrefix), its
// key at the same shape of its key URL (AptKey.KeyPath).
//
// # Built-in manifests
//
// The package embeds the manifest DefaultName, everything an OpenPAI v1.8.0
// quick-start install downloads; Default, Embedded, EmbeddedNames and
// EmbeddedRaw reach it. EmbeddedRaw gives the exact text, comments included,
// as a starting point for a lab's own manifest.
//
// # Concurrency
//
// Functions in this package are safe for concurrent use. A Manifest is plain
// data: it may be read from several goroutines, and Select returns a copy
// that shares nothing with the original.
package manifests
