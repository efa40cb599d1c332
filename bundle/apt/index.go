package apt

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// Package is one entry of a Packages index (or of a dpkg status file).
type Package struct {
	Name, Version, Architecture string
	// Filename is the .deb's path from the repository root
	// ("pool/main/a/apt/apt_2.6.1_amd64.deb"); "" in a status file.
	Filename string
	Size     int64
	// SHA256 is lowercase hex; "" in a status file.
	SHA256 string
	// DependsField, PreDependsField and RecommendsField are the
	// relationship fields as the index gives them; Dependencies parses
	// them. (Parsing only the packages a resolution visits keeps a large
	// index small in memory, and a malformed entry nobody needs harmless.)
	DependsField, PreDependsField, RecommendsField string
	// ConflictsField and BreaksField are the package's negative relations
	// as the index gives them; Negative parses them.
	ConflictsField, BreaksField string
	// Provides lists the virtual packages it provides, each with "=" and a
	// version for a versioned provide.
	Provides []Relation
	// Essential is "Essential: yes"; Priority the Priority field.
	Essential bool
	Priority  string
	// Status is a status file's Status field ("install ok installed").
	Status string
	// Repository names the repository the index came from (Index.Repository).
	Repository string
}

// Dependencies parses the package's Pre-Depends and Depends and, with
// recommends, its Recommends, in that order.
func (p *Package) Dependencies(recommends bool) ([]Dependency, error) {
	fields := []struct{ name, value string }{{"Pre-Depends", p.PreDependsField}, {"Depends", p.DependsField}}
	if recommends {
		fields = append(fields, struct{ name, value string }{"Recommends", p.RecommendsField})
	}
	var out []Dependency
	for _, f := range fields {
		deps, err := ParseDependencies(f.value)
		if err != nil {
			return nil, fmt.Errorf("package %s %s: %s: %w", p.Name, p.Version, f.name, err)
		}
		out = append(out, deps...)
	}
	return out, nil
}

// Negative parses the package's Conflicts and Breaks, each relation on
// its own.
func (p *Package) Negative() ([]Relation, error) {
	var out []Relation
	for _, f := range []struct{ name, value string }{{"Conflicts", p.ConflictsField}, {"Breaks", p.BreaksField}} {
		deps, err := ParseDependencies(f.value)
		if err != nil {
			return nil, fmt.Errorf("package %s %s: %s: %w", p.Name, p.Version, f.name, err)
		}
		for _, d := range deps {
			out = append(out, d...)
		}
	}
	return out, nil
}

// String returns "name version arch".
func (p *Package) String() string {
	return p.Name + " " + p.Version + " " + p.Architecture
}

// Index is the packages of one Packages file (one suite, component and
// architecture of one repository), looked up by name and by what they
// provide.
type Index struct {
	// Repository names the repository, for errors and Package.Repository.
	Repository string
	// Path is the index's path in dists/{suite}/, if it came from one.
	Path string
	// Packages are in file order.
	Packages []*Package

	byName    map[string][]*Package
	providers map[string][]*Package
}

// ParsePackages reads an uncompressed Packages index (or a dpkg status
// file). repo is copied into each Package.Repository.
func ParsePackages(r io.Reader, repo string) (*Index, error) {
	idx := &Index{Repository: repo}
	c := NewControlReader(r)
	c.what = "packages index"
	c.keep = packageField
	for {
		p, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		pkg, err := packageFrom(p)
		if err != nil {
			return nil, err
		}
		pkg.Repository = repo
		idx.Packages = append(idx.Packages, pkg)
	}
	idx.build()
	return idx, nil
}

// cleanFilename drops the "./" flat repositories write before their
// Filenames ("./libfoo_1.0_amd64.deb" is "libfoo_1.0_amd64.deb").
func cleanFilename(f string) string {
	for strings.HasPrefix(f, "./") {
		f = f[2:]
	}
	return f
}

