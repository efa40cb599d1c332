package bundle

// Parts for removable media: Split cuts a bundle into parts of a given
// size with an index of their sha256 (the split index), FindSplits finds
// the indexes a list of bundle paths refers to, and SplitParts.Check names
// a part that is missing, cut short or damaged before anything else reads
// it.
//
// Parts are byte slices of the single tar, cut anywhere (not at member
// boundaries): `cat BUNDLE.part* > BUNDLE` gives the single-file bundle
// byte for byte, and Open reads the parts, named in order, as one.
//
// Names, for a prefix P (by default the bundle's path):
//
//	P.part001, P.part002, …   the parts, in order; three digits, more when
//	                          there are over 999 parts, the same width for
//	                          all, so a shell glob (P.part*) lists them in
//	                          order
//	P.split.json              the split index (SplitIndex), deliberately
//	                          not matched by P.part*
//
// The split index is JSON:
//
//	{
//	  "formatVersion": 1,
//	  "bundle": "openpai-v1.8.0.tar",   the single file's name (cat target)
//	  "size": 12884901888,              the bundle's size, the parts' sum
//	  "partSize": 4294967296,           every part's size but the last's
//	  "lockSha256": "<hex>",            sha256 of the bundle's paimirror.json
//	  "parts": [{"name": "openpai-v1.8.0.tar.part001", "size": 4294967296, "sha256": "<hex>"}, …]
//	}
//
// Names in the index are plain file names: the parts are looked for beside
// the index. lockSha256 ties the index to one bundle (it is the digest a
// delta built over the bundle records for its base). Fields are only ever
// added; a new formatVersion means a reader must refuse the index.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

const (
	// SplitIndexSuffix ends the name of a split index: BUNDLE.split.json.
	SplitIndexSuffix = ".split.json"
	// SplitFormatVersion is the version of the split index this paimirror
	// writes and reads.
	SplitFormatVersion = 1
	// MaxParts is the most parts a bundle is split into, and a split
	// index may list.
	MaxParts = 10000

	maxSplitIndexSize = 4 << 20
	splitChunk        = 8 << 20
)

// ErrPartList means the parts named on a command line do not match the
// split index: some are left out, given twice or out of order, or are not
// among the index's parts. It is a usage mistake, not damage.
var ErrPartList = errors.New("the parts named do not match the split index")

// partRE matches a part's name: the prefix and the part number.
var partRE = regexp.MustCompile(`^(.+)\.part([0-9]{3,})$`)

// SplitIndex is the content of BUNDLE.split.json (see the package's
// section on parts).
type SplitIndex struct {
	// FormatVersion is SplitFormatVersion.
	FormatVersion int `json:"formatVersion"`
	// Bundle is the single-file bundle's name, without a directory.
	Bundle string `json:"bundle"`
	// Size is the bundle's size in bytes: the sum of the parts' sizes.
	Size int64 `json:"size"`
	// PartSize is the size of every part but the last.
	PartSize int64 `json:"partSize"`
	// LockSHA256 is the lowercase hex sha256 of the bundle's paimirror.json.
	LockSHA256 string `json:"lockSha256"`
	// Parts are the parts in order.
	Parts []PartEntry `json:"parts"`
}

// PartEntry is one part in a split index.
type PartEntry struct {
	// Name is the part's file name, without a directory.
	Name string `json:"name"`
	// Size is the part's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex sha256 of the part's bytes.
	SHA256 string `json:"sha256"`
}

// PartName returns the name of part i (1-based) of n for prefix:
// prefix.part001 when n < 1000, with as many digits as n has otherwise.
func PartName(prefix string, i, n int) string {
	width := max(3, len(strconv.Itoa(n)))
	return fmt.Sprintf("%s.part%0*d", prefix, width, i)
}

// SplitIndexFor returns where the split index of a part lies by name
// (P.split.json beside P.partNNN), or "" when path is not named as a part.
func SplitIndexFor(path string) string {
	m := partRE.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return ""
	}
	return filepath.Join(filepath.Dir(path), m[1]+SplitIndexSuffix)
}

