package pypi

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxMetadataSize bounds a METADATA, PKG-INFO, requires.txt or
// pyproject.toml read into memory.
const maxMetadataSize = 8 << 20

// Metadata is what the resolver needs from a release's core metadata.
type Metadata struct {
	// Name and Version as the metadata states them (may be empty when the
	// metadata came from the index's JSON).
	Name, Version string
	// RequiresDist are the dependencies, markers not yet evaluated.
	RequiresDist []Requirement
	// RequiresPython is the Requires-Python field ("" if none).
	RequiresPython string
	// Source says where RequiresDist came from: "index JSON",
	// "PEP 658 metadata", "wheel METADATA", "sdist PKG-INFO",
	// "sdist egg-info requires.txt", or "sdist without dependency
	// metadata" (nothing found: the sdist is taken to need nothing).
	Source string
	// Pyproject is true for an sdist with a pyproject.toml: pip 20.3
	// builds it in an isolated environment holding BuildRequires.
	Pyproject bool
	// BuildRequires are the sdist's pyproject.toml [build-system]
	// requires, or pip's default (setuptools>=40.8.0, wheel) when the
	// file has no [build-system] table. Nil unless Pyproject.
	BuildRequires []Requirement
}

// ParseMetadata parses a METADATA or PKG-INFO file (RFC 822 style headers;
// the body, the long description, is ignored). An unparseable Requires-Dist
// line is an error.
func ParseMetadata(data []byte) (*Metadata, error) {
	headers, err := parseHeaders(data)
	if err != nil {
		return nil, err
	}
	m := &Metadata{}
	for _, h := range headers {
		switch strings.ToLower(h[0]) {
		case "name":
			m.Name = h[1]
		case "version":
			m.Version = h[1]
		case "requires-python":
			m.RequiresPython = h[1]
		case "requires-dist":
			r, err := ParseRequirement(h[1])
			if err != nil {
				return nil, fmt.Errorf("metadata Requires-Dist: %w", err)
			}
			m.RequiresDist = append(m.RequiresDist, r)
		}
	}
	return m, nil
}

// parseHeaders reads "Key: value" lines up to the first blank line;
// a line starting with a space or tab continues the previous value.
func parseHeaders(data []byte) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxMetadataSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, &SyntaxError{What: "metadata", Input: line, Msg: fmt.Sprintf("line %d continues nothing", n)}
			}
			out[len(out)-1][1] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t") {
			return nil, &SyntaxError{What: "metadata", Input: line, Msg: fmt.Sprintf("line %d is not a Key: value header", n)}
		}
		out = append(out, [2]string{k, strings.TrimSpace(v)})
	}
	if err := sc.Err(); err != nil {
		return nil, &SyntaxError{What: "metadata", Input: "", Msg: err.Error()}
	}
	return out, nil
}

// ParseRequiresTxt parses setuptools' egg-info requires.txt: plain
// requirement lines, then sections "[extra]", "[:marker]" or
// "[extra:marker]" whose lines apply only with that extra or marker.
func ParseRequiresTxt(data []byte) ([]Requirement, error) {
	var out []Requirement
	var section Marker
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, &SyntaxError{What: "requires.txt", Input: line, Msg: fmt.Sprintf("line %d: unclosed section", n+1)}
			}
			extra, marker, _ := strings.Cut(line[1:len(line)-1], ":")
			section = Marker{}
			if extra = strings.TrimSpace(extra); extra != "" {
				if !ValidName(extra) {
					return nil, &SyntaxError{What: "requires.txt", Input: line, Msg: fmt.Sprintf("line %d: invalid extra", n+1)}
				}
				section, _ = ParseMarker(`extra == "` + NormalizeName(extra) + `"`)
			}
			if strings.TrimSpace(marker) != "" {
				m, err := ParseMarker(marker)
				if err != nil {
					return nil, fmt.Errorf("requires.txt line %d: %w", n+1, err)
				}
				section = m.And(section)
			}
			continue
		}
		r, err := ParseRequirement(line)
		if err != nil {
			return nil, fmt.Errorf("requires.txt line %d: %w", n+1, err)
		}
		r.Marker = r.Marker.And(section)
		out = append(out, r)
	}
	return out, nil
}

