package manifests

import "strings"

// Manifest is a parsed, validated paimirror manifest: the list of images and
// files a bundle must hold.
type Manifest struct {
	// Name identifies the manifest, e.g. "openpai-v1.8.0".
	Name string `yaml:"name" json:"name"`
	// Description is free text for people.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Groups declares every group items may name. A group whose Default is
	// false is left out of a build unless --include names it.
	Groups []Group `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Images lists the container images to mirror.
	Images []Image `yaml:"images,omitempty" json:"images,omitempty"`
	// Files lists the plain files to mirror.
	Files []File `yaml:"files,omitempty" json:"files,omitempty"`
	// Python lists the Python packages to mirror, or is nil.
	Python *Python `yaml:"python,omitempty" json:"python,omitempty"`
	// Apt lists the apt repositories to mirror, with the packages wanted.
	Apt []Apt `yaml:"apt,omitempty" json:"apt,omitempty"`

	// Source is where the manifest was read from (a file name or
	// "embedded:NAME"); set by Parse, used in error messages.
	Source string `yaml:"-" json:"-"`
	// Raw is the exact bytes the manifest was parsed from.
	Raw []byte `yaml:"-" json:"-"`

	// lines maps field paths ("images[3].ref") to their line in Raw; set
	// by Parse, nil for a manifest built in Go or returned by Select.
	lines map[string]int
}

// Group is a named set of items that can be left out or added to a build.
type Group struct {
	// Name is what items and --include/--exclude call the group, e.g.
	// "kubespray".
	Name string `yaml:"name" json:"name"`
	// Description says what the group holds, for people.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Default reports whether the group is built when no --include names it.
	// Absent in YAML means true.
	Default bool `yaml:"default" json:"default"`
}

// Image is one container image to mirror.
type Image struct {
	// Ref is the upstream reference with registry host and tag, e.g.
	// "quay.io/coreos/etcd:v3.3.10" or "docker.io/library/busybox:1.31.1".
	// A reference without a host means Docker Hub, as docker pull reads it.
	Ref string `yaml:"ref" json:"ref"`
	// Digest optionally pins the content ("sha256:..."): the index digest
	// for a multi-platform image, else the image manifest's digest.
	Digest string `yaml:"digest,omitempty" json:"digest,omitempty"`
	// Platforms to keep, "os/arch[/variant]"; default ["linux/amd64"].
	Platforms []string `yaml:"platforms,omitempty" json:"platforms,omitempty"`
	// Aliases are extra mirror names ("repo:tag", no host) the image is
	// served under, e.g. "siaimes/kube-apiserver:v1.15.11".
	Aliases []string `yaml:"aliases,omitempty" json:"aliases,omitempty"`
	// Groups the image belongs to; it is built only when all are selected.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`

	// Line is the line of the entry in the manifest source (0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// File is one plain file to mirror.
type File struct {
	// Name is a short label for people, e.g. "kubeadm"; default: the last
	// element of the URL path.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// URL is the upstream address (http or https).
	URL string `yaml:"url" json:"url"`
	// Alternates are other URLs that serve the same bytes, tried in order
	// after URL.
	Alternates []string `yaml:"alternates,omitempty" json:"alternates,omitempty"`
	// SHA256 is the expected lowercase hex digest. Required unless
	// NoChecksum gives the reason upstream publishes none.
	SHA256 string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	// NoChecksum explains why SHA256 is absent; the digest is then taken from
	// the bytes downloaded and recorded in the lock.
	NoChecksum string `yaml:"no_checksum,omitempty" json:"no_checksum,omitempty"`
	// Paths are extra mirror paths (absolute, e.g. "/k8s-share/...") the
	// file is served at besides its upstream-shaped path.
	Paths []string `yaml:"paths,omitempty" json:"paths,omitempty"`
	// Groups the file belongs to; it is built only when all are selected.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`

	// Line is the line of the entry in the manifest source (0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// DefaultPythonIndex is the package index a python section resolves
// against when it names none: PyPI's JSON API.
const DefaultPythonIndex = "https://pypi.org"

// Python is the optional python section: the pip installs of a machine
// (the dev box), which build resolves against a package index for each
// target and stores with every dependency, and serve publishes as a simple
// index. Requirements are kept as written; build parses them (PEP 508).
type Python struct {
	// Index is the base URL of a PyPI-style JSON API (GET
	// {index}/pypi/{project}/json), e.g. "https://pypi.org". Default:
	// DefaultPythonIndex, unless Simple is set.
	Index string `yaml:"index,omitempty" json:"index,omitempty"`
	// Simple is the root of a PEP 503 simple API as pip's --index-url
	// takes it, e.g. "https://pypi.tuna.tsinghua.edu.cn/simple". It is
	// used when Index is not set, and tried after Index when both are.
	Simple string `yaml:"simple,omitempty" json:"simple,omitempty"`
	// Targets are the Pythons the installs run on; each is resolved on
	// its own, and the bundle holds the files of all.
	Targets []PythonTarget `yaml:"targets" json:"targets"`
	// Installs are the pip install commands, in the order they run; each
	// is resolved given what the earlier ones installed.
	Installs []PythonInstall `yaml:"installs" json:"installs"`
	// Groups the section belongs to; it is built only when all are
	// selected.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`

	// Line is the line of the section in the manifest source (0 if
	// unknown).
	Line int `yaml:"-" json:"-"`
}

// PythonTarget is one Python the installs run on: CPython on Linux with
// glibc.
type PythonTarget struct {
	// Name labels the target in the bundle and in errors, e.g.
	// "ubuntu-18.04".
	Name string `yaml:"name" json:"name"`
	// Python is the interpreter's major.minor version, e.g. "3.6".
	Python string `yaml:"python" json:"python"`
	// PythonFull is its full version for python_full_version markers,
	// e.g. "3.6.9"; default Python+".0".
	PythonFull string `yaml:"python_full,omitempty" json:"python_full,omitempty"`
	// Platform is "manylinux_<arch>", e.g. "manylinux_x86_64".
	Platform string `yaml:"platform" json:"platform"`
	// Glibc is the system's glibc version, e.g. "2.27": the newest
	// manylinux wheels it accepts. Default "2.17".
	Glibc string `yaml:"glibc,omitempty" json:"glibc,omitempty"`

	// Line is the line of the entry in the manifest source (0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// PythonInstall is one pip install command: requirements installed
// together.
type PythonInstall struct {
	// Name labels the install in the bundle and in errors, e.g.
	// "kubespray requirements.txt".
	Name string `yaml:"name" json:"name"`
	// Requirements are PEP 508 requirement strings, e.g.
	// "jinja2==2.11.2" or "ruamel.yaml==0.15.96".
	Requirements []string `yaml:"requirements" json:"requirements"`

	// Line is the line of the entry in the manifest source (0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// Apt is one apt repository to mirror: its signed metadata, verified
// against a pinned key, and the .deb files of the packages wanted with
// every dependency. Entries with one Target are resolved together (a
// package of one may depend on another's), each .deb stored from the
// repository whose index listed it.
type Apt struct {
	// Name labels the repository in the bundle and in errors, e.g.
	// "ubuntu-bionic".
	Name string `yaml:"name" json:"name"`
	// Target names the machines the packages are for as
	// "{ID}-{VERSION_ID}" of their /etc/os-release, e.g. "ubuntu-18.04":
	// install points a node's apt at the repositories of its own target.
	Target string `yaml:"target" json:"target"`
	// URL is the repository root, holding dists/ and pool/, e.g.
	// "http://archive.ubuntu.com/ubuntu".
	URL string `yaml:"url" json:"url"`
	// Suites are the directories under dists/, e.g. ["bionic",
	// "bionic-updates"]; none for a flat repository.
	Suites []string `yaml:"suites,omitempty" json:"suites,omitempty"`
	// Components are the components to read, e.g. ["main", "universe"];
	// none for a flat repository.
	Components []string `yaml:"components,omitempty" json:"components,omitempty"`
	// Flat marks a flat repository, whose Release files and Packages are
	// in URL itself (sources line "deb URL ./"), as NVIDIA's
	// nvidia.github.io repositories are.
	Flat bool `yaml:"flat,omitempty" json:"flat,omitempty"`
	// Architectures are the dpkg architectures; default ["amd64"].
	Architectures []string `yaml:"architectures,omitempty" json:"architectures,omitempty"`
	// Key is the key the repository's Release files are signed with.
	Key AptKey `yaml:"key" json:"key"`
	// Packages are the packages wanted: "name", "name=version" or
	// "name (>= version)". They may be empty for a repository that only
	// supplies dependencies.
	Packages []string `yaml:"packages,omitempty" json:"packages,omitempty"`
	// Sources reports whether install adds the repository to the nodes'
	// apt sources. Absent in YAML means true; false for a repository
	// the install adds itself (kubespray adds Docker's).
	Sources bool `yaml:"sources" json:"sources"`
	// Groups the entry belongs to; it is built only when all are selected.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`

	// Line is the line of the entry in the manifest source (0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// AptKey pins a repository's signing key.
type AptKey struct {
	// URL is where the public key (armored or binary, one key or a
	// keyring) is downloaded from; the mirror serves it at its
	// upstream-shaped path too.
	URL string `yaml:"url" json:"url"`
	// Fingerprint is the signing key's primary fingerprint (40 hex digits,
	// spaces allowed); the key downloaded must hold it.
	Fingerprint string `yaml:"fingerprint" json:"fingerprint"`
}

// DefaultAptArchitectures is what an apt entry without architectures
// mirrors.
var DefaultAptArchitectures = []string{"amd64"}

// ArchitectureList returns Architectures, or DefaultAptArchitectures.
func (a Apt) ArchitectureList() []string {
	if len(a.Architectures) == 0 {
		return DefaultAptArchitectures
	}
	return a.Architectures
}

// MirrorPrefix returns the path the mirror serves the repository under:
// "/{host}{path}" of URL, e.g. "/archive.ubuntu.com/ubuntu", so a node's
// sources line is "deb http://MIRROR{prefix} SUITE COMPONENTS".
func (a Apt) MirrorPrefix() string {
	p, err := upstreamPath(strings.TrimRight(a.URL, "/"))
	if err != nil {
		return ""
	}
	return p
}

// KeyPath returns the path the mirror serves the key at.
func (k AptKey) KeyPath() string {
	p, err := upstreamPath(k.URL)
	if err != nil {
		return ""
	}
	return p
}
