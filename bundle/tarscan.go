package bundle

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// entry is one member of the bundle's tar: where its header starts and where
// its data lies.
type entry struct {
	Name      string
	Typeflag  byte
	HeaderOff int64
	DataOff   int64
	Size      int64
}

// end returns the offset just past the entry's data padding.
func (e entry) end() int64 { return e.DataOff + roundBlock(e.Size) }

func roundBlock(n int64) int64 { return (n + 511) &^ 511 }

var blobNameRE = regexp.MustCompile(`^blobs/sha256/[0-9a-f]{64}$`)

// blobDigest returns the digest a tar member name stands for, or "".
func blobDigest(name string) digest.Digest {
	if blobNameRE.MatchString(name) {
		return digest.NewDigestFromEncoded(digest.SHA256, strings.TrimPrefix(name, blobDir))
	}
	return ""
}

// scanResult is what scanning a tar's headers found.
type scanResult struct {
	Entries []entry
	// End is the offset just past the last complete entry.
	End int64
	// Finished reports whether the end-of-archive marker was seen.
	Finished bool
	// Torn describes why scanning stopped early, if it did.
	Torn string
}

// scanTar reads the tar headers of r (size bytes) without reading member
// data. It stops at the first header or member that does not fit in size and
// says so in Torn; callers decide whether that is damage (Open) or a torn
// last write to drop (resume).
func scanTar(r io.ReaderAt, size int64) (scanResult, error) {
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	var res scanResult
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// archive/tar also ends quietly at a bare end of file; a whole
			// archive has its two zero blocks after the last member.
			res.Finished = size-res.End >= 2*512
			return res, nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			res.Torn = fmt.Sprintf("the tar header at offset %d is cut short (the file ends at %d)", res.End, size)
			return res, nil
		}
		if err != nil {
			res.Torn = fmt.Sprintf("unreadable tar header at offset %d: %v", res.End, err)
			return res, nil
		}
		dataOff, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return res, err
		}
		e := entry{Name: hdr.Name, Typeflag: hdr.Typeflag, HeaderOff: res.End, DataOff: dataOff, Size: hdr.Size}
		if e.end() > size {
			res.Torn = fmt.Sprintf("entry %q at offset %d is cut short (needs %d bytes, file has %d)", e.Name, e.HeaderOff, e.end(), size)
			return res, nil
		}
		res.Entries = append(res.Entries, e)
		res.End = e.end()
	}
}

// partsReader presents several files as one, in order: a bundle split into
// parts for removable media reads as the concatenation of its parts.
type partsReader struct {
	files []*os.File
	names []string
	offs  []int64 // start offset of each part
	size  int64
}

func openParts(paths []string) (*partsReader, error) {
	p := &partsReader{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			p.Close()
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("opening bundle: %s does not exist", path)
			}
			return nil, fmt.Errorf("opening bundle: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			p.Close()
			return nil, fmt.Errorf("opening bundle: %w", err)
		}
		if !st.Mode().IsRegular() {
			f.Close()
			p.Close()
			return nil, fmt.Errorf("opening bundle: %s is not a regular file", path)
		}
		p.files = append(p.files, f)
		p.names = append(p.names, path)
		p.offs = append(p.offs, p.size)
		p.size += st.Size()
	}
	return p, nil
}

// ReadAt implements io.ReaderAt across part boundaries.
func (p *partsReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(b) {
		if off >= p.size {
			return n, io.EOF
		}
		i := len(p.offs) - 1
		for i > 0 && p.offs[i] > off {
			i--
		}
		partEnd := p.size
		if i+1 < len(p.offs) {
			partEnd = p.offs[i+1]
		}
		want := b[n:]
		if int64(len(want)) > partEnd-off {
			want = want[:partEnd-off]
		}
		m, err := p.files[i].ReadAt(want, off-p.offs[i])
		n += m
		off += int64(m)
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		if m < len(want) {
			return n, io.ErrUnexpectedEOF
		}
	}
	return n, nil
}

func (p *partsReader) Close() error {
	var first error
	for _, f := range p.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