// packageField reports whether a Packages field is one packageFrom reads;
// the others (Description above all) are not kept.
func packageField(name []byte) bool {
	switch len(name) {
	case 4:
		return bytes.EqualFold(name, []byte("Size"))
	case 6:
		return bytes.EqualFold(name, []byte("SHA256")) || bytes.EqualFold(name, []byte("Status")) || bytes.EqualFold(name, []byte("Breaks"))
	case 7:
		return bytes.EqualFold(name, []byte("Package")) || bytes.EqualFold(name, []byte("Version")) || bytes.EqualFold(name, []byte("Depends"))
	case 8:
		return bytes.EqualFold(name, []byte("Filename")) || bytes.EqualFold(name, []byte("Priority")) || bytes.EqualFold(name, []byte("Provides"))
	case 9:
		return bytes.EqualFold(name, []byte("Essential")) || bytes.EqualFold(name, []byte("Conflicts"))
	case 10:
		return bytes.EqualFold(name, []byte("Recommends"))
	case 11:
		return bytes.EqualFold(name, []byte("Pre-Depends"))
	case 12:
		return bytes.EqualFold(name, []byte("Architecture"))
	}
	return false
}

func packageFrom(p Paragraph) (*Package, error) {
	pkg := &Package{
		Name: strings.ToLower(p.Get("Package")), Version: p.Get("Version"),
		Architecture: p.Get("Architecture"), Filename: cleanFilename(p.Get("Filename")),
		SHA256:    strings.ToLower(p.Get("SHA256")),
		Essential: strings.EqualFold(p.Get("Essential"), "yes"),
		Priority:  p.Get("Priority"), Status: p.Get("Status"),
	}
	if pkg.Name == "" || pkg.Version == "" {
		return nil, syntaxError("packages index", p.Get("Package"), "entry without Package or Version")
	}
	if _, err := ParseVersion(pkg.Version); err != nil {
		return nil, fmt.Errorf("package %s: %w", pkg.Name, err)
	}
	if s := p.Get("Size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, syntaxError("packages index", s, "package "+pkg.Name+": bad Size")
		}
		pkg.Size = n
	}
	pkg.DependsField, pkg.PreDependsField, pkg.RecommendsField = p.Get("Depends"), p.Get("Pre-Depends"), p.Get("Recommends")
	pkg.ConflictsField, pkg.BreaksField = p.Get("Conflicts"), p.Get("Breaks")
	prov, err := ParseDependencies(p.Get("Provides"))
	if err != nil {
		return nil, fmt.Errorf("package %s %s: Provides: %w", pkg.Name, pkg.Version, err)
	}
	for _, d := range prov {
		if len(d) != 1 || (d[0].Op != "" && d[0].Op != "=") {
			return nil, syntaxError("packages index", d.String(), "package "+pkg.Name+": Provides allows only name or name (= version)")
		}
		pkg.Provides = append(pkg.Provides, d[0])
	}
	return pkg, nil
}

func (idx *Index) build() {
	idx.byName = map[string][]*Package{}
	idx.providers = map[string][]*Package{}
	for _, p := range idx.Packages {
		idx.byName[p.Name] = append(idx.byName[p.Name], p)
		for _, pr := range p.Provides {
			if !slices.Contains(idx.providers[pr.Name], p) {
				idx.providers[pr.Name] = append(idx.providers[pr.Name], p)
			}
		}
	}
}

// Lookup returns the packages of that name, in file order.
func (idx *Index) Lookup(name string) []*Package { return idx.byName[name] }

// Providers returns the packages that provide name, in file order.
func (idx *Index) Providers(name string) []*Package { return idx.providers[name] }

// DefaultMaxIndexSize is the most bytes a compressed index may
// decompress to, and the most a signed metadata file (InRelease, Release,
// Release.gpg) may have, unless FetchOptions.MaxIndexSize says otherwise:
// 1 GiB, some twenty times Debian main's largest Packages.
const DefaultMaxIndexSize = 1 << 30

// OpenIndex checks data, the bytes of the index at path in the Release
// (relative to dists/{suite}/, such as "main/binary-amd64/Packages.xz"),
// against the size and sha256 the Release lists for it, decompresses it
// by its extension (".gz", ".xz", ".bz2" or none) and parses it. Other
// compressions (".lzma", ".zst", ".lz4") are ErrUnsupported. A mismatch
// is a *ChecksumError; an index that decompresses to more than
// DefaultMaxIndexSize bytes is ErrTooLarge. Nothing is decompressed
// before the sha256 matches.
func OpenIndex(rel *Release, path string, data []byte, repo string) (*Index, error) {
	return openIndex(rel, path, data, repo, DefaultMaxIndexSize)
}