// SplitOptions configures Split. PartSize is required; the zero value of
// every other field is its default.
type SplitOptions struct {
	// PartSize is the size in bytes of every part but the last, which
	// holds the rest. Required, positive; at most MaxParts parts. (The
	// command refuses less than 1 MiB.)
	PartSize int64
	// Prefix names the output: the parts Prefix.part001, … and the index
	// Prefix.split.json. Default: the bundle's path.
	Prefix string
	// Force replaces parts and an index with this prefix that exist
	// already, and removes the parts of an earlier split into more parts.
	// Default: refuse when any exists.
	Force bool
	// RemoveBundle removes the single-file bundle once its parts and
	// index are written and synced. Default: keep it.
	RemoveBundle bool
	// Progress, when set, is called with the bytes copied since the last
	// call, from Split's goroutine.
	Progress func(delta int64)
}

// SplitResult is what Split wrote.
type SplitResult struct {
	// Index is the split index as written.
	Index *SplitIndex
	// IndexPath is where it was written.
	IndexPath string
	// Parts are the paths of the parts, in order.
	Parts []string
	// Removed lists stale parts of an earlier split that were removed
	// (only with Force).
	Removed []string
}

// Split writes the bundle at path as parts of opts.PartSize bytes and a
// split index beside them. It reads the bundle's tar headers and lock
// first: a torn or unfinished file, or a tar with no lock, is refused.
// It checks nothing else (Verify does), so a delta bundle, which does not
// open alone, splits like any other.
//
// Cost: one read of the bundle and one write of its size. Each 8 MiB is
// read to hash it, then copied by the kernel (copy_file_range) where the
// system can: on a filesystem with reflinks (btrfs, XFS) and a part size
// that is a multiple of its block size (4G and 700M are), the parts may
// then share the bundle's blocks instead of taking their size again.
// Otherwise the parts need the bundle's size in free space, beside the
// bundle until it is removed.
//
// Guarantees: each part is written as NAME.partial, synced, and renamed
// only when every part is written; the index is renamed into place last,
// so an index always describes parts that were whole when it was written.
// On an error or a cancelled ctx, the .partial files are removed and
// nothing else has changed, unless the error came while renaming (then
// rerun with Force). The bundle is removed, with RemoveBundle, only after
// everything is synced.
func Split(ctx context.Context, path string, opts SplitOptions) (*SplitResult, error) {
	if opts.PartSize <= 0 {
		return nil, fmt.Errorf("splitting %s: the part size must be positive, not %d", path, opts.PartSize)
	}
	src, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("splitting: %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("splitting: %w", err)
	}
	defer src.Close()
	srcInfo, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("splitting: %w", err)
	}
	if !srcInfo.Mode().IsRegular() {
		return nil, fmt.Errorf("splitting: %s is not a regular file", path)
	}
	size := srcInfo.Size()
	lock, err := readLock(src, size)
	if err != nil {
		return nil, fmt.Errorf("splitting %s: %w", path, err)
	}
	lockSum := sha256.Sum256(lock)
	prefix := opts.Prefix
	if prefix == "" {
		prefix = path
	}
	n64 := size / opts.PartSize
	if size%opts.PartSize != 0 {
		n64++
	}
	if n64 > MaxParts {
		return nil, fmt.Errorf("splitting %s: %s in parts of %s would make more than %d parts; choose a larger part size",
			path, HumanSize(size), HumanSize(opts.PartSize), MaxParts)
	}
	n := int(n64)

	names := make([]string, n)
	for i := range names {
		names[i] = PartName(prefix, i+1, n)
	}
	indexPath := prefix + SplitIndexSuffix
	existing, err := SplitFiles(prefix)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if st, err := os.Stat(e); err == nil && os.SameFile(st, srcInfo) {
			return nil, fmt.Errorf("splitting %s: %s is the bundle itself; give another prefix", path, e)
		}
	}
	if len(existing) > 0 && !opts.Force {
		return nil, fmt.Errorf("splitting %s: %s already exists (and %d more with its prefix); give --force to replace them, or another prefix",
			path, existing[0], len(existing)-1)
	}

	idx := &SplitIndex{
		FormatVersion: SplitFormatVersion,
		Bundle:        filepath.Base(prefix),
		Size:          size,
		PartSize:      opts.PartSize,
		LockSHA256:    hex.EncodeToString(lockSum[:]),
	}
	var written []string // .partial files to remove on failure
	defer func() {
		for _, p := range written {
			os.Remove(p)
		}
	}()
	buf := make([]byte, min(int64(splitChunk), opts.PartSize))
	for i, name := range names {
		off := int64(i) * opts.PartSize
		partSize := min(opts.PartSize, size-off)
		tmp := name + ".partial"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("writing part %d of %d: %w", i+1, n, err)
		}
		written = append(written, tmp)
		sum, err := copyPart(ctx, src, off, partSize, f, buf, opts.Progress)
		if err == nil {
			if err = f.Sync(); err != nil {
				err = fmt.Errorf("syncing %s: %w", tmp, err)
			}
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing %s: %w", tmp, cerr)
		}
		if err != nil {
			return nil, fmt.Errorf("writing part %d of %d: %w", i+1, n, err)
		}
		idx.Parts = append(idx.Parts, PartEntry{Name: filepath.Base(name), Size: partSize, SHA256: sum})
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if err := writeSynced(indexPath+".partial", data); err != nil {
		return nil, err
	}
	written = append(written, indexPath+".partial")
	for _, name := range names {
		if err := os.Rename(name+".partial", name); err != nil {
			return nil, fmt.Errorf("renaming %s.partial: %w (rerun the split with --force)", name, err)
		}
	}
	if err := os.Rename(indexPath+".partial", indexPath); err != nil {
		return nil, fmt.Errorf("renaming %s.partial: %w (rerun the split with --force)", indexPath, err)
	}
	written = nil
	syncDir(filepath.Dir(indexPath))

	res := &SplitResult{Index: idx, IndexPath: indexPath, Parts: names}
	keep := map[string]bool{filepath.Base(indexPath): true}
	for _, name := range names {
		keep[filepath.Base(name)] = true
	}
	for _, e := range existing {
		if !keep[filepath.Base(e)] { // all in one directory
			if err := os.Remove(e); err != nil {
				return nil, fmt.Errorf("removing %s, a part of an earlier split: %w", e, err)
			}
			res.Removed = append(res.Removed, e)
		}
	}
	if opts.RemoveBundle {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing %s after splitting it: %w", path, err)
		}
		syncDir(filepath.Dir(path))
	}
	return res, nil
}

