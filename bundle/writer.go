package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// partialWriter appends verified blobs to <out>.partial, one complete tar
// member at a time, so that a killed build leaves a file that can be resumed:
// every member before the last is whole, and a torn last member is dropped
// on resume.
type partialWriter struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	end     int64                   // offset just past the last whole member
	have    map[digest.Digest]int64 // digest -> size of blobs already in the tar
	journal *os.File
	tmpDir  string
	// blobsDir holds the engine's unfinished downloads (fetch.Options.Dir):
	// kept by close, for the next run to continue them.
	blobsDir string
	// slots are blob members reserved for downloads written in place,
	// not verified yet.
	slots map[digest.Digest]*slot
	// orphans are slots no download will fill: Finish leaves them out.
	orphans []*slot
	// base maps the digest of each blob a delta's base holds to its size
	// (nil for a whole bundle): such blobs count as stored and are never
	// written; finish leaves out any an earlier run stored.
	base map[digest.Digest]int64
}

// slot is a blob's member reserved in the partial tar: its header is
// written and the file extended over its data, which a download writes in
// place (it is the fetch.Part of the blob). Until Commit it is not a
// stored blob: a resumed build finds it does not hash to its name and
// continues the download into it.
type slot struct {
	w                     *partialWriter
	digest                digest.Digest
	hdrOff, dataOff, size int64
	unflushed             atomic.Int64
}

func (s *slot) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > s.size {
		return 0, fmt.Errorf("read at %d outside blob %s of %d bytes", off, s.digest, s.size)
	}
	if rest := s.size - off; int64(len(p)) > rest {
		n, err := s.w.f.ReadAt(p[:rest], s.dataOff+off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return s.w.f.ReadAt(p, s.dataOff+off)
}

func (s *slot) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > s.size {
		return 0, fmt.Errorf("write of %d bytes at %d outside blob %s of %d bytes", len(p), off, s.digest, s.size)
	}
	n, err := s.w.f.WriteAt(p, s.dataOff+off)
	// Start writing out every few MiB, so the sync that ends the build
	// finds little left.
	if s.unflushed.Add(int64(n)) >= writebackEvery {
		s.unflushed.Store(0)
		startWriteback(s.w.f, s.dataOff, s.size)
	}
	return n, err
}

// writebackEvery is how many bytes written in place start the writeback
// of their blob's member.
const writebackEvery = 8 << 20

// ID names the slot by where its data starts.
func (s *slot) ID() string { return fmt.Sprintf("%s@%d", filepath.Base(s.w.path), s.dataOff) }

// Commit makes the slot a stored blob.
func (s *slot) Commit(d digest.Digest) error {
	if d != s.digest {
		return fmt.Errorf("blob %s committed as %s", s.digest, d)
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.storedLocked(s)
	return nil
}

// storedLocked makes a filled slot a stored blob and starts its writeback.
// Callers hold w.mu.
func (w *partialWriter) storedLocked(s *slot) {
	w.have[s.digest] = s.size
	delete(w.slots, s.digest)
	startWriteback(w.f, s.hdrOff, s.dataOff+roundBlock(s.size)-s.hdrOff)
}

// blobHeader is the tar header of a blob's member.
func blobHeader(d digest.Digest, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: blobDir + d.Encoded(), Size: size, Mode: 0o644}
}

// headerBlocks encodes hdr as the bundle writes every member's header (PAX,
// time 0): the header blocks, and any PAX record, without data.
func headerBlocks(hdr *tar.Header) ([]byte, error) {
	hdr.ModTime = time.Unix(0, 0)
	hdr.Format = tar.FormatPAX
	var hb bytes.Buffer
	if err := tar.NewWriter(&hb).WriteHeader(hdr); err != nil {
		return nil, err
	}
	return hb.Bytes(), nil
}

