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
	"strings"
)

// download copies f from the first of urls that gives the right bytes
// (checked against f.SHA256 as they stream in) into a temporary file in
// dir, which it returns open at its start; on error no file is left
// behind.
func download(ctx context.Context, client *http.Client, urls []string, f File, dir string) (*os.File, error) {
	if len(f.SHA256) != 64 {
		return nil, fmt.Errorf("%s: the index gives no sha256 to check it against", f.Filename)
	}
	var errs []error
	for _, u := range urls {
		tmp, err := os.CreateTemp(dir, ".pypi-*.part")
		if err != nil {
			return nil, fmt.Errorf("downloading %s: %w", f.Filename, err)
		}
		err = downloadOne(ctx, client, u, f, tmp)
		if err == nil {
			if _, err = tmp.Seek(0, io.SeekStart); err == nil {
				return tmp, nil
			}
		}
		tmp.Close()
		os.Remove(tmp.Name())
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("downloading %s: %w", f.Filename, errors.Join(errs...))
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