// SplitFiles lists the parts and the split index with prefix that exist:
// prefix.partNNN (any number of digits, three or more) and
// prefix.split.json, sorted by name.
func SplitFiles(prefix string) ([]string, error) {
	dir, base := filepath.Split(prefix)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("splitting: directory %s does not exist", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("splitting: %w", err)
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if m := partRE.FindStringSubmatch(name); (m != nil && m[1] == base) || name == base+SplitIndexSuffix {
			out = append(out, filepath.Join(filepath.Dir(prefix), name))
		}
	}
	return out, nil
}

// copyPart copies n bytes of src from off to dst and returns their sha256.
// Each chunk is read into buf and hashed, then copied again by dst.ReadFrom
// from src, which uses copy_file_range where the system can (the chunk
// just read is in the page cache) and a plain copy elsewhere.
func copyPart(ctx context.Context, src *os.File, off, n int64, dst *os.File, buf []byte, progress func(int64)) (string, error) {
	h := sha256.New()
	for done := int64(0); done < n; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		k := min(int64(len(buf)), n-done)
		if _, err := src.ReadAt(buf[:k], off+done); err != nil {
			return "", fmt.Errorf("reading %s at byte %d: %w", src.Name(), off+done, err)
		}
		h.Write(buf[:k])
		if _, err := src.Seek(off+done, io.SeekStart); err != nil {
			return "", fmt.Errorf("reading %s: %w", src.Name(), err)
		}
		m, err := dst.ReadFrom(io.LimitReader(src, k))
		if err != nil {
			return "", fmt.Errorf("writing %s: %w", dst.Name(), err)
		}
		if m != k {
			return "", fmt.Errorf("writing %s: %d bytes copied of %d (was %s cut short meanwhile?)", dst.Name(), m, k, src.Name())
		}
		startWriteback(dst, done, k)
		done += k
		if progress != nil {
			progress(k)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadSplitIndex reads and checks the split index at path. A damaged
// index wraps ErrCorrupt; one from a newer paimirror, ErrUnsupported.
func ReadSplitIndex(path string) (*SplitIndex, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("split index %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading split index: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSplitIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading split index %s: %w", path, err)
	}
	idx, err := parseSplitIndex(data)
	if err != nil {
		return nil, fmt.Errorf("split index %s: %w (copy it again, or name the parts in order without it)", path, err)
	}
	return idx, nil
}

// parseSplitIndex parses and checks a split index: the format version,
// plain part names, sizes that add up, and well-formed digests.
func parseSplitIndex(data []byte) (*SplitIndex, error) {
	if len(data) > maxSplitIndexSize {
		return nil, fmt.Errorf("%w: more than %d bytes, too large for a split index", ErrCorrupt, maxSplitIndexSize)
	}
	var idx SplitIndex
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("%w: not a split index: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: not a split index: data after the JSON object", ErrCorrupt)
	}
	switch {
	case idx.FormatVersion > SplitFormatVersion:
		return nil, fmt.Errorf("%w: split index format %d (this paimirror reads %d); use a newer paimirror", ErrUnsupported, idx.FormatVersion, SplitFormatVersion)
	case idx.FormatVersion != SplitFormatVersion:
		return nil, fmt.Errorf("%w: not a split index: formatVersion is %d", ErrCorrupt, idx.FormatVersion)
	case len(idx.Parts) == 0 || len(idx.Parts) > MaxParts:
		return nil, fmt.Errorf("%w: %d parts listed (1 to %d allowed)", ErrCorrupt, len(idx.Parts), MaxParts)
	case !isHex64(idx.LockSHA256):
		return nil, fmt.Errorf("%w: lockSha256 %q is not a hex sha256", ErrCorrupt, idx.LockSHA256)
	case !plainName(idx.Bundle):
		return nil, fmt.Errorf("%w: bundle name %q is not a plain file name", ErrCorrupt, idx.Bundle)
	case idx.Size <= 0 || idx.PartSize <= 0:
		return nil, fmt.Errorf("%w: size %d and partSize %d must be positive", ErrCorrupt, idx.Size, idx.PartSize)
	}
	seen := map[string]bool{}
	var sum int64
	for i, p := range idx.Parts {
		switch {
		case !plainName(p.Name):
			return nil, fmt.Errorf("%w: part %d: name %q is not a plain file name", ErrCorrupt, i+1, p.Name)
		case seen[p.Name]:
			return nil, fmt.Errorf("%w: part %d: %s is listed twice", ErrCorrupt, i+1, p.Name)
		case p.Size <= 0 || p.Size > idx.Size-sum:
			return nil, fmt.Errorf("%w: part %d: size %d does not fit the bundle's %d bytes", ErrCorrupt, i+1, p.Size, idx.Size)
		case !isHex64(p.SHA256):
			return nil, fmt.Errorf("%w: part %d: sha256 %q is not a hex sha256", ErrCorrupt, i+1, p.SHA256)
		}
		seen[p.Name] = true
		sum += p.Size
	}
	if sum != idx.Size {
		return nil, fmt.Errorf("%w: the parts hold %d bytes, the index says the bundle has %d", ErrCorrupt, sum, idx.Size)
	}
	return &idx, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// plainName reports whether s can only name a file in the directory it is
// joined to.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 255 && !strings.ContainsAny(s, "/\\\x00")
}

