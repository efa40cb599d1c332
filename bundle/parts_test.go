package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// splitFixture builds the small manifest into a directory of its own and
// returns the bundle's path and bytes.
func splitFixture(t *testing.T) (string, []byte) {
	t.Helper()
	m, err := manifests.Parse("small.yaml", []byte(bundletest.SmallManifest))
	if err != nil {
		t.Fatal(err)
	}
	_, path := bundletest.Build(t, m, bundletest.Options{})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// copyBundle copies data to a new directory as name and returns its path.
func copyBundle(t *testing.T, data []byte, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func concat(t *testing.T, paths []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(data)
	}
	return buf.Bytes()
}

// TestSplitConcatenatesToBundle splits a bundle at sizes that cut tar
// headers, member data and the end marker, and one part: the parts
// concatenate to the bundle byte for byte, the index describes them, Open
// reads them as the bundle, and Verify finds it intact.
func TestSplitConcatenatesToBundle(t *testing.T) {
	_, data := splitFixture(t)
	size := int64(len(data))
	lockSum := func() string {
		b, err := bundle.Open(copyBundle(t, data, "x.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := sha256.Sum256(b.LockBytes())
		return hex.EncodeToString(s[:])
	}()
	for _, tc := range []struct {
		name     string
		partSize int64
		parts    int
	}{
		{"parts smaller than a tar block", 511, int((size + 510) / 511)},
		{"odd size", 7777, int((size + 7776) / 7777)},
		{"one byte short of the bundle", size - 1, 2},
		{"the bundle's size", size, 1},
		{"larger than the bundle", size * 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := copyBundle(t, data, "openpai.tar")
			var progress int64
			res, err := bundle.Split(context.Background(), path, bundle.SplitOptions{PartSize: tc.partSize, Progress: func(n int64) { progress += n }})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Parts) != tc.parts {
				t.Fatalf("%d parts, want %d", len(res.Parts), tc.parts)
			}
			if got := concat(t, res.Parts); !bytes.Equal(got, data) {
				t.Fatalf("the parts concatenate to %d bytes that differ from the bundle's %d", len(got), len(data))
			}
			if progress != size {
				t.Errorf("progress reported %d bytes, want %d", progress, size)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("the bundle was not kept: %v", err)
			}
			width := max(3, len(strconv.Itoa(tc.parts)))
			idx := res.Index
			if res.IndexPath != path+".split.json" || idx.Bundle != "openpai.tar" || idx.Size != size || idx.PartSize != tc.partSize ||
				idx.FormatVersion != 1 || idx.LockSHA256 != lockSum || len(idx.Parts) != tc.parts {
				t.Errorf("index %s: %+v", res.IndexPath, idx)
			}
			for i, p := range res.Parts {
				want := bundle.PartName(path, i+1, tc.parts)
				if p != want || len(filepath.Base(p)) != len("openpai.tar.part")+width {
					t.Errorf("part %d is %s, want %s", i+1, p, want)
				}
				part, _ := os.ReadFile(p)
				s := sha256.Sum256(part)
				e := idx.Parts[i]
				if e.Name != filepath.Base(p) || e.Size != int64(len(part)) || e.SHA256 != hex.EncodeToString(s[:]) {
					t.Errorf("index entry %d %+v does not describe %s (%d bytes)", i+1, e, p, len(part))
				}
				if i < len(res.Parts)-1 && e.Size != tc.partSize {
					t.Errorf("part %d has %d bytes, want %d", i+1, e.Size, tc.partSize)
				}
			}
			// What was written is what is read back.
			read, err := bundle.ReadSplitIndex(res.IndexPath)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := mustJSON(t, read), mustJSON(t, idx); a != b {
				t.Errorf("index read back differs:\n%s\nwant\n%s", a, b)
			}
			if leftovers, _ := filepath.Glob(path + "*.partial"); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}

			args, err := bundle.FindSplits([]string{res.IndexPath})
			if err != nil || len(args.Splits) != 1 || strings.Join(args.Paths, " ") != strings.Join(res.Parts, " ") {
				t.Fatalf("FindSplits(index): %+v, %v", args, err)
			}
			sp := args.Splits[0]
			if probs, err := sp.Check(context.Background(), bundle.CheckPartsOptions{}); err != nil || len(probs) > 0 {
				t.Fatalf("Check: %v %v", probs, err)
			}
			if err := sp.CheckLock(); err != nil {
				t.Error(err)
			}
			b, err := bundle.Open(args.Paths...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
			if err != nil || !rep.OK() {
				t.Fatalf("verify of the parts: %v %v", rep.Problems, err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPartName(t *testing.T) {
	for _, tc := range []struct {
		i, n int
		want string
	}{
		{1, 1, "b.tar.part001"},
		{5, 5, "b.tar.part005"},
		{999, 999, "b.tar.part999"},
		{1, 1000, "b.tar.part0001"},
		{1000, 1000, "b.tar.part1000"},
	} {
		if got := bundle.PartName("b.tar", tc.i, tc.n); got != tc.want {
			t.Errorf("PartName(%d, %d) = %s, want %s", tc.i, tc.n, got, tc.want)
		}
	}
	if got := bundle.SplitIndexFor(filepath.Join("d", "b.tar.part012")); got != filepath.Join("d", "b.tar.split.json") {
		t.Errorf("SplitIndexFor = %q", got)
	}
	for _, p := range []string{"b.tar", "b.tar.part01", "b.tar.partial", "b.tar.part001.partial"} {
		if got := bundle.SplitIndexFor(p); got != "" {
			t.Errorf("SplitIndexFor(%s) = %q, want none", p, got)
		}
	}
}

// splitParts splits a copy of data named openpai.tar into parts of
// partSize and returns the result.
func splitParts(t *testing.T, data []byte, partSize int64) *bundle.SplitResult {
	t.Helper()
	return splitAs(t, data, "openpai.tar", partSize)
}

// splitAs splits a copy of data named name into parts of partSize.
func splitAs(t *testing.T, data []byte, name string, partSize int64) *bundle.SplitResult {
	t.Helper()
	res, err := bundle.Split(context.Background(), copyBundle(t, data, name), bundle.SplitOptions{PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCheckNamesDamagedPart damages parts in each way media do and checks
// that Check names each damaged part, and only those, in order.
func TestCheckNamesDamagedPart(t *testing.T) {
	_, data := splitFixture(t)
	res := splitParts(t, data, int64(len(data)/5+1))
	if len(res.Parts) != 5 {
		t.Fatalf("%d parts, want 5", len(res.Parts))
	}
	// Part 2 cut short, part 3 one byte flipped, part 4 gone, part 5 too long.
	p := res.Parts
	st, _ := os.Stat(p[1])
	os.Truncate(p[1], st.Size()-10)
	b3, _ := os.ReadFile(p[2])
	b3[len(b3)/2] ^= 0x01
	os.WriteFile(p[2], b3, 0o644)
	os.Remove(p[3])
	f, _ := os.OpenFile(p[4], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("x"))
	f.Close()

	args, err := bundle.FindSplits([]string{res.IndexPath})
	if err != nil {
		t.Fatal(err)
	}
	probs, err := args.Splits[0].Check(context.Background(), bundle.CheckPartsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"part 2 of 5, openpai.tar.part002: cut short: ",
		"part 3 of 5, openpai.tar.part003: sha256 mismatch (it hashes to ",
		"part 4 of 5, openpai.tar.part004: missing (no file " + p[3] + ") — copy it from the source medium",
		"part 5 of 5, openpai.tar.part005: ",
	}
	if len(probs) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(probs), len(want), probs)
	}
	for i, w := range want {
		if s := probs[i].String(); !strings.HasPrefix(s, w) || !strings.Contains(s, "source medium") {
			t.Errorf("problem %d: %q, want it to start %q and say what to do", i+1, s, w)
		}
	}
	if probs[1].Part != 3 || probs[1].Of != 5 || probs[1].Path != p[2] {
		t.Errorf("problem fields: %+v", probs[1])
	}
}

// TestFindSplits checks how a list of paths is matched to split indexes.
func TestFindSplits(t *testing.T) {
	_, data := splitFixture(t)
	res := splitParts(t, data, int64(len(data)/3+1))
	p, ip := res.Parts, res.IndexPath
	if len(p) != 3 {
		t.Fatalf("%d parts", len(p))
	}
	dir := filepath.Dir(ip)
	other := splitAs(t, data, "delta.tar", int64(len(data)/2+1))
	renamed := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	for i := range p {
		copyFileT(t, p[i], renamed[i])
	}
	delta := filepath.Join(dir, "delta.tar")
	single := filepath.Join(dir, "openpai.tar")
	for _, tc := range []struct {
		name      string
		args      []string
		paths     []string
		indexes   []string
		unindexed []string
		isErr     error
		msg       string
	}{
		{name: "the index alone", args: []string{ip}, paths: p, indexes: []string{ip}},
		{name: "every part, the index beside", args: p, paths: p, indexes: []string{ip}},
		{name: "parts, then the index", args: []string{p[0], p[1], p[2], ip}, paths: p, indexes: []string{ip}},
		{name: "the index, then parts", args: []string{ip, p[0], p[1], p[2]}, paths: p, indexes: []string{ip}},
		{name: "a single bundle file", args: []string{single}, paths: []string{single}},
		{name: "renamed parts", args: renamed, paths: renamed},
		{name: "a split base and a delta", args: []string{p[0], p[1], p[2], delta}, paths: []string{p[0], p[1], p[2], delta}, indexes: []string{ip}},
		{name: "a base's index and a delta", args: []string{ip, delta}, paths: []string{p[0], p[1], p[2], delta}, indexes: []string{ip}},
		{name: "a base and a split delta, by indexes", args: []string{single, other.IndexPath, ip}, paths: append(append([]string{single}, other.Parts...), p...), indexes: []string{other.IndexPath, ip}},
		{name: "two runs, each with its index beside", args: append(append([]string{}, other.Parts...), p...), paths: append(append([]string{}, other.Parts...), p...), indexes: []string{other.IndexPath, ip}},
		{name: "parts with no index", args: []string{filepath.Join(t.TempDir(), "x.part001"), delta}, paths: []string{"x.part001", delta}, unindexed: []string{"x.part001"}},
		{name: "a part left out", args: []string{p[0], p[2]}, isErr: bundle.ErrPartList,
			msg: "2 of 3 parts named; not named: part 2 of 3, openpai.tar.part002. Name every part in order (openpai.tar.part001 … openpai.tar.part003), or give " + ip + " alone"},
		{name: "the first part only", args: []string{p[0]}, isErr: bundle.ErrPartList, msg: "1 of 3 parts named; not named: part 2 of 3, openpai.tar.part002; part 3 of 3, openpai.tar.part003."},
		{name: "out of order", args: []string{p[1], p[0], p[2]}, isErr: bundle.ErrPartList,
			msg: "part 1 of 3, openpai.tar.part001, is named after part 2, openpai.tar.part002; name the parts in order"},
		{name: "twice", args: []string{p[0], p[0], p[1], p[2]}, isErr: bundle.ErrPartList, msg: "part 1 of 3, openpai.tar.part001, is named twice"},
		{name: "in two places", args: []string{p[0], delta, p[1], p[2]}, isErr: bundle.ErrPartList, msg: "the parts of " + ip + " are named in two places"},
		{name: "the index twice", args: []string{ip, ip}, isErr: bundle.ErrPartList, msg: "is given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, err := bundle.FindSplits(tc.args)
			if tc.isErr != nil {
				if !errors.Is(err, tc.isErr) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %v, want %v with %q", err, tc.isErr, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var indexes []string
			for _, sp := range sa.Splits {
				indexes = append(indexes, sp.IndexPath)
			}
			base := func(ps []string) string {
				var out []string
				for _, p := range ps {
					out = append(out, filepath.Base(p))
				}
				return strings.Join(out, " ")
			}
			if got, want := strings.Join(sa.Paths, " "), strings.Join(tc.paths, " "); got != want && base(sa.Paths) != base(tc.paths) {
				t.Errorf("paths %s, want %s", got, want)
			}
			if strings.Join(indexes, " ") != strings.Join(tc.indexes, " ") || base(sa.Unindexed) != base(tc.unindexed) {
				t.Errorf("indexes %v, unindexed %v; want %v, %v", indexes, sa.Unindexed, tc.indexes, tc.unindexed)
			}
		})
	}

	// A part left out that is not beside the others either is damage.
	os.Remove(p[1])
	_, err := bundle.FindSplits([]string{p[0], p[2]})
	if !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "missing: part 2 of 3, openpai.tar.part002 (not named, and not beside") {
		t.Errorf("a missing part: %v", err)
	}
}

func copyFileT(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSplitExisting checks that a split never overwrites by accident, that
// --force replaces and removes the stale parts of an earlier split, that
// the bundle itself is never an output, and RemoveBundle.
func TestSplitExisting(t *testing.T) {
	_, data := splitFixture(t)
	path := copyBundle(t, data, "openpai.tar")
	ctx := context.Background()
	size := int64(len(data))
	first, err := bundle.Split(ctx, path, bundle.SplitOptions{PartSize: size/4 + 1})
	if err != nil {
		t.Fatal(err)
	}
	before := concat(t, first.Parts)
	if _, err := bundle.Split(ctx, path, bundle.SplitOptions{PartSize: size/2 + 1}); err == nil || !strings.Contains(err.Error(), "openpai.tar.part001 already exists (and 4 more with its prefix); give --force") {
		t.Fatalf("a second split: %v", err)
	}
	if !bytes.Equal(concat(t, first.Parts), before) {
		t.Fatal("a refused split changed the parts")
	}
	second, err := bundle.Split(ctx, path, bundle.SplitOptions{PartSize: size/2 + 1, Force: true, RemoveBundle: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Parts) != 2 || len(second.Removed) != 2 {
		t.Fatalf("parts %v, removed %v", second.Parts, second.Removed)
	}
	files, err := bundle.SplitFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]string{}, second.Parts...), second.IndexPath); strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("files after a forced split: %v, want %v", files, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveBundle kept the bundle: %v", err)
	}
	if !bytes.Equal(concat(t, second.Parts), data) {
		t.Error("the forced split's parts do not make the bundle")
	}

	// The same, named relative to the working directory, "./" and all:
	// the new parts are kept, the stale ones removed.
	t.Chdir(filepath.Dir(path))
	if _, err := bundle.Split(ctx, second.Parts[0], bundle.SplitOptions{PartSize: size/3 + 1}); !errors.Is(err, bundle.ErrCorrupt) {
		t.Fatalf("split a part: %v", err)
	}
	os.WriteFile("whole.tar", data, 0o644)
	if _, err := bundle.Split(ctx, "whole.tar", bundle.SplitOptions{PartSize: size/2 + 1, Prefix: "./openpai.tar"}); err == nil {
		t.Fatal("a split over existing parts without Force")
	}
	third, err := bundle.Split(ctx, "whole.tar", bundle.SplitOptions{PartSize: size/3 + 1, Prefix: "./openpai.tar", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Removed) != 0 || len(third.Parts) != 3 || !bytes.Equal(concat(t, third.Parts), data) {
		t.Fatalf("a forced split, relative: parts %v, removed %v", third.Parts, third.Removed)
	}

	// A bundle named like a part is not overwritten by its own split.
	self := copyBundle(t, data, "x.part001")
	if _, err := bundle.Split(ctx, self, bundle.SplitOptions{PartSize: size/2 + 1, Prefix: strings.TrimSuffix(self, ".part001"), Force: true}); err == nil || !strings.Contains(err.Error(), "is the bundle itself") {
		t.Fatalf("splitting onto itself: %v", err)
	}
	if got, _ := os.ReadFile(self); !bytes.Equal(got, data) {
		t.Fatal("the bundle was overwritten")
	}
}

// TestSplitRefuses checks what Split will not split, and that an
// interrupted split leaves nothing behind.
func TestSplitRefuses(t *testing.T) {
	_, data := splitFixture(t)
	ctx := context.Background()
	torn := copyBundle(t, data[:len(data)-3000], "torn.tar")
	if _, err := bundle.Split(ctx, torn, bundle.SplitOptions{PartSize: 1000}); !errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("a torn bundle: %v", err)
	}
	path := copyBundle(t, data, "b.tar")
	for _, ps := range []int64{0, -1} {
		if _, err := bundle.Split(ctx, path, bundle.SplitOptions{PartSize: ps}); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("part size %d: %v", ps, err)
		}
	}
	if _, err := bundle.Split(ctx, path, bundle.SplitOptions{PartSize: 1, Force: true}); err == nil || !strings.Contains(err.Error(), "more than 10000 parts") {
		t.Errorf("too many parts: %v", err)
	}

	// Cancelled after a few chunks: no part, no index, no temporary file.
	fresh := copyBundle(t, data, "c.tar")
	cctx, cancel := context.WithCancel(ctx)
	calls := 0
	_, err := bundle.Split(cctx, fresh, bundle.SplitOptions{PartSize: 1000, Progress: func(int64) {
		if calls++; calls == 25 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled split: %v", err)
	}
	left, _ := filepath.Glob(fresh + ".*")
	if len(left) > 0 {
		t.Errorf("a cancelled split left %v", left)
	}
}

// TestSplitCheckLock checks that an index is tied to its bundle.
func TestSplitCheckLock(t *testing.T) {
	_, data := splitFixture(t)
	res := splitParts(t, data, int64(len(data)/2+1))
	_, otherData := splitFixture(t)
	other := splitParts(t, otherData, int64(len(otherData)/2+1))
	sp := &bundle.SplitParts{Index: res.Index, IndexPath: res.IndexPath, Paths: other.Parts}
	if err := sp.CheckLock(); !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "the index belongs to another bundle") {
		t.Errorf("another bundle's index: %v", err)
	}
	sp.Paths = res.Parts[:1]
	if err := sp.CheckLock(); !errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("a part short: %v", err)
	}
}

func TestReadSplitIndexRefuses(t *testing.T) {
	h := strings.Repeat("a", 64)
	good := `{"formatVersion":1,"bundle":"b.tar","size":3,"partSize":2,"lockSha256":"` + h + `","parts":[{"name":"b.tar.part001","size":2,"sha256":"` + h + `"},{"name":"b.tar.part002","size":1,"sha256":"` + h + `"}]}`
	dir := t.TempDir()
	read := func(s string) error {
		p := filepath.Join(dir, "b.tar.split.json")
		os.WriteFile(p, []byte(s), 0o644)
		_, err := bundle.ReadSplitIndex(p)
		return err
	}
	if err := read(good); err != nil {
		t.Fatalf("a good index: %v", err)
	}
	for _, tc := range []struct{ name, from, to, msg string }{
		{"newer format", `"formatVersion":1`, `"formatVersion":2`, "split index format 2 (this paimirror reads 1); use a newer paimirror"},
		{"no format", `"formatVersion":1,`, ``, "formatVersion is 0"},
		{"a path in a name", `"b.tar.part002"`, `"../etc/passwd"`, `name "../etc/passwd" is not a plain file name`},
		{"a name twice", `"b.tar.part002"`, `"b.tar.part001"`, "listed twice"},
		{"sizes that do not add up", `"size":3`, `"size":4`, "the parts hold 3 bytes, the index says the bundle has 4"},
		{"a bad digest", `"sha256":"` + h + `"}]`, `"sha256":"xyz"}]`, `sha256 "xyz" is not a hex sha256`},
		{"not JSON", good, "PK\x03\x04", "not a split index"},
		{"trailing data", good, good + "{}", "data after the JSON object"},
		{"no parts", `[{"name":"b.tar.part001","size":2,"sha256":"` + h + `"},{"name":"b.tar.part002","size":1,"sha256":"` + h + `"}]`, `[]`, "0 parts listed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := strings.Replace(good, tc.from, tc.to, 1)
			if s == good {
				t.Fatal("the case changes nothing")
			}
			err := read(s)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "copy it again") {
				t.Fatalf("error %v, want %q", err, tc.msg)
			}
			if tc.name == "newer format" != errors.Is(err, bundle.ErrUnsupported) || tc.name != "newer format" && !errors.Is(err, bundle.ErrCorrupt) {
				t.Errorf("error class: %v", err)
			}
		})
	}
}

// FuzzSplitIndex: any input is refused or read as an index whose parts
// are plain names adding up to its size.
func FuzzSplitIndex(f *testing.F) {
	h := strings.Repeat("0", 64)
	f.Add([]byte(`{"formatVersion":1,"bundle":"b.tar","size":3,"partSize":2,"lockSha256":"` + h + `","parts":[{"name":"b.tar.part001","size":2,"sha256":"` + h + `"},{"name":"b.tar.part002","size":1,"sha256":"` + h + `"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"formatVersion":1,"parts":[{"name":"..","size":-1}]}`))
	p := filepath.Join(f.TempDir(), "b.tar.split.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		idx, err := bundle.ReadSplitIndex(p)
		if err != nil {
			return
		}
		var sum int64
		for _, part := range idx.Parts {
			if part.Size <= 0 || filepath.Base(part.Name) != part.Name || part.Name == ".." || part.Name == "." {
				t.Fatalf("accepted part %+v", part)
			}
			sum += part.Size
		}
		if sum != idx.Size || len(idx.Parts) == 0 || len(idx.Parts) > bundle.MaxParts {
			t.Fatalf("accepted an index of %d parts, %d bytes of %d", len(idx.Parts), sum, idx.Size)
		}
	})
}
