package apt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"

	"github.com/paimirror/paimirror/manifests/redact"
)

// FetchOptions configures FetchMetadata. The zero value works.
type FetchOptions struct {
	// Client makes the HTTP requests; default: a client over
	// http.DefaultTransport.
	Client *http.Client
	// MaxIndexSize bounds, in bytes, what a compressed index may
	// decompress to and how large InRelease, Release and Release.gpg
	// (whose size nothing lists) may be; more is ErrTooLarge. Default:
	// DefaultMaxIndexSize (1 GiB).
	MaxIndexSize int64
	// Logger is told about metadata FetchMetadata leaves out (a Release
	// that does not match InRelease, a listed Translation-en upstream
	// does not serve); default: discard.
	Logger *slog.Logger
	// Store, when set, is handed each metadata file as soon as it is
	// verified, and Metadata.Files then holds it without its Data, so a
	// suite's indexes need not all be in memory at once. An error from
	// Store ends FetchMetadata with it. Default nil: Files keep the bytes.
	Store func(MetaFile) error
	// Download, when set, replaces the plain GET of each metadata file: it
	// writes the body of u (name is its path under dists/{suite}/) to w,
	// checked against want where want gives a size and sha256, and more
	// than limit bytes (with the size unknown) failing with ErrTooLarge.
	// A non-success answer should be an *HTTPError, bytes that do not
	// match a *ChecksumError. Build passes its resumable download engine.
	// Default: one GET with Client.
	Download func(ctx context.Context, u, name string, want FileSum, limit int64, w io.Writer) error
}

func (o FetchOptions) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{}
}

func (o FetchOptions) maxIndexSize() int64 {
	if o.MaxIndexSize > 0 {
		return o.MaxIndexSize
	}
	return DefaultMaxIndexSize
}

func (o FetchOptions) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// cleanRel reports whether p is a relative slash path with no "." or ".."
// elements.
func cleanRel(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return false
	}
	for _, e := range strings.Split(p, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
	}
	return true
}

// download copies u into w, checking it against want (Size -1: unknown;
// SHA256 "": not checked, for signed metadata); it stops reading once
// more bytes than want.Size came, or, with the size unknown and limit > 0,
// more than limit (ErrTooLarge).
func download(ctx context.Context, client *http.Client, u, name string, want FileSum, limit int64, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return redact.Error(err) // it names u
	}
	defer resp.Body.Close()
	shown := redact.URL(u)
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{URL: shown, Status: resp.StatusCode}
	}
	var body io.Reader = resp.Body
	switch {
	case want.Size >= 0:
		body = io.LimitReader(resp.Body, want.Size+1)
	case limit > 0:
		body = io.LimitReader(resp.Body, limit+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", shown, redact.Error(err))
	}
	if want.Size < 0 && limit > 0 && n > limit {
		return fmt.Errorf("GET %s: more than %d bytes (the limit): %w", shown, limit, ErrTooLarge)
	}
	if want.SHA256 == "" {
		return nil // metadata: checked by signature or Release afterwards
	}
	got := hex.EncodeToString(h.Sum(nil))
	if (want.Size >= 0 && n != want.Size) || got != want.SHA256 {
		e := &ChecksumError{Path: name, Source: shown, WantSHA256: want.SHA256, GotSHA256: got, WantSize: want.Size, GotSize: n}
		if want.Size >= 0 && n > want.Size {
			e.GotSHA256 = "" // cut short: not the file's digest
		}
		return e
	}
	return nil
}

// Source is one repository suite to mirror.
type Source struct {
	// URL is the repository root, holding dists/ and pool/
	// ("http://deb.debian.org/debian").
	URL string
	// Suite is the directory under dists/ ("bookworm", "bionic-updates").
	Suite string
	// Components and Architectures select the Packages indexes; default:
	// every component the Release lists, and "amd64".
	Components, Architectures []string
	// Key is the pinned signing key.
	Key *Key
	// Flat marks a flat repository (sources line "deb URL ./"): its
	// InRelease, Release, Release.gpg and Packages indexes are in URL
	// itself, with no dists/, suites or components, and its Filenames are
	// relative to URL. Suite and Components are then ignored.
	Flat bool
}

// Name is "URL suite" ("URL ./" for a flat repository), how errors and
// log records name the repository: the URL without the credentials it
// may carry (redact.URL).
func (s Source) Name() string {
	u := redact.URL(strings.TrimRight(s.URL, "/"))
	if s.Flat {
		return u + " ./"
	}
	return u + " " + s.Suite
}

// MetaFile is a metadata file stored verbatim.
type MetaFile struct {
	// Path is relative to the repository root: "dists/{suite}/" and the
	// path the Release lists ("dists/bookworm/InRelease",
	// "dists/bookworm/main/binary-amd64/Packages.xz").
	Path string
	// Data is the file's bytes; nil once handed to FetchOptions.Store.
	Data   []byte
	SHA256 string
	Size   int64
}

