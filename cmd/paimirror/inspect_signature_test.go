package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/sign"
)

// TestInspectSignature runs the real paimirror on a bundle before and after
// 'paimirror sign' (keys from 'paimirror keygen'): inspect says whether the
// bundle is signed and by which key it names, in text and in -o json;
// with --key it checks the signature, as verify --key does, and exits
// with status 3 without printing anything when the bundle is unsigned or
// signed by another key. Neither the password nor the private key is
// ever printed.
func TestInspectSignature(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	dir := t.TempDir()
	const password = "inspect-test-secret"

	// run runs paimirror in dir and checks its exit status; what it
	// prints never holds the password, a PEM block or a line of a private
	// key file.
	run := func(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := paimirror(t, args...)
		cmd.Dir = dir
		cmd.Env = append(cmd.Env, sign.PasswordEnv+"="+password)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if code := exitCode(err); code != wantCode {
			t.Fatalf("paimirror %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, out.Bytes(), errOut.Bytes())
		}
		all := out.String() + errOut.String()
		if strings.Contains(all, password) || strings.Contains(all, "-----BEGIN") {
			t.Fatalf("paimirror %s printed a secret:\n%s", strings.Join(args, " "), all)
		}
		keys, _ := filepath.Glob(filepath.Join(dir, "*.key"))
		for _, k := range keys {
			data, err := os.ReadFile(k)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if line != "" && !strings.HasPrefix(line, "-----") && strings.Contains(all, line) {
					t.Fatalf("paimirror %s printed part of %s:\n%s", strings.Join(args, " "), k, all)
				}
			}
		}
		return out.String(), errOut.String()
	}
	type sigJSON struct {
		Signed   bool   `json:"signed"`
		Signer   string `json:"signer"`
		Verified bool   `json:"verified"`
		Key      string `json:"key"`
	}
	inspectJSON := func(t *testing.T, args ...string) sigJSON {
		t.Helper()
		out, _ := run(t, 0, append([]string{"inspect", "-o", "json", path}, args...)...)
		var s struct {
			Signature *sigJSON `json:"signature"`
			Images    []any    `json:"images"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("inspect -o json: %v\n%s", err, out)
		}
		if s.Signature == nil || len(s.Images) == 0 {
			t.Fatalf("inspect -o json has no \"signature\" (or no images):\n%s", out)
		}
		return *s.Signature
	}
	fingerprint := func(t *testing.T, name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := sign.ParsePublicKey(data)
		if err != nil {
			t.Fatal(err)
		}
		return sign.Fingerprint(pub)
	}
	wantLine := func(t *testing.T, out, re string) {
		t.Helper()
		if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
			t.Errorf("inspect output has no line matching %s:\n%s", re, out)
		}
	}

	run(t, 0, "keygen", "-o", "lab")
	run(t, 0, "keygen", "-o", "other")
	lab, other := fingerprint(t, "lab.pub"), fingerprint(t, "other.pub")

	t.Run("unsigned", func(t *testing.T) {
		out, _ := run(t, 0, "inspect", path)
		wantLine(t, out, `^manifest: +small`)
		wantLine(t, out, `^signature: +none; sign it with 'paimirror sign BUNDLE --key cosign.key'$`)
		if got := inspectJSON(t); got != (sigJSON{}) {
			t.Errorf("inspect -o json: signature %+v, want {signed: false}", got)
		}
		out, errOut := run(t, exitDamaged, "inspect", path, "--key", "lab.pub")
		if out != "" || !strings.Contains(errOut, "bundle is not signed") {
			t.Errorf("inspect --key of an unsigned bundle:\nstdout:\n%s\nstderr:\n%s", out, errOut)
		}
	})

	run(t, 0, "sign", path, "--key", "lab.key")

	t.Run("signed", func(t *testing.T) {
		out, _ := run(t, 0, "inspect", path)
		wantLine(t, out, `^signature: +signed by key `+lab+` \(as the bundle says; not checked: inspect or verify --key PUBLIC-KEY checks it\)$`)
		if got, want := inspectJSON(t), (sigJSON{Signed: true, Signer: lab}); got != want {
			t.Errorf("inspect -o json: signature %+v, want %+v", got, want)
		}
	})

	t.Run("verified", func(t *testing.T) {
		out, _ := run(t, 0, "inspect", path, "--key", "lab.pub")
		wantLine(t, out, `^signature: +verifies against lab.pub \(key `+lab+`\)$`)
		wantLine(t, out, `^IMAGE +SIZE +DIGEST +MIRROR NAMES$`)
		if got, want := inspectJSON(t, "--key", "lab.pub"), (sigJSON{Signed: true, Signer: lab, Verified: true, Key: lab}); got != want {
			t.Errorf("inspect -o json --key: signature %+v, want %+v", got, want)
		}
	})

	t.Run("another key", func(t *testing.T) {
		for _, format := range []string{"text", "json", "spdx-json"} {
			out, errOut := run(t, exitDamaged, "inspect", "-o", format, path, "--key", "other.pub")
			if out != "" || !strings.Contains(errOut, "signed by key "+lab+", not by key "+other+" given") {
				t.Errorf("inspect -o %s --key other.pub:\nstdout:\n%s\nstderr:\n%s", format, out, errOut)
			}
		}
		// --lock prints the lock only once it verifies.
		out, errOut := run(t, exitDamaged, "inspect", "--lock", path, "--key", "other.pub")
		if out != "" || !strings.Contains(errOut, "not by key "+other) {
			t.Errorf("inspect --lock --key other.pub:\nstdout:\n%s\nstderr:\n%s", out, errOut)
		}
	})

	t.Run("private key", func(t *testing.T) {
		out, errOut := run(t, exitUsage, "inspect", path, "--key", "lab.key")
		if out != "" || !strings.Contains(errOut, "give the public key (cosign.pub), not the private one") {
			t.Errorf("inspect --key lab.key:\nstdout:\n%s\nstderr:\n%s", out, errOut)
		}
	})
}
