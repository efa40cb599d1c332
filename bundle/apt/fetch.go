package apt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FetchOptions configures Fetch and FetchMetadata. The zero value works.
type FetchOptions struct {
	// Client makes the HTTP requests; default: a client over
	// http.DefaultTransport.
	Client *http.Client
}

func (o FetchOptions) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{}
}

// Fetched is a .deb Fetch stored.
type Fetched struct {
	// Path is where the file now is.
	Path string
	// Source is the URL the bytes came from.
	Source string
	Size   int64
	SHA256 string
}

// Fetch downloads p.Filename from the repository at baseURL (the URL that
// holds dists/ and pool/) into dir, named by the last element of
// Filename, checking size and sha256 against the index as the bytes
// stream in. Bytes that do not match are discarded and the error is a
// *ChecksumError with both digests; only a verified file ever appears at
// the final path, which is replaced atomically.
func Fetch(ctx context.Context, p *Package, baseURL, dir string, opts FetchOptions) (*Fetched, error) {
	name := path.Base(p.Filename)
	if p.Filename == "" || !cleanRel(p.Filename) || name == "." || name == ".." {
		return nil, fmt.Errorf("fetching %s: Filename %q is not a clean relative path", p, p.Filename)
	}
	if !isSHA256(p.SHA256) {
		return nil, fmt.Errorf("fetching %s: the index gives no sha256 to check it against", p)
	}
	u := strings.TrimRight(baseURL, "/") + "/" + p.Filename
	tmp, err := os.CreateTemp(dir, ".apt-*.part")
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p, err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := FileSum{Size: p.Size, SHA256: p.SHA256}
	if p.Size == 0 {
		sum.Size = -1
	}
	if err := download(ctx, opts.client(), u, p.Filename, sum, tmp); err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("storing %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("storing %s: %w", p, err)
	}
	dst := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("storing %s: %w", p, err)
	}
	keep = true
	st, err := os.Stat(dst)
	if err != nil {
		return nil, fmt.Errorf("storing %s: %w", p, err)
	}
	return &Fetched{Path: dst, Source: u, Size: st.Size(), SHA256: p.SHA256}, nil
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
// SHA256 "": not checked, for signed metadata);
// it stops reading once more bytes than want.Size came.
func download(ctx context.Context, client *http.Client, u, name string, want FileSum, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{URL: u, Status: resp.StatusCode}
	}
	var body io.Reader = resp.Body
	if want.Size >= 0 {
		body = io.LimitReader(resp.Body, want.Size+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if want.SHA256 == "" {
		return nil // metadata: checked by signature or Release afterwards
	}
	got := hex.EncodeToString(h.Sum(nil))
	if (want.Size >= 0 && n != want.Size) || got != want.SHA256 {
		e := &ChecksumError{Path: name, Source: u, WantSHA256: want.SHA256, GotSHA256: got, WantSize: want.Size, GotSize: n}
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
}

// Name is "URL suite", how errors name the repository.
func (s Source) Name() string { return strings.TrimRight(s.URL, "/") + " " + s.Suite }

// MetaFile is a metadata file stored verbatim.
type MetaFile struct {
	// Path is relative to the repository root ("dists/bookworm/InRelease").
	Path   string
	Data   []byte
	SHA256 string
}

// Metadata is a suite's verified metadata and indexes.
type Metadata struct {
	Source  Source
	Release *Release
	// Files are InRelease and/or Release and Release.gpg, and each
	// Packages.gz read, byte for byte as served.
	Files []MetaFile
	// Indexes are the parsed Packages indexes, one per component and
	// architecture.
	Indexes []*Index
}

// FetchMetadata downloads a suite's signed metadata, verifies it against
// src.Key and downloads each component's and architecture's Packages.gz
// (falling back to the uncompressed Packages), each checked against the
// Release. It takes InRelease when the repository has it and Release with
// Release.gpg otherwise, keeping whichever of the three exist (each
// verified) so the mirror can serve them all.
func FetchMetadata(ctx context.Context, src Source, opts FetchOptions) (*Metadata, error) {
	if src.Key == nil {
		return nil, fmt.Errorf("%s: %w: no signing key pinned", src.Name(), ErrKey)
	}
	client := opts.client()
	base := strings.TrimRight(src.URL, "/") + "/dists/" + src.Suite + "/"
	get := func(name string) ([]byte, error) {
		var buf strings.Builder
		err := download(ctx, client, base+name, name, FileSum{Size: -1}, &buf)
		if err != nil {
			return nil, err
		}
		return []byte(buf.String()), nil
	}
	md := &Metadata{Source: src}
	dists := "dists/" + src.Suite + "/"
	add := func(name string, data []byte) {
		s := sha256.Sum256(data)
		md.Files = append(md.Files, MetaFile{Path: dists + name, Data: data, SHA256: hex.EncodeToString(s[:])})
	}
	inRel, errIn := get("InRelease")
	if errIn == nil {
		rel, err := VerifyInRelease(src.Name(), inRel, src.Key)
		if err != nil {
			return nil, err
		}
		md.Release = rel
		add("InRelease", inRel)
	} else if !isNotFound(errIn) {
		return nil, fmt.Errorf("%s: %w", src.Name(), errIn)
	}
	relData, errRel := get("Release")
	sig, errSig := get("Release.gpg")
	switch {
	case errRel == nil && errSig == nil:
		rel, err := VerifyRelease(src.Name(), relData, sig, src.Key)
		if err != nil {
			return nil, err
		}
		if md.Release == nil {
			md.Release = rel
		}
		add("Release", relData)
		add("Release.gpg", sig)
	case md.Release == nil && errRel == nil && isNotFound(errSig):
		return nil, &SignatureError{Repository: src.Name(), File: "Release.gpg", Want: src.Key.Fingerprint, Err: errors.New("no InRelease and no Release.gpg")}
	case md.Release == nil:
		return nil, fmt.Errorf("%s: no InRelease (%v) and no Release (%v)", src.Name(), errIn, errors.Join(errRel, errSig))
	}
	comps := src.Components
	if len(comps) == 0 {
		comps = md.Release.Components
	}
	archs := src.Architectures
	if len(archs) == 0 {
		archs = []string{"amd64"}
	}
	for _, c := range comps {
		for _, a := range archs {
			dir := c + "/binary-" + a + "/"
			name := dir + "Packages.gz"
			if _, ok := md.Release.SHA256[name]; !ok {
				name = dir + "Packages"
			}
			if _, ok := md.Release.SHA256[name]; !ok {
				return nil, fmt.Errorf("%s: %s: %w", src.Name(), dir+"Packages(.gz)", ErrNotListed)
			}
			data, err := get(name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src.Name(), err)
			}
			idx, err := OpenIndex(md.Release, name, data, src.Name())
			if err != nil {
				var ce *ChecksumError
				if errors.As(err, &ce) {
					ce.Source = base + name
				}
				return nil, err
			}
			add(name, data)
			md.Indexes = append(md.Indexes, idx)
		}
	}
	return md, nil
}

func isNotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusGone)
}
