package fetch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/opencontainers/go-digest"
	"math"
	"os"
)

// unknownEnd is a segment's End while the blob's size is unknown.
const unknownEnd = math.MaxInt64

// segment is a range [Start, End) of a blob of which [Start, Pos) is in the
// part file. The segments of a blob tile [0, size) in order.
type segment struct {
	Start, End, Pos int64
	owner           int  // worker id, -1 for none
	whole           bool // its connection reads a response to the blob's end
}

func (s *segment) left() int64 { return s.End - s.Pos }

// state is <key>.state: what the part file holds.
type state struct {
	Digest       digest.Digest `json:"digest,omitempty"`
	Item         string        `json:"item,omitempty"`
	Size         int64         `json:"size"`
	ETag         string        `json:"etag,omitempty"`
	LastModified string        `json:"lastModified,omitempty"`
	Place        string        `json:"place,omitempty"` // Part.ID, "" for the part file
	Segments     [][3]int64    `json:"segments"`        // start, end, pos
}

// have returns the bytes the state says are in the part file.
func (s *state) have() int64 {
	var n int64
	for _, g := range s.Segments {
		n += g[2] - g[0]
	}
	return n
}

// valid reports whether the segments tile [0, Size) with every position
// inside its segment, within a part file of partSize bytes.
func (s *state) valid(partSize int64) bool {
	if s.Size < 0 || len(s.Segments) == 0 {
		return false
	}
	var at int64
	for _, g := range s.Segments {
		if g[0] != at || g[1] <= g[0] || g[2] < g[0] || g[2] > g[1] || g[2] > partSize {
			return false
		}
		at = g[1]
	}
	return at == s.Size
}

func readState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st state
	// The file is rewritten in place and padded with spaces: the first
	// JSON value is the state.
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

// stateFile rewrites <key>.state in place (made at the first save): one
// write per save, padded to
// the longest state written so far, so a killed process leaves either the
// old state or the new one.
type stateFile struct {
	path string
	f    *os.File // opened at the first save
	max  int
}

func (s *stateFile) save(st *state) error {
	if s.f == nil {
		f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		s.f = f
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if len(data) < s.max {
		data = append(data, bytes.Repeat([]byte{' '}, s.max-len(data))...)
	}
	s.max = len(data)
	_, err = s.f.WriteAt(data, 0)
	return err
}