// SplitParts is one split bundle as a command line names it: the split
// index and where each of its parts is, in order.
type SplitParts struct {
	// Index is the split index.
	Index *SplitIndex
	// IndexPath is where it was read from.
	IndexPath string
	// Paths are the parts' paths, in the index's order.
	Paths []string
}

// SplitArgs is a list of bundle paths, as serve and verify take them, with
// the split indexes it names, or that lie beside the parts it names,
// resolved.
type SplitArgs struct {
	// Paths are the files to open, in order: each split index given is
	// replaced by its parts (or dropped, when its parts are named).
	Paths []string
	// Splits are the split bundles among them, in order.
	Splits []*SplitParts
	// Unindexed names the first part of each run of parts with no split
	// index, given or beside it.
	Unindexed []string
}

// FindSplits resolves the split indexes of a list of bundle paths. The
// list holds bundles (several: a base and its deltas), each one file or
// its parts in order, and split indexes (names ending in
// SplitIndexSuffix):
//
//   - a run of paths named as parts with one prefix (P.partNNN) is one
//     split bundle: its index is a split index given whose parts include
//     one of the run's names, else P.split.json beside its first part,
//     else none (Unindexed);
//   - a split index given whose parts are not named stands for its parts,
//     beside it, where it is in the list;
//   - anything else is a file as it is.
//
// Parts named with an index must all be named, once each and in order: a
// mistake there wraps ErrPartList, naming the parts left out; when a part
// left out is not beside the index either, ErrCorrupt. A damaged index
// wraps ErrCorrupt (ReadSplitIndex). FindSplits reads the indexes and
// stats the parts left out, nothing else; SplitParts.Check checks parts.
func FindSplits(paths []string) (*SplitArgs, error) {
	given := map[string]*SplitIndex{}
	var order []string // the indexes given, in order
	for _, p := range paths {
		if !strings.HasSuffix(p, SplitIndexSuffix) {
			continue
		}
		if given[p] != nil {
			return nil, fmt.Errorf("%w: %s is given twice", ErrPartList, p)
		}
		idx, err := ReadSplitIndex(p)
		if err != nil {
			return nil, err
		}
		given[p] = idx
		order = append(order, p)
	}
	// The runs of parts, each with its index.
	type run struct {
		start, end int
		index      string
	}
	var runs []run
	used := map[string]bool{}
	for i := 0; i < len(paths); {
		m := partRE.FindStringSubmatch(filepath.Base(paths[i]))
		if m == nil {
			i++
			continue
		}
		j := i + 1
		for j < len(paths) {
			n := partRE.FindStringSubmatch(filepath.Base(paths[j]))
			if n == nil || n[1] != m[1] {
				break
			}
			j++
		}
		ip := indexOfRun(paths[i:j], order, given)
		if ip == "" {
			if cand := SplitIndexFor(paths[i]); cand != "" {
				if st, err := os.Stat(cand); err == nil && st.Mode().IsRegular() {
					ip = cand
				}
			}
		}
		if ip != "" && used[ip] {
			return nil, fmt.Errorf("%w: the parts of %s are named in two places; name them all together, in order", ErrPartList, ip)
		}
		used[ip] = true
		runs = append(runs, run{i, j, ip})
		i = j
	}
	out := &SplitArgs{}
	for i := 0; i < len(paths); {
		p := paths[i]
		if idx := given[p]; idx != nil {
			i++
			if used[p] {
				continue
			}
			sp := &SplitParts{Index: idx, IndexPath: p}
			for _, e := range idx.Parts {
				sp.Paths = append(sp.Paths, filepath.Join(filepath.Dir(p), e.Name))
			}
			out.Splits = append(out.Splits, sp)
			out.Paths = append(out.Paths, sp.Paths...)
			continue
		}
		if len(runs) == 0 || runs[0].start != i {
			out.Paths = append(out.Paths, p)
			i++
			continue
		}
		r := runs[0]
		runs = runs[1:]
		i = r.end
		parts := paths[r.start:r.end]
		if r.index == "" {
			out.Unindexed = append(out.Unindexed, parts[0])
			out.Paths = append(out.Paths, parts...)
			continue
		}
		idx := given[r.index]
		if idx == nil {
			var err error
			if idx, err = ReadSplitIndex(r.index); err != nil {
				return nil, err
			}
		}
		sp, err := matchParts(parts, idx, r.index)
		if err != nil {
			return nil, err
		}
		out.Splits = append(out.Splits, sp)
		out.Paths = append(out.Paths, sp.Paths...)
	}
	return out, nil
}