// place returns the slot for a blob of size bytes: the one an earlier run
// reserved, or a new member at the end of the tar. It returns nil for a
// blob already stored (or held by the base).
func (w *partialWriter) place(d digest.Digest, size int64) (*slot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.heldLocked(d) {
		return nil, nil
	}
	if s := w.slots[d]; s != nil {
		if s.size == size {
			return s, nil
		}
		// Reserved for another size (the manifest changed): a new one;
		// the old is dropped when the build finishes.
		delete(w.slots, d)
		w.orphans = append(w.orphans, s)
	}
	hb, err := headerBlocks(blobHeader(d, size))
	if err != nil {
		return nil, err
	}
	start := w.end
	dataOff := start + int64(len(hb))
	end := dataOff + roundBlock(size)
	if _, err := w.f.WriteAt(hb, start); err != nil {
		w.f.Truncate(start)
		return nil, fmt.Errorf("writing %s: %w", w.path, err)
	}
	if err := w.f.Truncate(end); err != nil {
		w.f.Truncate(start)
		return nil, fmt.Errorf("writing %s: %w", w.path, err)
	}
	w.end = end
	s := &slot{w: w, digest: d, hdrOff: start, dataOff: dataOff, size: size}
	w.slots[d] = s
	return s, nil
}

// journalRecord is one line of <out>.partial.journal: an image or unpinned
// file whose every blob is already in the partial tar, a python file stored
// with the URL it came from, or a python section's resolution (kept
// whether or not its files are stored yet), so a resumed build need not ask
// the network about them again.
type journalRecord struct {
	Key        string      `json:"key"`
	Image      *Image      `json:"image,omitempty"`
	File       *File       `json:"file,omitempty"`
	Python     *Python     `json:"python,omitempty"`
	PythonFile *PythonFile `json:"pythonFile,omitempty"`
	Apt        *Apt        `json:"apt,omitempty"`
	AptFile    *AptFile    `json:"aptFile,omitempty"`
}

type resumeInfo struct {
	Blobs   int
	Bytes   int64
	Dropped string // why a torn or damaged tail was dropped, if one was
}

// openPartial opens or creates <out>.partial. An existing one is scanned:
// each blob in it is hashed again (a blob that does not match ends the
// usable prefix), metadata entries and a torn tail are cut off. base, for
// a delta, maps the blobs its base holds to their sizes (see
// partialWriter.base).
func openPartial(out string, base map[digest.Digest]int64) (*partialWriter, map[string]journalRecord, resumeInfo, error) {
	var info resumeInfo
	path := out + ".partial"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, info, fmt.Errorf("opening %s: %w", path, err)
	}
	w := &partialWriter{path: path, f: f, have: map[digest.Digest]int64{}, slots: map[digest.Digest]*slot{}, base: base}
	fail := func(err error) (*partialWriter, map[string]journalRecord, resumeInfo, error) {
		f.Close()
		return nil, nil, info, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	keep := int64(0)
	if st.Size() > 0 {
		res, err := scanTar(f, st.Size())
		if err != nil {
			return fail(fmt.Errorf("reading %s: %w", path, err))
		}
		keep = res.End
		if res.Torn != "" {
			info.Dropped = res.Torn
		}
	scan:
		for _, e := range res.Entries {
			switch {
			case e.Typeflag == tar.TypeDir && (e.Name == "blobs/" || e.Name == blobDir):
				continue
			case e.Typeflag == tar.TypeReg && blobDigest(e.Name) != "":
				d := blobDigest(e.Name)
				if _, dup := w.have[d]; dup || w.slots[d] != nil {
					keep, info.Dropped = e.HeaderOff, fmt.Sprintf("blob %s is in the partial file twice", d)
					break scan
				}
				if err := hashSection(f, e, d); err != nil {
					// A member reserved for a download that had not
					// finished (or was damaged): the download continues
					// into it, or starts it over.
					w.slots[d] = &slot{w: w, digest: d, hdrOff: e.HeaderOff, dataOff: e.DataOff, size: e.Size}
					continue
				}
				w.have[d] = e.Size
				info.Blobs++
				info.Bytes += e.Size
			default:
				// Metadata goes in last; an interrupted finish is redone.
				keep = e.HeaderOff
				break scan
			}
		}
	}
	if err := f.Truncate(keep); err != nil {
		return fail(fmt.Errorf("truncating %s: %w", path, err))
	}
	w.end = keep
	if keep == 0 {
		for _, d := range []string{"blobs/", blobDir} {
			if err := w.writeMember(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil); err != nil {
				return fail(err)
			}
		}
	}
	records, err := w.openJournal()
	if err != nil {
		return fail(err)
	}
	w.blobsDir = path + ".d"
	w.tmpDir = path + ".tmp"
	if err := os.RemoveAll(w.tmpDir); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(w.tmpDir, 0o755); err != nil {
		return fail(err)
	}
	return w, records, info, nil
}

