package apttest

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"
)

// DefaultDate is the Release Date and the time inside generated .debs
// when Options.Date is zero.
var DefaultDate = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultCompressions are the index variants a Repo serves by default:
// gzip and xz, as Debian's and Ubuntu's archives do.
var DefaultCompressions = []string{".gz", ".xz"}

// Options configures New. The zero value works.
type Options struct {
	// Origin and Label are the Release fields; default "apttest" (Label:
	// Origin).
	Origin, Label string
	// Date is the Release's Date and the time inside the .debs; default
	// DefaultDate. The signatures are made at the current time.
	Date time.Time
	// Compressions are the variants of each index served: any of ""
	// (uncompressed), ".gz" and ".xz"; default DefaultCompressions. The
	// Release lists them and, served or not, the uncompressed index
	// (apt skips an index whose uncompressed name the Release does not
	// list; Debian's and Ubuntu's archives list it without serving it).
	Compressions []string
	// EpochInFilename keeps a version's epoch in pool file names as
	// "%3a", as Docker's repository does; default: dropped, as Debian's
	// archive does.
	EpochInFilename bool
	// Entity signs the Release files; default a fresh ed25519 key.
	Entity *openpgp.Entity
}

// Component is one component of a suite and the packages it lists.
type Component struct {
	Name     string
	Packages []Package
}

// Suite is one directory under dists/.
type Suite struct {
	// Name is the directory under dists/ and the Release's Suite
	// ("bookworm", "bionic-updates").
	Name string
	// Codename is the Release's Codename; default Name.
	Codename string
	// Architectures are the binary-{arch} indexes; default ["amd64"].
	Architectures []string
	// Components are the components, in the Release's order; at least
	// one.
	Components []Component
}

// Repo is a signed apt repository held in memory (see the package
// documentation for its layout).
type Repo struct {
	opts   Options
	entity *openpgp.Entity
	key    []byte // armored public key
	fpr    string

	mu     sync.RWMutex
	files  map[string][]byte // path from the root → bytes
	suites map[string]bool
}

// New returns an empty repository with its signing key.
func New(opts Options) (*Repo, error) {
	if opts.Origin == "" {
		opts.Origin = "apttest"
	}
	if opts.Label == "" {
		opts.Label = opts.Origin
	}
	if opts.Date.IsZero() {
		opts.Date = DefaultDate
	}
	if opts.Compressions == nil {
		opts.Compressions = DefaultCompressions
	}
	for _, c := range opts.Compressions {
		if c != "" && c != ".gz" && c != ".xz" {
			return nil, fmt.Errorf("apttest: compression %q: want \"\", \".gz\" or \".xz\"", c)
		}
	}
	if len(opts.Compressions) == 0 {
		return nil, errors.New("apttest: no index compressions")
	}
	e := opts.Entity
	if e == nil {
		var err error
		e, err = NewEntity(opts.Origin + " archive signing key")
		if err != nil {
			return nil, err
		}
	}
	var key bytes.Buffer
	w, err := armor.Encode(&key, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(e.Serialize(w), w.Close()); err != nil {
		return nil, fmt.Errorf("apttest: writing the public key: %w", err)
	}
	key.WriteString("\n")
	return &Repo{
		opts: opts, entity: e, key: key.Bytes(),
		fpr:   strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)),
		files: map[string][]byte{}, suites: map[string]bool{},
	}, nil
}

// NewEntity returns a fresh ed25519 signing key (OpenPGP v4, which every
// gpgv apt uses verifies) with one user id.
func NewEntity(name string) (*openpgp.Entity, error) {
	e, err := openpgp.NewEntity(name, "", "apttest@example.invalid", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultHash: crypto.SHA256,
	})
	if err != nil {
		return nil, fmt.Errorf("apttest: generating a key: %w", err)
	}
	return e, nil
}

// Key returns the armored public key.
func (r *Repo) Key() []byte { return slices.Clone(r.key) }

// Fingerprint returns the signing key's primary fingerprint: 40
// uppercase hex digits.
func (r *Repo) Fingerprint() string { return r.fpr }

// Entity returns the signing key, private part included.
func (r *Repo) Entity() *openpgp.Entity { return r.entity }