// indexOfRun returns the split index given (order, given) that lists one
// of the run's names, or "".
func indexOfRun(run, order []string, given map[string]*SplitIndex) string {
	for _, ip := range order {
		for _, e := range given[ip].Parts {
			for _, p := range run {
				if filepath.Base(p) == e.Name {
					return ip
				}
			}
		}
	}
	return ""
}

// matchParts matches the parts named (by name) to the index at indexPath:
// every one named, once, in order.
func matchParts(parts []string, idx *SplitIndex, indexPath string) (*SplitParts, error) {
	s := &SplitParts{Index: idx, IndexPath: indexPath, Paths: make([]string, len(idx.Parts))}
	n := len(idx.Parts)
	pos := map[string]int{}
	for i, p := range idx.Parts {
		pos[p.Name] = i
	}
	last := -1
	for _, p := range parts {
		i, ok := pos[filepath.Base(p)]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: %s is not among the %d parts %s lists (%s); name them all, in order, or give %s alone",
				ErrPartList, p, n, indexPath, partRange(idx), indexPath)
		case s.Paths[i] != "":
			return nil, fmt.Errorf("%w: part %d of %d, %s, is named twice", ErrPartList, i+1, n, idx.Parts[i].Name)
		case i < last:
			return nil, fmt.Errorf("%w: part %d of %d, %s, is named after part %d, %s; name the parts in order (%s)",
				ErrPartList, i+1, n, idx.Parts[i].Name, last+1, idx.Parts[last].Name, partRange(idx))
		}
		s.Paths[i] = p
		last = i
	}
	var left, absent []string
	for i, p := range s.Paths {
		if p != "" {
			continue
		}
		desc := fmt.Sprintf("part %d of %d, %s", i+1, n, idx.Parts[i].Name)
		left = append(left, desc)
		if st, err := os.Stat(filepath.Join(filepath.Dir(indexPath), idx.Parts[i].Name)); err != nil || !st.Mode().IsRegular() {
			absent = append(absent, desc)
		}
	}
	switch {
	case len(absent) > 0:
		return nil, fmt.Errorf("%w: missing: %s (not named, and not beside %s either); copy it from the source medium, then name every part in order",
			ErrCorrupt, firstFew(absent, 5), indexPath)
	case len(left) > 0:
		return nil, fmt.Errorf("%w: %d of %d parts named; not named: %s. Name every part in order (%s), or give %s alone",
			ErrPartList, len(parts), n, firstFew(left, 5), partRange(idx), indexPath)
	}
	return s, nil
}

