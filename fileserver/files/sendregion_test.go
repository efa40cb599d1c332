package files

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fileTaker records what ReadFrom was handed, as net/http's response (which
// sends an *os.File with sendfile) would see it.
type fileTaker struct {
	bytes.Buffer
	gotFile bool
}

func (f *fileTaker) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		_, f.gotFile = lr.R.(*os.File)
	}
	return f.Buffer.ReadFrom(src)
}

// TestSendRegion checks that a file's region goes out as an *os.File (so
// the kernel can send it), from the position ServeContent sought to, with
// exactly the bytes asked for; and that other readers are copied as usual.
func TestSendRegion(t *testing.T) {
	data := []byte("HEADERxxxxxxxx0123456789abcdefTRAILER")
	path := filepath.Join(t.TempDir(), "bundle")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	blob := io.NewSectionReader(f, 14, 16) // "0123456789abcdef"
	rl := &readLogger{r: blob, file: f, base: 14, onErr: func(err error) { t.Error(err) }}
	rl.Seek(4, io.SeekStart) // a Range starting at byte 4 of the blob
	dst := &fileTaker{}
	n, err := SendRegion(dst, &io.LimitedReader{R: rl, N: 6})
	if err != nil || n != 6 || dst.String() != "456789" || !dst.gotFile {
		t.Fatalf("sent %d %q (as a file: %v), err %v", n, dst.String(), dst.gotFile, err)
	}
	if pos, _ := rl.Seek(0, io.SeekCurrent); pos != 10 {
		t.Errorf("the content reader is at %d after sending, want 10", pos)
	}
	// Another file renamed over the path: the region is still the open one's.
	other := filepath.Join(filepath.Dir(path), "other")
	if err := os.WriteFile(other, bytes.Repeat([]byte("X"), len(data)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	rl.Seek(0, io.SeekStart)
	again := &fileTaker{}
	if n, err := SendRegion(again, &io.LimitedReader{R: rl, N: 16}); err != nil || n != 16 || again.String() != "0123456789abcdef" {
		t.Errorf("after a rename over the path: sent %d %q, err %v", n, again.String(), err)
	}
	// Without a region, or to a writer that cannot take a file: a copy.
	plain := &fileTaker{}
	rl2 := &readLogger{r: io.NewSectionReader(f, 14, 16), onErr: func(error) {}}
	if n, err := SendRegion(plain, &io.LimitedReader{R: rl2, N: 16}); err != nil || n != 16 || plain.gotFile || plain.String() != "0123456789abcdef" {
		t.Errorf("plain copy: %d %q %v %v", n, plain.String(), plain.gotFile, err)
	}
}