// AddSuite writes the suite's .debs, indexes and signed Release files.
// A pool file a suite added before already holds must have the same
// bytes (the same Package).
func (r *Repo) AddSuite(s Suite) error {
	if s.Name == "" || !cleanRel(s.Name) {
		return fmt.Errorf("apttest: suite name %q is not a clean relative path", s.Name)
	}
	if len(s.Components) == 0 {
		return fmt.Errorf("apttest: suite %s has no components", s.Name)
	}
	archs := s.Architectures
	if len(archs) == 0 {
		archs = []string{"amd64"}
	}
	for _, a := range archs {
		if !packageName.MatchString(a) || a == "all" {
			return fmt.Errorf("apttest: suite %s: architecture %q", s.Name, a)
		}
	}
	out := map[string][]byte{} // written below, all at once
	dists := "dists/" + s.Name + "/"
	release := map[string][]byte{} // path under dists/{suite}/ → bytes
	var listed []string
	served := map[string]bool{}
	list := func(base string, text []byte) error {
		release[base] = text // always listed, as apt looks for it
		listed = append(listed, base)
		served[base] = slices.Contains(r.opts.Compressions, "")
		for _, c := range r.opts.Compressions {
			if c == "" {
				continue
			}
			data, err := compress(c, text)
			if err != nil {
				return err
			}
			release[base+c] = data
			listed = append(listed, base+c)
			served[base+c] = true
		}
		return nil
	}

	r.mu.RLock()
	exists := r.suites[s.Name]
	r.mu.RUnlock()
	if exists {
		return fmt.Errorf("apttest: suite %s was added before", s.Name)
	}
	var comps []string
	for _, c := range s.Components {
		if c.Name == "" || !cleanRel(c.Name) || slices.Contains(comps, c.Name) {
			return fmt.Errorf("apttest: suite %s: component %q is empty, unclean or listed twice", s.Name, c.Name)
		}
		comps = append(comps, c.Name)
		stanzas := map[string]*strings.Builder{} // arch → Packages text
		for _, a := range archs {
			stanzas[a] = &strings.Builder{}
		}
		var translations strings.Builder
		for _, p := range c.Packages {
			if err := p.check(); err != nil {
				return fmt.Errorf("apttest: suite %s: %w", s.Name, err)
			}
			if p.arch() != "all" && !slices.Contains(archs, p.arch()) {
				return fmt.Errorf("apttest: suite %s: package %s is for %s, which the suite does not have", s.Name, p.Name, p.arch())
			}
			deb, err := Deb(p, r.opts.Date)
			if err != nil {
				return err
			}
			name := p.Filename(c.Name, r.opts.EpochInFilename)
			if prev, ok := r.file(name); ok && !bytes.Equal(prev, deb) {
				return fmt.Errorf("apttest: suite %s: %s already holds another package", s.Name, name)
			}
			if prev, ok := out[name]; ok && !bytes.Equal(prev, deb) {
				return fmt.Errorf("apttest: suite %s: %s is listed twice, differently", s.Name, name)
			}
			out[name] = deb
			stanza := packagesStanza(p, name, deb)
			for _, a := range archs {
				if p.arch() == "all" || p.arch() == a {
					stanzas[a].WriteString(stanza)
				}
			}
			desc := p.description()
			sum := md5.Sum([]byte(desc + "\n"))
			writeStanza(&translations, []Field{{"Package", p.Name}, {"Description-md5", hex.EncodeToString(sum[:])}, {"Description-en", desc}})
			translations.WriteString("\n")
		}
		for _, a := range archs {
			if err := list(c.Name+"/binary-"+a+"/Packages", []byte(stanzas[a].String())); err != nil {
				return err
			}
		}
		if err := list(c.Name+"/i18n/Translation-en", []byte(translations.String())); err != nil {
			return err
		}
	}

	// Release, then its two signed forms.
	var rel strings.Builder
	writeStanza(&rel, []Field{
		{"Origin", r.opts.Origin}, {"Label", r.opts.Label}, {"Suite", s.Name}, {"Codename", or(s.Codename, s.Name)},
		{"Date", r.opts.Date.UTC().Format(time.RFC1123)},
		{"Architectures", strings.Join(archs, " ")}, {"Components", strings.Join(comps, " ")},
		{"Description", r.opts.Label + " " + s.Name + " (apttest)"},
		{"Acquire-By-Hash", "yes"},
	})
	width := 0
	for _, p := range listed {
		width = max(width, len(fmt.Sprint(len(release[p]))))
	}
	rel.WriteString("SHA256:\n")
	for _, p := range listed {
		fmt.Fprintf(&rel, " %s %*d %s\n", sha256Hex(release[p]), width, len(release[p]), p)
	}
	text := []byte(rel.String())
	inRelease, sig, err := r.sign(text)
	if err != nil {
		return fmt.Errorf("apttest: signing suite %s: %w", s.Name, err)
	}
	for _, p := range listed {
		if !served[p] {
			continue
		}
		out[dists+p] = release[p]
		out[dists+path.Dir(p)+"/by-hash/SHA256/"+sha256Hex(release[p])] = release[p]
	}
	out[dists+"Release"] = text
	out[dists+"InRelease"] = inRelease
	out[dists+"Release.gpg"] = sig

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.suites[s.Name] {
		return fmt.Errorf("apttest: suite %s was added before", s.Name)
	}
	for name, data := range out {
		if prev, ok := r.files[name]; ok && !bytes.Equal(prev, data) {
			return fmt.Errorf("apttest: suite %s: %s already holds other bytes", s.Name, name)
		}
	}
	r.suites[s.Name] = true
	for name, data := range out {
		r.files[name] = data
	}
	return nil
}