// firstFew joins up to n items with "; " and says how many more there are.
func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:n], "; "), len(items)-n)
}

// partRange is "P.part001 … P.part005", or the one part's name.
func partRange(idx *SplitIndex) string {
	if len(idx.Parts) == 1 {
		return idx.Parts[0].Name
	}
	return idx.Parts[0].Name + " … " + idx.Parts[len(idx.Parts)-1].Name
}

// PartProblem is a part that is missing, of the wrong size or damaged.
type PartProblem struct {
	// Part is the part's number, from 1; Of is how many there are.
	Part, Of int
	// Name is the part's name in the index; Path where it was read.
	Name, Path string
	// Msg says what is wrong and what to do.
	Msg string
}

func (p PartProblem) String() string {
	return fmt.Sprintf("part %d of %d, %s: %s", p.Part, p.Of, p.Name, p.Msg)
}

// CheckPartsOptions configures SplitParts.Check. The zero value works.
type CheckPartsOptions struct {
	// Progress, when set, is called with the bytes hashed since the last
	// call, from Check's goroutine.
	Progress func(delta int64)
}

// Check checks the parts against the index: first that each is there, a
// regular file, with the size the index gives (a stat each, no data
// read), then the sha256 of each part that passed, one part after another.
// It returns every problem found, in part order, so that one trip to the
// source medium fixes them all; the error is only for a cancelled ctx.
// Cost: one read of every part whose size is right.
func (s *SplitParts) Check(ctx context.Context, opts CheckPartsOptions) ([]PartProblem, error) {
	n := len(s.Index.Parts)
	bad := make([]*PartProblem, n)
	problem := func(i int, format string, args ...any) {
		bad[i] = &PartProblem{Part: i + 1, Of: n, Name: s.Index.Parts[i].Name, Path: s.Paths[i], Msg: fmt.Sprintf(format, args...)}
	}
	for i, want := range s.Index.Parts {
		st, err := os.Stat(s.Paths[i])
		switch {
		case errors.Is(err, os.ErrNotExist):
			problem(i, "missing (no file %s) — copy it from the source medium", s.Paths[i])
		case err != nil:
			problem(i, "%v — copy it again from the source medium", err)
		case !st.Mode().IsRegular():
			problem(i, "%s is not a regular file", s.Paths[i])
		case st.Size() < want.Size:
			problem(i, "cut short: %d bytes, the index says %d — copy it again from the source medium", st.Size(), want.Size)
		case st.Size() > want.Size:
			problem(i, "%d bytes, the index says %d (another bundle's part?) — copy it again from the source medium", st.Size(), want.Size)
		}
	}
	buf := make([]byte, splitChunk)
	for i, want := range s.Index.Parts {
		if bad[i] != nil {
			continue
		}
		got, err := hashFile(ctx, s.Paths[i], buf, opts.Progress)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch {
		case err != nil:
			problem(i, "unreadable: %v — copy it again from the source medium", err)
		case got != want.SHA256:
			problem(i, "sha256 mismatch (it hashes to %s, the index says %s) — copy it again from the source medium", got, want.SHA256)
		}
	}
	var out []PartProblem
	for _, p := range bad {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

func hashFile(ctx context.Context, path string, buf []byte, progress func(int64)) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		k, err := f.Read(buf)
		h.Write(buf[:k])
		off += int64(k)
		if progress != nil && k > 0 {
			progress(int64(k))
		}
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", fmt.Errorf("at byte %d: %w", off, err)
		}
	}
}

