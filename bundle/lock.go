package bundle

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle/apt"
)

// FormatVersion is the version of the bundle format this package writes and
// reads. A bundle with a newer version is refused with a clear message.
const FormatVersion = 1

// Names of the metadata entries at the top of the bundle's tar.
const (
	LockName      = "paimirror.json"
	IndexName     = "index.json"
	OCILayoutName = "oci-layout"
	blobDir       = "blobs/sha256/"
)

// Annotations written on each descriptor of index.json.
const (
	// AnnotationRefName is the OCI annotation skopeo, crane and oras read to
	// select an image in a layout: the image's primary mirror name.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationNames lists every mirror name of the image, comma separated.
	AnnotationNames = "io.paimirror.names"
	// AnnotationUpstream is the upstream reference the image was pulled as.
	AnnotationUpstream = "io.paimirror.upstream"
	// AnnotationLockSHA256 is the annotation on index.json itself (not on a
	// descriptor) holding the lowercase hex sha256 of paimirror.json's
	// bytes as stored, so that Verify can tell a damaged lock. Bundles
	// written before it was added have none.
	AnnotationLockSHA256 = "io.paimirror.lock.sha256"
)

// Lock is the content of paimirror.json: what a bundle holds and where each
// piece came from. Its JSON form is stable; fields are only ever added.
type Lock struct {
	// FormatVersion is the bundle format version (FormatVersion).
	FormatVersion int `json:"formatVersion"`
	// ToolVersion is the paimirror version that wrote the bundle.
	ToolVersion string `json:"toolVersion"`
	// Created is when the build finished (UTC).
	Created time.Time `json:"created"`
	// Manifest describes the manifest the bundle was built from.
	Manifest ManifestInfo `json:"manifest"`
	// Images are the images, in manifest order.
	Images []Image `json:"images"`
	// Files are the files, in manifest order.
	Files []File `json:"files"`
	// Python is the Python packages, when the manifest's python section
	// was built; nil otherwise.
	Python *Python `json:"python,omitempty"`
	// Apt is the apt repositories, when the manifest has apt entries
	// selected; nil otherwise.
	Apt *Apt `json:"apt,omitempty"`
	// Base, in a delta bundle (built with BuildOptions.BaseLock), names
	// the bundle it was built over; nil in a whole bundle. The lock is
	// still the complete lock of the new state; only the tar leaves out
	// the blobs the base's lock names (see the package doc, "Delta
	// bundles").
	Base *BaseRef `json:"base,omitempty"`
}

// BaseRef names the base of a delta bundle.
type BaseRef struct {
	// LockSHA256 is the lowercase hex sha256 of the base's paimirror.json
	// exactly as stored: what Open checks the base given against.
	LockSHA256 string `json:"lockSha256"`
	// Manifest is the name of the manifest the base was built from.
	Manifest string `json:"manifest"`
	// Created is when the base was built.
	Created time.Time `json:"created"`
	// File is the base's file name as given to build ("" when its lock
	// was given instead), for messages only.
	File string `json:"file,omitempty"`
}

// ManifestInfo records the manifest a bundle was built from.
type ManifestInfo struct {
	Name     string   `json:"name"`
	Source   string   `json:"source"`
	SHA256   string   `json:"sha256"`
	Include  []string `json:"include,omitempty"`
	Exclude  []string `json:"exclude,omitempty"`
	Platform string   `json:"platform,omitempty"`
	// Text is the manifest's YAML exactly as read.
	Text string `json:"text"`
}

// Image is one image of a bundle.
type Image struct {
	// Ref is the upstream reference from the manifest.
	Ref string `json:"ref"`
	// Source is the registry repository it was actually pulled from (a
	// mirror or the origin).
	Source string `json:"source"`
	// Digest is the digest of the image manifest every name serves.
	Digest digest.Digest `json:"digest"`
	// MediaType is the image manifest's media type, kept as upstream sent it.
	MediaType string `json:"mediaType"`
	// Size is the image manifest's size in bytes.
	Size int64 `json:"size"`
	// IndexDigest is the digest of the multi-platform index the manifest was
	// selected from, or empty for a single-platform image.
	IndexDigest digest.Digest `json:"indexDigest,omitempty"`
	// Platform is the platform the manifest is for ("linux/amd64").
	Platform string `json:"platform,omitempty"`
	// Names are the mirror names ("repo:tag") the image is served under; the
	// first is the primary.
	Names []string `json:"names"`
	// Config is the image config blob.
	Config Blob `json:"config"`
	// Layers are the layer blobs, in manifest order.
	Layers []Blob `json:"layers"`
	// LayoutIndex is the single-entry OCI image index that index.json
	// points at for this image: made by paimirror, it lists the image
	// manifest with its own media type and platform, so that OCI layout
	// readers that only follow OCI media types (skopeo) find Docker schema 2
	// images too. The registry never serves it.
	LayoutIndex Blob `json:"layoutIndex"`
}