// packagesStanza returns p's paragraph in a Packages index, blank line
// included.
func packagesStanza(p Package, filename string, deb []byte) string {
	fields := p.fields(p.installedSize())
	desc := fields[len(fields)-1]
	m := md5.Sum(deb)
	fields = append(fields[:len(fields)-1],
		Field{"Filename", filename}, Field{"Size", fmt.Sprint(len(deb))},
		Field{"MD5sum", hex.EncodeToString(m[:])}, Field{"SHA256", sha256Hex(deb)}, desc)
	var b strings.Builder
	writeStanza(&b, fields)
	b.WriteString("\n")
	return b.String()
}

// sign returns the clearsigned text (InRelease) and an armored detached
// signature of it (Release.gpg).
func (r *Repo) sign(text []byte) (inRelease, sig []byte, err error) {
	cfg := &packet.Config{DefaultHash: crypto.SHA256}
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, r.entity.PrivateKey, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(text); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	var det bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&det, r.entity, bytes.NewReader(text), cfg); err != nil {
		return nil, nil, err
	}
	det.WriteString("\n")
	return in.Bytes(), det.Bytes(), nil
}

// compress returns text in compression c ("", ".gz", ".xz").
func compress(c string, text []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case "":
		return text, nil
	case ".gz":
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		w = zw
	case ".xz":
		zw, err := xz.NewWriter(&buf)
		if err != nil {
			return nil, err
		}
		w = zw
	default:
		return nil, fmt.Errorf("apttest: compression %q", c)
	}
	if _, err := w.Write(text); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cleanRel reports whether p is a relative slash path without empty, "."
// or ".." elements.
func cleanRel(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\ \t\n") {
		return false
	}
	for e := range strings.SplitSeq(p, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
	}
	return true
}

func (r *Repo) file(name string) ([]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, ok := r.files[name]
	return b, ok
}

// File returns the bytes at a path from the repository root
// ("dists/bookworm/InRelease").
func (r *Repo) File(name string) ([]byte, bool) {
	b, ok := r.file(name)
	return slices.Clone(b), ok
}

// Paths returns every path the repository serves, sorted.
func (r *Repo) Paths() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.files))
	for p := range r.files {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Put stores data at a path, replacing what was there and signing
// nothing again: tests use it to tamper with a repository or to add a
// file its Release does not list.
func (r *Repo) Put(name string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[name] = slices.Clone(data)
}

// Remove deletes the file at a path, so the handler answers 404 for it
// (a repository without InRelease, or that lists the uncompressed
// Packages but does not serve it, as Ubuntu's archive does).
func (r *Repo) Remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.files, name)
}

// WriteDir writes the repository's files under dir, for tools that read
// a repository from disk.
func (r *Repo) WriteDir(dir string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for name, data := range r.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Handler returns an http.Handler serving the repository at its root:
// GET and HEAD of each file by its path (mount it elsewhere with
// http.StripPrefix). A pool file whose name holds "%3a" answers both to
// that escaped as "%253a", as apt asks, and to a raw "%3a".
func (r *Repo) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		serveFile(w, req, r.file)
	})
}

// Mirror returns an http.Handler serving files (path from the root →
// bytes) as a web server serves a copied repository tree: what a mirror
// keeps of an upstream repository, laid out by the test, for apt-get to
// update from. It answers as Handler does and also drops "." segments,
// as apt asks a flat repository ("deb URL ./") for "URL/./InRelease";
// nothing else is cleaned, so a path with ".." finds nothing. files is
// read, not copied: leave it unchanged while the handler serves.
func Mirror(files map[string][]byte) http.Handler {
	lookup := func(name string) ([]byte, bool) {
		for strings.Contains(name, "/./") {
			name = strings.ReplaceAll(name, "/./", "/")
		}
		b, ok := files[strings.TrimPrefix(name, "./")]
		return b, ok
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		serveFile(w, req, lookup)
	})
}

// serveFile answers GET and HEAD for the file lookup finds at the
// request's path, tried as decoded and, failing that, as sent.
func serveFile(w http.ResponseWriter, req *http.Request, lookup func(string) ([]byte, bool)) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	data, ok := lookup(strings.TrimPrefix(req.URL.Path, "/"))
	if !ok && req.URL.RawPath != "" {
		data, ok = lookup(strings.TrimPrefix(req.URL.RawPath, "/"))
	}
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(data))
}
