package registry

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// uploadMaxAge is how long an unfinished blob upload of a writable
// registry is kept: distribution keeps an upload's state and the bytes
// received so far under repositories/<name>/_uploads/<id>/ until the
// client finishes it, and a client that gives up never comes back.
const uploadMaxAge = 24 * time.Hour

// uploadPurgeEvery is how often a writable registry looks for stale
// uploads after the look at start-up.
const uploadPurgeEvery = time.Hour

// purgeUploads removes, under the writable directory dir, every upload
// started more than maxAge ago (by its startedat file, which distribution
// writes when the upload begins; by the directory's modification time
// when that is missing or unreadable), and returns how many it removed.
// It walks only the repositories' directories, never the blobs, so it
// costs in proportion to the number of pushed repositories and uploads. A
// client still sending to such an upload gets BLOB_UPLOAD_UNKNOWN and
// starts again.
func purgeUploads(dir string, maxAge time.Duration, now time.Time, log *slog.Logger) int {
	repos := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(reposRoot, "/")))
	purged := 0
	err := filepath.WalkDir(repos, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			log.Warn("looking for stale uploads", "err", err)
			return nil
		}
		if !e.IsDir() {
			return nil
		}
		switch e.Name() {
		case "_manifests", "_layers":
			return filepath.SkipDir
		case "_uploads":
		default:
			return nil
		}
		ids, err := os.ReadDir(p)
		if err != nil {
			log.Warn("looking for stale uploads", "err", err)
			return filepath.SkipDir
		}
		for _, id := range ids {
			up := filepath.Join(p, id.Name())
			started, ok := uploadStarted(up, id)
			if !ok || now.Sub(started) <= maxAge {
				continue
			}
			if err := os.RemoveAll(up); err != nil {
				log.Warn("removing a stale upload", "err", err)
				continue
			}
			purged++
		}
		return filepath.SkipDir
	})
	if err != nil {
		log.Warn("looking for stale uploads", "err", err)
	}
	if purged > 0 {
		log.Info("removed stale uploads", "count", purged, "max_age", maxAge)
	}
	return purged
}

// uploadStarted returns when the upload in dir began.
func uploadStarted(dir string, e fs.DirEntry) (time.Time, bool) {
	if data, err := os.ReadFile(filepath.Join(dir, "startedat")); err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(data))); err == nil {
			return t, true
		}
	}
	info, err := e.Info()
	if err != nil {
		return time.Time{}, false
	}
	return info.ModTime(), true
}

// purgeUploadsEvery runs purgeUploads every interval until ctx is done.
func purgeUploadsEvery(ctx context.Context, dir string, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			purgeUploads(dir, uploadMaxAge, now, log)
		}
	}
}