// Blob is a content-addressed piece of an image.
type Blob struct {
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"mediaType,omitempty"`
}

// Blobs returns every blob the image references besides its manifest.
func (i Image) Blobs() []Blob {
	return append([]Blob{i.Config}, i.Layers...)
}

// File is one plain file of a bundle, stored as the blob of its sha256.
type File struct {
	// Name is the short label from the manifest.
	Name string `json:"name"`
	// URL is the upstream URL from the manifest.
	URL string `json:"url"`
	// Source is the URL the bytes were actually downloaded from.
	Source string `json:"source"`
	// SHA256 is the lowercase hex digest of the content.
	SHA256 string `json:"sha256"`
	// Size is the content length in bytes.
	Size int64 `json:"size"`
	// Paths are the absolute mirror paths the file is served at.
	Paths []string `json:"paths"`
	// Unpinned is true when the manifest gave no checksum (the digest was
	// taken from the downloaded bytes).
	Unpinned bool `json:"unpinned,omitempty"`
}

// Digest returns the file's blob digest, "sha256:<hex>".
func (f File) Digest() digest.Digest { return sha256Digest(f.SHA256) }

// Python is the Python packages of a bundle: every file the manifest's
// pip installs need on any target, each stored as the blob of its sha256,
// and what each install chose for each target. Its JSON names follow
// PyPI's (snake_case).
type Python struct {
	// Index is the PyPI JSON API base resolved against ("" when only a
	// simple API was), as the manifest names it (before --mirror).
	Index string `json:"index,omitempty"`
	// Simple is the simple API root, when the manifest gives one.
	Simple string `json:"simple,omitempty"`
	// Targets are the Pythons resolved for, in manifest order.
	Targets []PythonTarget `json:"targets"`
	// Files are the distribution files, each once, in the order first
	// needed.
	Files []PythonFile `json:"files"`
	// Resolutions say, per target, what each install chose.
	Resolutions []PythonResolution `json:"resolutions"`
}

// PythonTarget is one Python the packages were resolved for.
type PythonTarget struct {
	Name       string `json:"name"`
	Python     string `json:"python"`
	PythonFull string `json:"python_full,omitempty"`
	Platform   string `json:"platform"`
	Glibc      string `json:"glibc,omitempty"`
}

// PythonFile is one wheel or sdist of a bundle, stored as the blob of its
// sha256.
type PythonFile struct {
	// Project is the normalised project name ("ruamel-yaml").
	Project string `json:"project"`
	// Version is the release version.
	Version string `json:"version"`
	// Filename is the file's name ("ruamel.yaml-0.15.96.tar.gz").
	Filename string `json:"filename"`
	// URL is where the index said the file is.
	URL string `json:"url"`
	// Source is the URL the bytes were actually downloaded from (a mirror
	// or URL).
	Source string `json:"source"`
	// SHA256 is the lowercase hex digest the index gave, which the content
	// matches.
	SHA256 string `json:"sha256"`
	// Size is the content length in bytes.
	Size int64 `json:"size"`
	// RequiresPython is the file's Requires-Python, "" for none.
	RequiresPython string `json:"requires_python,omitempty"`
}

// Digest returns the file's blob digest, "sha256:<hex>".
func (f PythonFile) Digest() digest.Digest { return sha256Digest(f.SHA256) }

// PythonResolution is what the installs chose for one target.
type PythonResolution struct {
	// Target is the target's name.
	Target string `json:"target"`
	// Groups are the installs in order, each followed by the isolated
	// build environments its sdists need.
	Groups []PythonGroup `json:"groups"`
}

// PythonGroup is one install (or build environment) of a resolution.
type PythonGroup struct {
	// Name is the install's name from the manifest.
	Name string `json:"name"`
	// Requirements are its requirements in normal form.
	Requirements []string `json:"requirements"`
	// BuildFor names the sdists ("pyyaml 5.4.1") this build environment
	// is for; empty for an install of the manifest.
	BuildFor []string `json:"build_for,omitempty"`
	// Packages are the projects it installs, in the order first required.
	Packages []PythonPackage `json:"packages"`
}

// PythonPackage is one project an install installs.
type PythonPackage struct {
	Project  string `json:"project"`
	Version  string `json:"version"`
	Filename string `json:"filename"`
	// Installed is true when an earlier install already put this version
	// in place and pip keeps it.
	Installed bool `json:"installed,omitempty"`
}

// PythonFiles returns the lock's python files, or none.
func (l *Lock) PythonFiles() []PythonFile {
	if l.Python == nil {
		return nil
	}
	return l.Python.Files
}

// Apt is the apt repositories of a bundle: each suite's signed metadata
// byte for byte as upstream served it, the .deb files of the packages
// wanted with every dependency, and the keys that sign them. Every file is
// stored as the blob of its sha256.
type Apt struct {
	// Repositories are the manifest's apt entries, in manifest order.
	Repositories []AptRepository `json:"repositories"`
	// Keys are the signing keys, one per key URL, as downloaded.
	Keys []AptKey `json:"keys"`
	// Resolutions say, per target and architecture, which packages were
	// wanted and which were chosen.
	Resolutions []AptResolution `json:"resolutions"`
}

// AptRepository is one apt entry of the manifest and the files stored for
// it.
type AptRepository struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	// URL is the repository root from the manifest (before --mirror).
	URL           string   `json:"url"`
	Suites        []string `json:"suites"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures"`
	// Flat marks a flat repository (no suites or components; sources line
	// "deb URL ./").
	Flat bool `json:"flat,omitempty"`
	// KeyURL and Fingerprint pin the signing key (see Apt.Keys).
	KeyURL      string `json:"keyUrl"`
	Fingerprint string `json:"fingerprint"`
	// Sources reports whether install adds the repository to the nodes'
	// apt sources.
	Sources bool `json:"sources"`
	// Wanted are the packages the manifest entry asks for.
	Wanted []string `json:"wanted"`
	// Prefix is the mirror path the repository is served under
	// ("/archive.ubuntu.com/ubuntu"): a node's sources line is
	// "deb http://MIRROR{Prefix} SUITE COMPONENTS".
	Prefix string `json:"prefix"`
	// Files are the metadata files (dists/...) and the .deb files
	// (pool/...), each once.
	Files []AptFile `json:"files"`
}