// Metadata is a suite's verified metadata and indexes.
type Metadata struct {
	Source  Source
	Release *Release
	// Files are what FetchMetadata keeps, byte for byte as served and
	// each verified: InRelease, Release and Release.gpg (those that
	// exist), then for each component its Packages variants per
	// architecture and its Translation-en variants, in the order of
	// Components and Architectures.
	Files []MetaFile
	// Indexes are the parsed Packages indexes, one per component and
	// architecture.
	Indexes []*Index
}

// FetchMetadata downloads a suite's signed metadata, verifies it against
// src.Key and downloads each component's indexes, each checked against
// the size and sha256 the Release lists, so that a mirror holding
// Metadata.Files answers whatever a node's apt asks of it.
//
// Signed metadata: it takes InRelease, verified, when the repository has
// it, and Release with Release.gpg otherwise. When all three exist it
// keeps all three, for apt falls back to Release and Release.gpg when
// InRelease fails and older tools read only those; but only when Release
// verifies and lists the same files as InRelease (a mirror caught
// mid-update may differ; deb.debian.org has served a Release.gpg older
// than its Release): otherwise Release and Release.gpg are left out and
// opts.Logger says why.
//
// Indexes: for each component and architecture it keeps every compressed
// variant of {comp}/binary-{arch}/Packages the Release lists (.gz, .xz,
// .bz2, .lzma, .zst, .lz4: keeping needs only the sha256, not a
// decoder), as apt picks one of those by its own preference, and the
// uncompressed Packages only when the Release lists no compressed
// variant or none that can be read here. It parses the first readable
// variant of .gz, .xz, .bz2 and none; an index the Release does not list
// wraps ErrNotListed, one listed only in compressions it cannot read
// (and not uncompressed) wraps ErrUnsupported. For each component it keeps
// {comp}/i18n/Translation-en the same way (not parsed), which a node with
// the default Acquire::Languages fetches; a Release that lists none is
// fine, and so is a listed one the repository does not have (apt does
// without). With Acquire-By-Hash a mirror serves the same files under
// their by-hash names too (ByHashPath).
//
// Bytes that do not match the Release fail with a *ChecksumError naming
// the path relative to dists/{suite}/ and the URL; decompression beyond
// opts.MaxIndexSize fails with ErrTooLarge.
func FetchMetadata(ctx context.Context, src Source, opts FetchOptions) (*Metadata, error) {
	if src.Key == nil {
		return nil, fmt.Errorf("%s: %w: no signing key pinned", src.Name(), ErrKey)
	}
	if !src.Flat && !cleanRel(src.Suite) {
		return nil, fmt.Errorf("%s: suite %q is not a clean relative path", src.Name(), src.Suite)
	}
	client, limit, log := opts.client(), opts.maxIndexSize(), opts.logger()
	base := strings.TrimRight(src.URL, "/") + "/dists/" + src.Suite + "/"
	dists := "dists/" + src.Suite + "/"
	if src.Flat {
		base, dists = strings.TrimRight(src.URL, "/")+"/", ""
	}
	// get downloads name (relative to dists/{suite}/), checked against
	// want when it is listed.
	get := func(name string, want FileSum) ([]byte, error) {
		var buf bytes.Buffer
		if want.Size > 0 && want.Size <= limit {
			buf.Grow(int(want.Size))
		}
		dl := opts.Download
		if dl == nil {
			dl = func(ctx context.Context, u, name string, want FileSum, limit int64, w io.Writer) error {
				return download(ctx, client, u, name, want, limit, w)
			}
		}
		if err := dl(ctx, base+name, name, want, limit, &buf); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	unlisted := FileSum{Size: -1}
	md := &Metadata{Source: src}
	add := func(name string, data []byte) error {
		s := sha256.Sum256(data)
		mf := MetaFile{Path: dists + name, Data: data, SHA256: hex.EncodeToString(s[:]), Size: int64(len(data))}
		if opts.Store != nil {
			if err := opts.Store(mf); err != nil {
				return fmt.Errorf("%s: storing %s: %w", src.Name(), mf.Path, err)
			}
			mf.Data = nil
		}
		md.Files = append(md.Files, mf)
		return nil
	}
	inRel, errIn := get("InRelease", unlisted)
	if errIn == nil {
		rel, err := VerifyInRelease(src.Name(), inRel, src.Key)
		if err != nil {
			return nil, err
		}
		md.Release = rel
		if err := add("InRelease", inRel); err != nil {
			return nil, err
		}
	} else if !isNotFound(errIn) {
		return nil, fmt.Errorf("%s: %w", src.Name(), errIn)
	}
	relData, errRel := get("Release", unlisted)
	sig, errSig := get("Release.gpg", unlisted)
	switch {
	case errRel == nil && errSig == nil:
		rel, err := VerifyRelease(src.Name(), relData, sig, src.Key)
		switch {
		case err != nil && md.Release == nil:
			return nil, err
		case err != nil:
			log.Warn("leaving out Release and Release.gpg: InRelease verifies, they do not", "repository", src.Name(), "err", err)
		case md.Release != nil && !maps.Equal(rel.SHA256, md.Release.SHA256):
			log.Warn("leaving out Release and Release.gpg: they list other files than InRelease", "repository", src.Name())
		default:
			if md.Release == nil {
				md.Release = rel
			}
			if err := errors.Join(add("Release", relData), add("Release.gpg", sig)); err != nil {
				return nil, err
			}
		}
	case md.Release != nil:
		log.Debug("keeping InRelease alone", "repository", src.Name(), "release", errRel, "release.gpg", errSig)
	case errRel == nil && isNotFound(errSig):
		return nil, &SignatureError{Repository: src.Name(), File: "Release.gpg", Want: src.Key.Fingerprint, Err: errors.New("no InRelease and no Release.gpg")}
	default:
		return nil, fmt.Errorf("%s: no InRelease (%v) and no Release (%v)", src.Name(), errIn, errors.Join(errRel, errSig))
	}
	comps := src.Components
	if len(comps) == 0 {
		comps = md.Release.Components
	}
	if src.Flat {
		comps = nil
	}
	archs := src.Architectures
	if len(archs) == 0 {
		archs = []string{"amd64"}
	}
	// keep downloads and keeps names; the first one that can be read is
	// returned with its bytes. optional ones that are not found are left
	// out.
	keep := func(names []string, optional bool) (string, []byte, error) {
		var readName string
		var readData []byte
		for _, name := range names {
			data, err := get(name, md.Release.SHA256[name])
			if optional && isNotFound(err) {
				log.Warn("leaving out an index the release file lists but the repository does not have", "repository", src.Name(), "path", name, "err", err)
				continue
			}
			if err != nil {
				return "", nil, fmt.Errorf("%s: %w", src.Name(), err)
			}
			if err := add(name, data); err != nil {
				return "", nil, err
			}
			if readName == "" && canDecompress(name) {
				readName, readData = name, data
			}
		}
		return readName, readData, nil
	}
	for _, c := range comps {
		if !cleanRel(c) {
			return nil, fmt.Errorf("%s: component %q is not a clean relative path", src.Name(), c)
		}
		for _, a := range archs {
			if a == "" || strings.ContainsAny(a, "/\\") || a == "." || a == ".." {
				return nil, fmt.Errorf("%s: architecture %q is not a plain name", src.Name(), a)
			}
			packages := c + "/binary-" + a + "/Packages"
			names := variants(md.Release, packages)
			if len(names) == 0 {
				return nil, fmt.Errorf("%s: %s: %w", src.Name(), packages, ErrNotListed)
			}
			name, data, err := keep(names, false)
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, fmt.Errorf("%s: %s: %w: listed only as %s", src.Name(), packages, ErrUnsupported, strings.Join(names, ", "))
			}
			idx, err := openIndex(md.Release, name, data, src.Name(), limit)
			if err != nil {
				return nil, err
			}
			md.Indexes = append(md.Indexes, idx)
		}
		if _, _, err := keep(variants(md.Release, c+"/i18n/Translation-en"), true); err != nil {
			return nil, err
		}
	}
	if src.Flat {
		// One Packages index in the repository itself, for every
		// architecture; the resolver picks by architecture.
		names := variants(md.Release, "Packages")
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: Packages: %w", src.Name(), ErrNotListed)
		}
		name, data, err := keep(names, false)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("%s: Packages: %w: listed only as %s", src.Name(), ErrUnsupported, strings.Join(names, ", "))
		}
		idx, err := openIndex(md.Release, name, data, src.Name(), limit)
		if err != nil {
			return nil, err
		}
		md.Indexes = append(md.Indexes, idx)
	}
	return md, nil
}

// variants returns the names of the variants of the index base (relative
// to dists/{suite}/, without extension) FetchMetadata keeps: each
// compressed one rel lists, in the order of compressions, with base
// itself after them when none of them can be read here, or alone when
// none is listed. It is empty when rel lists no variant.
func variants(rel *Release, base string) []string {
	var out []string
	readable := false
	for _, c := range compressions {
		if _, ok := rel.SHA256[base+c]; ok {
			out = append(out, base+c)
			readable = readable || canDecompress(base+c)
		}
	}
	if _, ok := rel.SHA256[base]; ok && !readable {
		out = append(out, base)
	}
	return out
}

func isNotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusGone)
}
