package sbom

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/paimirror/paimirror/bundle"
)

// Format is an SBOM format.
type Format string

const (
	// SPDXJSON is SPDX 2.3 in its JSON form.
	SPDXJSON Format = "spdx-json"
	// CycloneDXJSON is CycloneDX 1.6 in its JSON form.
	CycloneDXJSON Format = "cyclonedx-json"
)

// Formats lists every Format, in the order help shows them.
func Formats() []Format { return []Format{SPDXJSON, CycloneDXJSON} }

// Options configures Marshal and Write. The zero value works.
type Options struct {
	// ToolVersion is the paimirror version named as the document's
	// author tool; default the lock's ToolVersion (the paimirror that
	// built the bundle), or "unknown" when it names none.
	ToolVersion string
}

// Write writes the SBOM of b in format f to w, from b's lock alone (see
// Marshal).
func Write(w io.Writer, f Format, b *bundle.Bundle, opts Options) error {
	data, err := Marshal(f, b.Lock, b.LockBytes(), opts)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Marshal returns the SBOM of lock l in format f: one entry per image,
// file, Python distribution file and .deb, with its package URL, its
// checksum and where it came from (see the package doc). lockData is
// paimirror.json as stored (Bundle.LockBytes): its sha256 makes the
// document's identity. It reads no blob and does no I/O, so its cost is
// that of encoding the lock; the same lock, format and options give the
// same bytes. An unknown format is an error wrapping ErrUnknownFormat.
func Marshal(f Format, l *bundle.Lock, lockData []byte, opts Options) ([]byte, error) {
	if f != SPDXJSON && f != CycloneDXJSON {
		return nil, fmt.Errorf("%w %q: want one of %s", ErrUnknownFormat, f, formatList())
	}
	if opts.ToolVersion == "" {
		opts.ToolVersion = cmp.Or(l.ToolVersion, "unknown")
	}
	items, err := itemsOf(l)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(lockData)
	d := doc{lock: l, lockSHA256: hex.EncodeToString(sum[:]), items: items, opts: opts}
	var v any
	if f == SPDXJSON {
		v = d.spdx()
	} else {
		v = d.cycloneDX()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func formatList() string {
	var s []string
	for _, f := range Formats() {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

// doc is what both formats are made from.
type doc struct {
	lock       *bundle.Lock
	lockSHA256 string
	items      []item
	opts       Options
}

// created is the lock's Created in the form both formats take (UTC, whole
// seconds).
func (d doc) created() string {
	return d.lock.Created.UTC().Format(time.DateOnly + "T" + time.TimeOnly + "Z")
}

// uuid is a name-based (version 5, RFC 9562) UUID of the lock's sha256
// and the format, so a document's serial number or namespace is the same
// for the same bundle and differs between bundles.
func (d doc) uuid(f Format) string {
	// The URL namespace ID (RFC 9562, section 6.6).
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte("urn:paimirror:lock:sha256:" + d.lockSHA256 + ":" + string(f)))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// describe is one line saying what the document is made from.
func (d doc) describe() string {
	return fmt.Sprintf("The content of a paimirror bundle built from manifest %s (sha256 %s) by paimirror %s, made from its lock (paimirror.json, sha256 %s) alone.",
		d.lock.Manifest.Name, d.lock.Manifest.SHA256, cmp.Or(d.lock.ToolVersion, "unknown"), d.lockSHA256)
}

// kind is what a lock item is.
type kind int

const (
	kindImage kind = iota
	kindFile
	kindPython
	kindDeb
)

// item is one entry of an SBOM, in neither format.
type item struct {
	kind kind
	// id is unique in the document: the purl, with " (n)" after it for a
	// second different item of the same purl.
	id       string
	name     string
	version  string
	fileName string // the file's name, "" for an image
	purl     string
	// alg and hex are the checksum: "sha256" and its lowercase hex.
	alg, hex string
	// url is where the item is published: the registry API URL of an
	// image's manifest, a file's, a distribution file's or a .deb's URL.
	url string
	// origin says in words where the bytes came from and how the mirror
	// serves them (SPDX's sourceInfo).
	origin string
	// props are the same facts as name/value pairs (CycloneDX's
	// properties).
	props [][2]string
}

// Property names of the CycloneDX components; each may repeat.
const (
	propFetchedFrom = "paimirror:fetched-from" // the URL or repository the bytes were downloaded from (a mirror or the origin)
	propMirrorName  = "paimirror:mirror-name"  // an image's name on the mirror registry
	propMirrorPath  = "paimirror:mirror-path"  // a path the mirror's file server serves the item at
	propPlatform    = "paimirror:platform"
	propIndexDigest = "paimirror:index-digest" // the multi-platform index an image's manifest was chosen from
	propMediaType   = "paimirror:media-type"
	propUnpinned    = "paimirror:unpinned"       // "true": the manifest gave no checksum; it was taken from the download
	propAptRepo     = "paimirror:apt-repository" // the manifest's apt entry that holds the .deb
	propPythonReq   = "paimirror:requires-python"
	propLockSHA256  = "paimirror:lock-sha256"
	propManifestSrc = "paimirror:manifest-source"
	propBuiltBy     = "paimirror:built-by"
)

// itemsOf lists the lock's images, files, Python distribution files and
// .debs, in lock order. A .deb that several apt entries hold (the same
// URL and sha256) is one item naming each entry.
func itemsOf(l *bundle.Lock) ([]item, error) {
	var out []item
	ids := map[string]int{}
	add := func(it item) {
		it.id = it.purl
		if n := ids[it.purl]; n > 0 {
			it.id = fmt.Sprintf("%s (%d)", it.purl, n+1)
		}
		ids[it.purl]++
		out = append(out, it)
	}
	for _, img := range l.Images {
		r, err := parseImageRef(img.Ref)
		if err != nil {
			return nil, err
		}
		if alg, _, _ := strings.Cut(string(img.Digest), ":"); spdxAlg[alg] == "" {
			return nil, fmt.Errorf("image %s: digest %q: an SBOM takes sha256, sha384 or sha512 checksums only", img.Ref, img.Digest)
		}
		dg := img.Digest
		if err := dg.Validate(); err != nil {
			return nil, fmt.Errorf("image %s: digest %q: %w", img.Ref, img.Digest, err)
		}
		it := item{kind: kindImage, name: r.repository(), version: r.tag, purl: ociPURL(r, img.Digest, img.Platform).String(),
			alg: string(dg.Algorithm()), hex: dg.Encoded(), url: r.manifestURL(img.Digest)}
		if it.version == "" {
			it.version = string(img.Digest)
		}
		it.origin = fmt.Sprintf("pulled as %s from %s; served by the mirror's registry as %s", img.Ref, img.Source, strings.Join(img.Names, ", "))
		it.props = append(it.props, [2]string{propFetchedFrom, img.Source})
		for _, n := range img.Names {
			it.props = append(it.props, [2]string{propMirrorName, n})
		}
		it.props = append(it.props, [2]string{propMediaType, img.MediaType})
		if img.Platform != "" {
			it.props = append(it.props, [2]string{propPlatform, img.Platform})
		}
		if img.IndexDigest != "" {
			it.props = append(it.props, [2]string{propIndexDigest, string(img.IndexDigest)})
		}
		add(it)
	}
	for _, f := range l.Files {
		it := item{kind: kindFile, name: f.Name, fileName: urlBase(f.URL), purl: genericPURL(f.Name, f.SHA256, f.URL).String(),
			alg: "sha256", hex: f.SHA256, url: f.URL}
		it.origin = fmt.Sprintf("downloaded from %s; served by the mirror's file server at %s", f.Source, strings.Join(f.Paths, ", "))
		it.props = append(it.props, [2]string{propFetchedFrom, f.Source})
		for _, p := range f.Paths {
			it.props = append(it.props, [2]string{propMirrorPath, p})
		}
		if f.Unpinned {
			it.origin += "; the manifest gives no checksum: the sha256 is the download's"
			it.props = append(it.props, [2]string{propUnpinned, "true"})
		}
		add(it)
	}
	for _, f := range l.PythonFiles() {
		it := item{kind: kindPython, name: f.Project, version: f.Version, fileName: f.Filename,
			purl: pypiPURL(f.Project, f.Version, f.Filename).String(), alg: "sha256", hex: f.SHA256, url: f.URL}
		it.origin = fmt.Sprintf("downloaded from %s; served by the mirror's package index at /pypi/simple/%s/", f.Source, f.Project)
		it.props = append(it.props, [2]string{propFetchedFrom, f.Source})
		if f.RequiresPython != "" {
			it.props = append(it.props, [2]string{propPythonReq, f.RequiresPython})
		}
		add(it)
	}
	if err := addDebs(l, &out, add); err != nil {
		return nil, err
	}
	return out, nil
}

// urlBase is the last element of u's path ("" when there is none).
func urlBase(u string) string {
	pu, err := url.Parse(u)
	if err != nil || strings.Trim(pu.Path, "/") == "" {
		return ""
	}
	return path.Base(pu.Path)
}

// addDebs adds the .debs of l's apt repositories.
func addDebs(l *bundle.Lock, out *[]item, add func(item)) error {
	if l.Apt == nil {
		return nil
	}
	arch := map[[2]string]string{} // repository name, filename → architecture
	for _, res := range l.Apt.Resolutions {
		for _, p := range res.Packages {
			arch[[2]string{p.Repository, p.Filename}] = p.Architecture
		}
	}
	seen := map[[2]string]int{} // URL, sha256 → index in *out
	for _, r := range l.Apt.Repositories {
		base := strings.TrimRight(r.URL, "/")
		for _, f := range r.Files {
			if f.Package == "" {
				continue
			}
			debURL := base + "/" + f.Path
			mirrorPath := r.Prefix + "/" + f.Path
			if i, ok := seen[[2]string{debURL, f.SHA256}]; ok {
				it := &(*out)[i]
				it.origin += "; also in apt repository " + r.Name + " at " + mirrorPath
				it.props = append(it.props, [2]string{propAptRepo, r.Name}, [2]string{propMirrorPath, mirrorPath})
				continue
			}
			name, version, ok := strings.Cut(f.Package, "=")
			if !ok {
				return fmt.Errorf("apt repository %s: %s: package %q is not name=version", r.Name, f.Path, f.Package)
			}
			a := arch[[2]string{r.Name, f.Path}]
			if a == "" {
				// name_version_arch.deb
				base := strings.TrimSuffix(path.Base(f.Path), ".deb")
				a = base[strings.LastIndexByte(base, '_')+1:]
			}
			it := item{kind: kindDeb, name: name, version: version, fileName: path.Base(f.Path),
				purl: debPURL(r.URL, name, version, a).String(), alg: "sha256", hex: f.SHA256, url: debURL}
			it.origin = fmt.Sprintf("downloaded from %s; in apt repository %s (%s), served by the mirror's file server at %s", f.Source, r.Name, r.URL, mirrorPath)
			it.props = append(it.props, [2]string{propFetchedFrom, f.Source}, [2]string{propAptRepo, r.Name}, [2]string{propMirrorPath, mirrorPath})
			seen[[2]string{debURL, f.SHA256}] = len(*out)
			add(it)
		}
	}
	return nil
}