// AptFile is one file of an apt repository.
type AptFile struct {
	// Path is relative to the repository root
	// ("dists/bionic/InRelease", "pool/main/c/curl/curl_7.58.0-2ubuntu3_amd64.deb").
	Path string `json:"path"`
	// Source is the URL the bytes were downloaded from (a mirror or the
	// origin).
	Source string `json:"source"`
	// SHA256 is the lowercase hex digest the signed metadata gives (the
	// Release for indexes, the index for .debs) or, for the Release files
	// themselves, of the bytes whose signature was verified.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Package is "name=version" for a .deb, "" for metadata.
	Package string `json:"package,omitempty"`
}

// Digest returns the file's blob digest, "sha256:<hex>".
func (f AptFile) Digest() digest.Digest { return sha256Digest(f.SHA256) }

// AptKey is a signing key as downloaded from its URL.
type AptKey struct {
	URL string `json:"url"`
	// Source is the URL the key was downloaded from.
	Source string `json:"source"`
	// Fingerprints are the pinned fingerprints the key was checked to hold.
	Fingerprints []string `json:"fingerprints"`
	SHA256       string   `json:"sha256"`
	Size         int64    `json:"size"`
	// Path is the mirror path the key is served at.
	Path string `json:"path"`
}

// Digest returns the key's blob digest, "sha256:<hex>".
func (k AptKey) Digest() digest.Digest { return sha256Digest(k.SHA256) }

// AptResolution is what one target and architecture needs.
type AptResolution struct {
	Target       string `json:"target"`
	Architecture string `json:"architecture"`
	// Wanted are the packages the target's entries ask for, in manifest
	// order.
	Wanted []string `json:"wanted"`
	// Packages are the packages chosen, sorted by name.
	Packages []AptPackage `json:"packages"`
}

// AptPackage is one package a resolution chose.
type AptPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	// Repository is the name of the apt entry whose index listed it.
	Repository string `json:"repository"`
	// Filename is its path from the repository root.
	Filename string `json:"filename"`
	// RequiredBy is the chain of packages that led to it, outermost
	// first; empty for a package wanted directly.
	RequiredBy []string `json:"requiredBy,omitempty"`
}

// AptRepositories returns the lock's apt repositories, or none.
func (l *Lock) AptRepositories() []AptRepository {
	if l.Apt == nil {
		return nil
	}
	return l.Apt.Repositories
}