func openIndex(rel *Release, path string, data []byte, repo string, limit int64) (*Index, error) {
	if err := rel.Check(path, data); err != nil {
		return nil, err
	}
	r, err := decompress(path, bytes.NewReader(data), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", repo, path, err)
	}
	idx, err := ParsePackages(r, repo)
	if r.exceeded() {
		// checked first: the parser may trip on the line cut short
		err = r.tooLarge()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", repo, path, err)
	}
	idx.Path = path
	return idx, nil
}

// canDecompress reports whether decompress reads the file name.
func canDecompress(name string) bool {
	switch compression(name) {
	case "", ".gz", ".xz", ".bz2":
		return true
	}
	return false
}

// compression returns the extension of a compressed index name (".xz"),
// or "" for an uncompressed one.
func compression(name string) string {
	for _, c := range compressions {
		if strings.HasSuffix(name, c) {
			return c
		}
	}
	return ""
}

// compressions are the compressed variants of an index a Release may
// list, in the order FetchMetadata prefers them for reading (the first
// three are the ones it can read).
var compressions = []string{".gz", ".xz", ".bz2", ".lzma", ".zst", ".lz4"}

// decompress returns a reader of the decompressed bytes of r, a file named
// name, that fails with ErrTooLarge after limit bytes (an uncompressed
// file is read whole: its size is what it is).
func decompress(name string, r io.Reader, limit int64) (*limitReader, error) {
	switch c := compression(name); c {
	case "":
		limit = -1
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = z
	case ".xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = z
	case ".bz2":
		r = bzip2.NewReader(r)
	default:
		return nil, fmt.Errorf("%w: %s compression", ErrUnsupported, strings.TrimPrefix(c, "."))
	}
	return &limitReader{r: r, limit: limit}, nil
}

// limitReader reads at most limit bytes and fails once there are more;
// a negative limit is none.
type limitReader struct {
	r     io.Reader
	limit int64
	n     int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.limit < 0 {
		return l.r.Read(p)
	}
	if l.exceeded() {
		return 0, l.tooLarge()
	}
	if left := l.limit + 1 - l.n; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.exceeded() {
		return n, l.tooLarge()
	}
	return n, err
}

func (l *limitReader) exceeded() bool { return l.limit >= 0 && l.n > l.limit }

func (l *limitReader) tooLarge() error {
	return fmt.Errorf("decompresses to more than %d bytes (the limit): %w", l.limit, ErrTooLarge)
}

// Check verifies data against the size and sha256 the Release lists for
// path. An unlisted path wraps ErrNotListed; a mismatch is a
// *ChecksumError.
func (rel *Release) Check(path string, data []byte) error {
	want, ok := rel.SHA256[path]
	if !ok {
		return fmt.Errorf("%s: %w", path, ErrNotListed)
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if int64(len(data)) != want.Size || got != want.SHA256 {
		return &ChecksumError{Path: path, WantSHA256: want.SHA256, GotSHA256: got, WantSize: want.Size, GotSize: int64(len(data))}
	}
	return nil
}

// ParseStatus reads a dpkg status file (/var/lib/dpkg/status of a target
// system) and returns the packages it records as installed ("Status:
// install ok installed", or any want with "ok installed"), for
// ResolveOptions.Status.
func ParseStatus(r io.Reader) (*Index, error) {
	all, err := ParsePackages(r, "status")
	if err != nil {
		return nil, fmt.Errorf("dpkg status: %w", err)
	}
	idx := &Index{Repository: "status"}
	for _, p := range all.Packages {
		if f := strings.Fields(p.Status); len(f) == 3 && f[1] == "ok" && f[2] == "installed" {
			idx.Packages = append(idx.Packages, p)
		}
	}
	idx.build()
	return idx, nil
}