// CheckLock checks that the parts hold the bundle the index was written
// for: a whole tar whose paimirror.json hashes to the index's lockSha256.
// It reads the tar headers and the lock only. After Check found every
// part intact it fails only when the index was edited.
func (s *SplitParts) CheckLock() error {
	r, err := openParts(s.Paths)
	if err != nil {
		return err
	}
	defer r.Close()
	lock, err := readLock(r, r.size)
	if err != nil {
		return fmt.Errorf("the parts %s: %w", partRange(s.Index), err)
	}
	sum := sha256.Sum256(lock)
	if got := hex.EncodeToString(sum[:]); got != s.Index.LockSHA256 {
		return fmt.Errorf("%w: the parts hold a bundle whose %s hashes to sha256:%s, %s says sha256:%s: the index belongs to another bundle",
			ErrCorrupt, LockName, got, s.IndexPath, s.Index.LockSHA256)
	}
	return nil
}

// readLock returns the paimirror.json of the bundle tar in r (size
// bytes), which must be whole (its end marker present). It reads the tar
// headers and the lock only.
func readLock(r io.ReaderAt, size int64) ([]byte, error) {
	res, err := scanTar(r, size)
	if err != nil {
		return nil, err
	}
	if res.Torn != "" {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, res.Torn)
	}
	if !res.Finished {
		return nil, fmt.Errorf("%w: not a complete tar archive (no end marker); was the copy cut short, or is the build unfinished?", ErrCorrupt)
	}
	for _, e := range res.Entries {
		if e.Name != LockName {
			continue
		}
		if e.Size > 64<<20 {
			return nil, fmt.Errorf("%w: %s is %d bytes, too large for a lock", ErrCorrupt, LockName, e.Size)
		}
		buf := make([]byte, e.Size)
		if _, err := r.ReadAt(buf, e.DataOff); err != nil && !(err == io.EOF && int64(len(buf)) == e.Size) {
			return nil, fmt.Errorf("reading %s: %w", LockName, err)
		}
		return buf, nil
	}
	return nil, fmt.Errorf("%w: %s is missing: not a bundle", ErrCorrupt, LockName)
}
