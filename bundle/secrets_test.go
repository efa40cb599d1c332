package bundle_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// mirrorPassword is the password of the URL mirrors TestBuildHidesMirrorPasswords
// gives; it must never be printed, logged or stored.
const mirrorPassword = "MIRRORPASSWORD"

// withPassword returns mirrors with user "mirror" and mirrorPassword in the
// URL of each URL mirror.
func withPassword(mirrors []bundle.Mirror) []bundle.Mirror {
	out := append([]bundle.Mirror(nil), mirrors...)
	for i, m := range out {
		if strings.Contains(m.From, "://") {
			out[i].To = strings.Replace(m.To, "://", "://mirror:"+mirrorPassword+"@", 1)
		}
	}
	return out
}

// TestBuildHidesMirrorPasswords builds apt repositories and Python packages
// through URL mirrors given with a password (https://user:pass@host/...,
// as a private mirror needs): the lock records where each file came from,
// and the debug log, the progress events and a failed build's error name
// the mirror, all without the password.
func TestBuildHidesMirrorPasswords(t *testing.T) {
	closed, err := bundletest.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		manifest string
		exclude  []string
		// dead puts a mirror that cannot be reached before the others;
		// fail gives only a mirror that answers 404 to everything.
		dead, fail bool
	}{
		{name: "apt", manifest: aptManifest},
		{name: "python", manifest: pythonManifest, exclude: []string{"base"}},
		{name: "python behind a dead mirror", manifest: pythonManifest, exclude: []string{"base"}, dead: true},
		{name: "python, the index refusing", manifest: pythonManifest, exclude: []string{"base"}, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := parse(t, tc.manifest)
			opts := bundletest.Options{}
			if strings.Contains(tc.manifest, "python:") {
				opts.PythonDists = pythonDists(t)
			}
			u := startUpstream(t, m, opts)
			bo := buildOpts(t, u)
			bo.Exclude = tc.exclude
			bo.Mirrors = withPassword(u.Mirrors())
			switch {
			case tc.dead:
				bo.Mirrors = append(withPassword([]bundle.Mirror{{From: "https://pypi.org", To: "http://" + closed + "/pypi"}}), bo.Mirrors...)
			case tc.fail:
				refusing := serveLoopback(t, http.NotFoundHandler())
				bo.Mirrors = withPassword([]bundle.Mirror{{From: "https://pypi.org", To: refusing + "/pypi"}})
			}
			var log testenv.Buffer
			bo.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var events []string
			bo.Progress = func(e bundle.Event) { events = append(events, e.Item+" "+e.Source+" "+errText(e.Err)) }
			res, err := bundle.Build(context.Background(), u.Manifest, bo)
			shown := log.String() + "\n" + strings.Join(events, "\n")
			if tc.fail {
				if err == nil {
					t.Fatal("the build succeeded through an index that refuses everything")
				}
				shown += "\n" + err.Error()
			} else {
				if err != nil {
					t.Fatal(err)
				}
				lock, err := json.Marshal(openVerified(t, res.Path).Lock)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(lock), mirrorPassword) {
					t.Errorf("the lock holds the mirror's password: %s", lock)
				}
				if !strings.Contains(string(lock), "mirror:xxxxx@") {
					t.Errorf("the lock does not name the mirror: %s", lock)
				}
			}
			if strings.Contains(shown, mirrorPassword) {
				t.Errorf("the mirror's password is shown:\n%s", shown)
			}
			if tc.fail && !strings.Contains(shown, "mirror:xxxxx@") {
				t.Errorf("the mirror is not named:\n%s", shown)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// serveLoopback serves h until the test ends and returns its URL.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