// AptDebs counts the .deb files of the lock's apt repositories.
func (l *Lock) AptDebs() int {
	n := 0
	for _, r := range l.AptRepositories() {
		for _, f := range r.Files {
			if f.Package != "" {
				n++
			}
		}
	}
	return n
}

// AptServed returns every apt file and key as the file server serves it:
// a File at the repository's prefix plus its path and, for an index under
// dists/, also at its by-hash name (apt.ByHashPath), where apt asks for
// it when the Release says "Acquire-By-Hash: yes".
func (l *Lock) AptServed() []File {
	if l.Apt == nil {
		return nil
	}
	var out []File
	for _, r := range l.Apt.Repositories {
		base := strings.TrimRight(r.URL, "/")
		for _, f := range r.Files {
			paths := []string{r.Prefix + "/" + f.Path}
			if h, ok := apt.ByHashPath(f.Path, f.SHA256); ok {
				paths = append(paths, r.Prefix+"/"+h)
			}
			out = append(out, File{Name: path.Base(f.Path), URL: base + "/" + f.Path, Source: f.Source,
				SHA256: f.SHA256, Size: f.Size, Paths: paths})
		}
	}
	for _, k := range l.Apt.Keys {
		out = append(out, File{Name: path.Base(k.Path), URL: k.URL, Source: k.Source, SHA256: k.SHA256, Size: k.Size, Paths: []string{k.Path}})
	}
	return out
}

func parseLock(data []byte) (*Lock, error) {
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid JSON: %v", ErrCorrupt, LockName, err)
	}
	if l.FormatVersion == 0 {
		return nil, fmt.Errorf("%w: %s has no formatVersion", ErrCorrupt, LockName)
	}
	if l.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%w: bundle format %d, this paimirror reads up to %d; use a newer paimirror", ErrUnsupported, l.FormatVersion, FormatVersion)
	}
	if err := l.checkDigests(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v; paimirror writes only sha256 digests, so the lock was altered: copy the bundle again from a good copy, or build it again", ErrCorrupt, LockName, err)
	}
	return &l, nil
}

// checkDigests makes sure every digest the lock gives for a blob is a
// sha256 digest, "sha256:" and 64 lowercase hex digits (or, in the bare
// hex fields, the 64 digits), so that the digests taken from a lock are
// valid wherever they go (Bundle.Blob, a registry path, a tar name). It
// costs one pattern match per digest.
func (l *Lock) checkDigests() error {
	check := func(what string, d digest.Digest) error {
		if !isSHA256(d) {
			return fmt.Errorf("%s %q is not a sha256 digest (\"sha256:\" and 64 lowercase hex digits)", what, d)
		}
		return nil
	}
	checkHex := func(what, hex string) error {
		if !isSHA256(sha256Digest(hex)) {
			return fmt.Errorf("%s: sha256 %q is not 64 lowercase hex digits", what, hex)
		}
		return nil
	}
	for _, img := range l.Images {
		what := "image " + img.Ref + ": "
		if err := check(what+"manifest digest", img.Digest); err != nil {
			return err
		}
		if img.IndexDigest != "" {
			if err := check(what+"index digest", img.IndexDigest); err != nil {
				return err
			}
		}
		if err := check(what+"config digest", img.Config.Digest); err != nil {
			return err
		}
		for i, bl := range img.Layers {
			if err := check(fmt.Sprintf("%slayer %d digest", what, i+1), bl.Digest); err != nil {
				return err
			}
		}
		if err := check(what+"layout index digest", img.LayoutIndex.Digest); err != nil {
			return err
		}
	}
	for _, f := range l.Files {
		if err := checkHex("file "+f.URL, f.SHA256); err != nil {
			return err
		}
	}
	for _, f := range l.PythonFiles() {
		if err := checkHex("python file "+f.Filename, f.SHA256); err != nil {
			return err
		}
	}
	if l.Apt != nil {
		for _, r := range l.Apt.Repositories {
			for _, f := range r.Files {
				if err := checkHex("apt file "+f.Path, f.SHA256); err != nil {
					return err
				}
			}
		}
		for _, k := range l.Apt.Keys {
			if err := checkHex("apt key "+k.URL, k.SHA256); err != nil {
				return err
			}
		}
	}
	return nil
}

// isSHA256 reports whether d is a well-formed sha256 digest.
func isSHA256(d digest.Digest) bool {
	return d.Validate() == nil && d.Algorithm() == digest.SHA256
}

// sha256Digest makes the digest of a lock's lowercase hex sha256.
func sha256Digest(hex string) digest.Digest { return digest.NewDigestFromEncoded(digest.SHA256, hex) }