func hashSection(r io.ReaderAt, e entry, want digest.Digest) error {
	got, err := digest.SHA256.FromReader(io.NewSectionReader(r, e.DataOff, e.Size))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("blob %s in the partial file hashes to %s", want, got)
	}
	return nil
}

// openJournal reads the records whose blobs are all present and reopens the
// journal for appending.
func (w *partialWriter) openJournal() (map[string]journalRecord, error) {
	path := w.path + ".journal"
	records := map[string]journalRecord{}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var rec journalRecord
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Key == "" {
			continue // a torn last line
		}
		if !w.recordComplete(rec) {
			continue
		}
		records[rec.Key] = rec
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	if err := os.WriteFile(path, kept.Bytes(), 0o644); err != nil {
		return nil, err
	}
	w.journal, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	return records, err
}

func (w *partialWriter) recordComplete(rec journalRecord) bool {
	switch {
	case rec.Image != nil:
		if !w.heldLocked(rec.Image.Digest) {
			return false
		}
		for _, b := range rec.Image.Blobs() {
			if !w.heldLocked(b.Digest) {
				return false
			}
		}
		return true
	case rec.File != nil:
		return w.heldLocked(rec.File.Digest())
	case rec.PythonFile != nil:
		return w.heldLocked(rec.PythonFile.Digest())
	case rec.Python != nil:
		// A resolution names its files; those not stored yet are fetched.
		return true
	case rec.AptFile != nil:
		return w.heldLocked(rec.AptFile.Digest())
	case rec.Apt != nil:
		// The metadata and keys are read back for a resumed build; the
		// .deb files not stored yet are fetched.
		for _, k := range rec.Apt.Keys {
			if !w.heldLocked(k.Digest()) {
				return false
			}
		}
		for _, r := range rec.Apt.Repositories {
			for _, f := range r.Files {
				if !w.heldLocked(f.Digest()) && f.Package == "" {
					return false
				}
			}
		}
		return true
	}
	return false
}

func (w *partialWriter) record(rec journalRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.journal.Write(append(data, '\n'))
	return err
}

// has reports whether a blob is already stored, or held by the base.
func (w *partialWriter) has(d digest.Digest) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.heldLocked(d)
}

// heldLocked reports whether a blob is stored or held by the base. Callers
// hold w.mu (or own w exclusively).
func (w *partialWriter) heldLocked(d digest.Digest) bool {
	if _, ok := w.have[d]; ok {
		return true
	}
	_, ok := w.base[d]
	return ok
}

// inBase reports whether a delta's base holds a blob.
func (w *partialWriter) inBase(d digest.Digest) bool {
	_, ok := w.base[d]
	return ok
}

// add appends a verified blob of size bytes read from r as one tar member.
// A blob already present, or held by the base, is not written.
func (w *partialWriter) add(d digest.Digest, size int64, r io.Reader) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.heldLocked(d) {
		return nil
	}
	if s := w.slots[d]; s != nil && s.size == size {
		// Reserved already (a download of it stopped): fill it.
		n, err := io.Copy(io.NewOffsetWriter(w.f, s.dataOff), io.LimitReader(r, size))
		if err == nil && n != size {
			err = fmt.Errorf("got %d bytes, want %d", n, size)
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", w.path, err)
		}
		w.storedLocked(s)
		return nil
	}
	if err := w.writeMember(blobHeader(d, size), r); err != nil {
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	w.have[d] = size
	return nil
}