// defaultBuildRequires is what pip 20.3 installs to build a pyproject.toml
// sdist whose file has no [build-system] table.
var defaultBuildRequires = []string{"setuptools>=40.8.0", "wheel"}

// ParseBuildRequires returns the [build-system] requires of a
// pyproject.toml, or pip's default when the file has no [build-system]
// table. It understands only as much TOML as that key needs: a table
// header, and an array of basic or literal strings that may span lines.
func ParseBuildRequires(data []byte) ([]Requirement, error) {
	bad := func(msg string) ([]Requirement, error) {
		return nil, &SyntaxError{What: "pyproject.toml", Input: "[build-system] requires", Msg: msg}
	}
	lines := strings.Split(string(data), "\n")
	inTable, seenTable := false, false
	var raw []string
	found := false
	for i := 0; i < len(lines) && !found; i++ {
		line := strings.TrimSpace(stripTOMLComment(lines[i]))
		if strings.HasPrefix(line, "[") {
			inTable = strings.ReplaceAll(line, " ", "") == "[build-system]"
			seenTable = seenTable || inTable
			continue
		}
		if !inTable {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.Trim(strings.TrimSpace(key), `"'`) != "requires" {
			continue
		}
		// Gather the array, which may span lines.
		val = strings.TrimSpace(val)
		for !arrayClosed(val) && i+1 < len(lines) {
			i++
			val += " " + strings.TrimSpace(stripTOMLComment(lines[i]))
		}
		if !strings.HasPrefix(val, "[") || !arrayClosed(val) {
			return bad("requires is not an array")
		}
		strs, err := tomlStrings(val)
		if err != nil {
			return bad(err.Error())
		}
		raw, found = strs, true
	}
	if !seenTable {
		raw = defaultBuildRequires
	} else if !found {
		return bad("[build-system] has no requires")
	}
	out := []Requirement{}
	for _, s := range raw {
		r, err := ParseRequirement(s)
		if err != nil {
			return nil, fmt.Errorf("pyproject.toml build requirement: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// stripTOMLComment drops a "#" comment that is outside quotes.
func stripTOMLComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0 && c == q:
			q = 0
		case q != 0:
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return s[:i]
		}
	}
	return s
}

// arrayClosed reports whether s, which starts an array, has its closing
// bracket outside quotes.
func arrayClosed(s string) bool {
	var q byte
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0 && c == '\\' && q == '"':
			i++
		case q != 0 && c == q:
			q = 0
		case q != 0:
		case c == '"' || c == '\'':
			q = c
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// tomlStrings returns the strings of a one-level TOML array.
func tomlStrings(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ',':
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if c == '"' && s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, b.String())
			i = j + 1
		default:
			return nil, fmt.Errorf("unexpected %q in array", c)
		}
	}
	return out, nil
}

// readAll reads at most maxMetadataSize bytes of r.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("larger than %d bytes", maxMetadataSize)
	}
	return data, nil
}

// WheelMetadata reads {name}-{version}.dist-info/METADATA from a wheel.
func WheelMetadata(r io.ReaderAt, size int64, filename string) (*Metadata, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("reading wheel %s: %w", filename, err)
	}
	want := ""
	if w, err := ParseWheelName(filename); err == nil {
		want = NormalizeName(w.Name)
	}
	var found *zip.File
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base != "METADATA" || strings.Count(dir, "/") != 1 || !strings.HasSuffix(dir, ".dist-info/") {
			continue
		}
		nameVer := strings.TrimSuffix(dir, ".dist-info/")
		name, _, _ := strings.Cut(nameVer, "-")
		if found == nil || NormalizeName(name) == want {
			found = f
		}
	}
	if found == nil {
		return nil, fmt.Errorf("wheel %s has no .dist-info/METADATA", filename)
	}
	rc, err := found.Open()
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", filename, found.Name, err)
	}
	defer rc.Close()
	data, err := readAll(rc)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", filename, found.Name, err)
	}
	m, err := ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", filename, err)
	}
	m.Source = "wheel METADATA"
	return m, nil
}

