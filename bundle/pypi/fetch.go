package pypi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Rewrite sends URLs under the prefix From to the prefix To
// ("https://files.pythonhosted.org" → "https://mirrors.example.cn/pypi").
type Rewrite struct {
	From, To string
}

// Rewriter returns a function for IndexOptions.URLs and FetchOptions.URLs:
// for a URL, the rewritten URL of each rule whose From is a prefix of it
// (at a path boundary), in rule order, then the URL itself.
func Rewriter(rules ...Rewrite) func(string) []string {
	return func(u string) []string {
		var out []string
		for _, r := range rules {
			from := strings.TrimRight(r.From, "/")
			if rest, ok := strings.CutPrefix(u, from); ok && (rest == "" || rest[0] == '/' || rest[0] == '?') {
				out = append(out, strings.TrimRight(r.To, "/")+rest)
			}
		}
		return append(out, u)
	}
}

// FetchOptions configures Fetch. The zero value works.
type FetchOptions struct {
	// Client makes the HTTP requests; default: a client over
	// http.DefaultTransport.
	Client *http.Client
	// URLs returns the URLs to try, in order, for the file's URL; default:
	// the URL alone.
	URLs func(url string) []string
}

// Fetched is a file Fetch stored.
type Fetched struct {
	// Path is where the file now is.
	Path string
	// Source is the URL the bytes came from.
	Source string
	// Size is the file's length in bytes.
	Size int64
}

// Fetch downloads f into dir/f.Filename, trying each URL in turn, and
// checks the bytes against f.SHA256 as they stream in. Bytes that do not
// match are discarded (the error is then, or joins, a *DigestError) and
// the next URL is tried; only a verified file ever appears at the final
// path, which is replaced atomically.
func Fetch(ctx context.Context, f File, dir string, opts FetchOptions) (*Fetched, error) {
	if f.Filename == "" || f.Filename != filepath.Base(f.Filename) || strings.ContainsAny(f.Filename, `/\`) || f.Filename == "." || f.Filename == ".." {
		return nil, fmt.Errorf("fetching %q: not a plain file name", f.Filename)
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{}
	}
	urls := []string{f.URL}
	if opts.URLs != nil {
		urls = opts.URLs(f.URL)
	}
	tmp, src, err := download(ctx, client, urls, f, dir)
	if err != nil {
		return nil, err
	}
	name := tmp.Name()
	st, err := tmp.Stat()
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	dst := filepath.Join(dir, f.Filename)
	if err == nil {
		err = os.Chmod(name, 0o644)
	}
	if err == nil {
		err = os.Rename(name, dst)
	}
	if err != nil {
		os.Remove(name)
		return nil, fmt.Errorf("storing %s: %w", f.Filename, err)
	}
	return &Fetched{Path: dst, Source: src, Size: st.Size()}, nil
}

// download copies f from the first of urls that gives the right bytes into
// a temporary file in dir, which it returns open; on error no file is
// left behind.
func download(ctx context.Context, client *http.Client, urls []string, f File, dir string) (*os.File, string, error) {
	if len(f.SHA256) != 64 {
		return nil, "", fmt.Errorf("%s: the index gives no sha256 to check it against", f.Filename)
	}
	var errs []error
	for _, u := range urls {
		tmp, err := os.CreateTemp(dir, ".pypi-*.part")
		if err != nil {
			return nil, "", fmt.Errorf("downloading %s: %w", f.Filename, err)
		}
		err = downloadOne(ctx, client, u, f, tmp)
		if err == nil {
			if _, err = tmp.Seek(0, io.SeekStart); err == nil {
				return tmp, u, nil
			}
		}
		tmp.Close()
		os.Remove(tmp.Name())
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("downloading %s: %w", f.Filename, errors.Join(errs...))
}

func downloadOne(ctx context.Context, client *http.Client, u string, f File, w io.Writer) error {
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
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(f.SHA256) {
		return &DigestError{Filename: f.Filename, Source: u, Want: f.SHA256, Got: got}
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