// writeMember appends header, hdr.Size bytes of r and the padding to a
// whole block, directly to the file: from a temporary *os.File the kernel
// copies the data (copy_file_range) without passing it through user space.
// On failure the file is cut back to where the member began, so the tar
// stays whole. Callers hold w.mu (or own w exclusively).
func (w *partialWriter) writeMember(hdr *tar.Header, r io.Reader) error {
	hb, err := headerBlocks(hdr)
	if err != nil {
		return err
	}
	start := w.end
	err = func() error {
		if _, err := w.f.WriteAt(hb, start); err != nil {
			return err
		}
		off := start + int64(len(hb))
		if hdr.Size > 0 {
			if _, err := w.f.Seek(off, io.SeekStart); err != nil {
				return err
			}
			n, err := io.Copy(w.f, io.LimitReader(r, hdr.Size))
			if err != nil {
				return err
			}
			if n != hdr.Size {
				return fmt.Errorf("member %s: got %d bytes, want %d", hdr.Name, n, hdr.Size)
			}
		}
		if pad := roundBlock(hdr.Size) - hdr.Size; pad > 0 {
			if _, err := w.f.WriteAt(make([]byte, pad), off+hdr.Size); err != nil {
				return err
			}
		}
		w.end = off + roundBlock(hdr.Size)
		if hdr.Size >= 1<<20 {
			startWriteback(w.f, start, w.end-start)
		}
		return nil
	}()
	if err != nil {
		w.f.Truncate(start)
		w.end = start
	}
	return err
}

// finish appends the metadata members, ends the archive, syncs it and
// renames the partial file to out.
func (w *partialWriter) finish(out string, meta []namedData) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.compact(); err != nil {
		return fmt.Errorf("leaving unused blobs out of %s: %w", w.path, err)
	}
	for _, m := range meta {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o644}
		if err := w.writeMember(hdr, bytes.NewReader(m.data)); err != nil {
			return fmt.Errorf("writing %s: %w", w.path, err)
		}
	}
	// The end-of-archive marker: two zero blocks.
	if _, err := w.f.WriteAt(make([]byte, 2*512), w.end); err != nil {
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(w.path, out); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", w.path, out, err)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	w.journal.Close()
	os.Remove(w.path + ".journal")
	os.RemoveAll(w.blobsDir)
	return os.RemoveAll(w.tmpDir)
}

// compact rewrites the partial file without the slots no download
// filled (reserved by an earlier run for a blob this one did not need, or
// for another size), and, in a delta, without the blobs its base holds
// that an earlier run stored, so the bundle holds only verified blobs, and
// a delta only what its base lacks. It is rare: a rerun after the
// manifest, the groups or the base changed. Callers hold w.mu.
func (w *partialWriter) compact() error {
	drop := map[int64]bool{}
	for _, s := range w.slots {
		drop[s.hdrOff] = true
	}
	for _, s := range w.orphans {
		drop[s.hdrOff] = true
	}
	inBase := false
	for d := range w.have {
		if _, ok := w.base[d]; ok {
			inBase = true
			break
		}
	}
	if len(drop) == 0 && !inBase {
		return nil
	}
	res, err := scanTar(w.f, w.end)
	if err != nil {
		return err
	}
	for _, e := range res.Entries {
		if d := blobDigest(e.Name); d != "" && w.inBase(d) {
			drop[e.HeaderOff] = true
		}
	}
	tmp := w.path + ".compact"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	var off int64
	for _, e := range res.Entries {
		if drop[e.HeaderOff] {
			continue
		}
		n := e.end() - e.HeaderOff
		if _, err := io.Copy(io.NewOffsetWriter(nf, off), io.NewSectionReader(w.f, e.HeaderOff, n)); err != nil {
			nf.Close()
			os.Remove(tmp)
			return err
		}
		off += n
	}
	if err := os.Rename(tmp, w.path); err != nil {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	w.f.Close()
	w.f, w.end = nf, off
	w.slots, w.orphans = map[digest.Digest]*slot{}, nil
	for d := range w.have {
		if w.inBase(d) {
			delete(w.have, d)
		}
	}
	return nil
}

// close leaves the partial file in place for a later resume.
func (w *partialWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
	w.journal.Close()
	os.RemoveAll(w.tmpDir)
}

type namedData struct {
	name string
	data []byte
}

// size returns the stored size of a blob (or the base's).
func (w *partialWriter) size(d digest.Digest) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n, ok := w.have[d]; ok {
		return n
	}
	return w.base[d]
}