// sdistKinds are the sdist filename endings pip 20.3 accepts, most
// preferred first.
var sdistKinds = []string{".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar"}

// sdistKind returns the sdist ending of filename and its preference, or
// -1 when filename is not an sdist.
func sdistKind(filename string) (string, int) {
	lower := strings.ToLower(filename)
	for i, k := range sdistKinds {
		if strings.HasSuffix(lower, k) {
			return k, i
		}
	}
	return "", -1
}

// SdistMetadata reads what an sdist says about its dependencies: the
// Requires-Dist of its top-level PKG-INFO when there are any, else its
// egg-info requires.txt; and its pyproject.toml's build requirements.
// .tar.xz sdists are not read (the standard library has no xz).
func SdistMetadata(r io.ReaderAt, size int64, filename string) (*Metadata, error) {
	kind, _ := sdistKind(filename)
	files := map[string][]byte{} // PKG-INFO, requires.txt, pyproject.toml
	keep := func(name string) string {
		parts := strings.Split(strings.TrimPrefix(name, "./"), "/")
		switch {
		case len(parts) == 2 && (parts[1] == "PKG-INFO" || parts[1] == "pyproject.toml"):
			return parts[1]
		case len(parts) == 3 && strings.HasSuffix(parts[1], ".egg-info") && parts[2] == "requires.txt",
			len(parts) == 4 && parts[1] == "src" && strings.HasSuffix(parts[2], ".egg-info") && parts[3] == "requires.txt":
			return "requires.txt"
		}
		return ""
	}
	switch kind {
	case ".zip":
		zr, err := zip.NewReader(r, size)
		if err != nil {
			return nil, fmt.Errorf("reading sdist %s: %w", filename, err)
		}
		for _, f := range zr.File {
			k := keep(f.Name)
			if k == "" || files[k] != nil {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("sdist %s: %s: %w", filename, f.Name, err)
			}
			data, err := readAll(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("sdist %s: %s: %w", filename, f.Name, err)
			}
			files[k] = data
		}
	case ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar":
		var in io.Reader = io.NewSectionReader(r, 0, size)
		switch kind {
		case ".tar.gz", ".tgz":
			gz, err := gzip.NewReader(in)
			if err != nil {
				return nil, fmt.Errorf("reading sdist %s: %w", filename, err)
			}
			defer gz.Close()
			in = gz
		case ".tar.bz2", ".tbz":
			in = bzip2.NewReader(in)
		}
		tr := tar.NewReader(in)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading sdist %s: %w", filename, err)
			}
			k := keep(h.Name)
			if k == "" || h.Typeflag != tar.TypeReg || files[k] != nil {
				continue
			}
			data, err := readAll(tr)
			if err != nil {
				return nil, fmt.Errorf("sdist %s: %s: %w", filename, h.Name, err)
			}
			files[k] = data
		}
	default:
		return &Metadata{Source: "sdist without dependency metadata"}, nil
	}
	m := &Metadata{Source: "sdist without dependency metadata"}
	if data := files["PKG-INFO"]; data != nil {
		pm, err := ParseMetadata(data)
		if err != nil {
			return nil, fmt.Errorf("sdist %s: PKG-INFO: %w", filename, err)
		}
		m = pm
		m.Source = "sdist without dependency metadata"
		if len(m.RequiresDist) > 0 {
			m.Source = "sdist PKG-INFO"
		}
	}
	if data := files["requires.txt"]; data != nil && len(m.RequiresDist) == 0 {
		reqs, err := ParseRequiresTxt(data)
		if err != nil {
			return nil, fmt.Errorf("sdist %s: %w", filename, err)
		}
		m.RequiresDist, m.Source = reqs, "sdist egg-info requires.txt"
	}
	if data := files["pyproject.toml"]; data != nil {
		br, err := ParseBuildRequires(data)
		if err != nil {
			return nil, fmt.Errorf("sdist %s: %w", filename, err)
		}
		m.Pyproject, m.BuildRequires = true, br
	}
	return m, nil
}
