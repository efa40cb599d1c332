package nodes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

func testLogger() (*slog.Logger, *testenv.Buffer) {
	buf := &testenv.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func testAuth() Auth { return Auth{User: testUser, Password: testPassword} }

func openKeys(t *testing.T) (*HostKeys, string) {
	t.Helper()
	stateDir := filepath.Join(t.TempDir(), "state")
	keys, err := OpenHostKeys(filepath.Join(stateDir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	return keys, stateDir
}

// TestHostKeyTrustOnFirstUse: the first connection records the node's key,
// the next one is checked against it, and a new key (a reinstall, or an
// impostor) is refused with a HostKeyChangedError until it is forgotten.
func TestHostKeyTrustOnFirstUse(t *testing.T) {
	n := newNode(t, nodeSpec{hostname: "pai-master"})
	keys, stateDir := openKeys(t)
	log, logs := testLogger()
	ctx := context.Background()
	opts := DialOptions{Logger: log}

	c, err := Dial(ctx, n.node(Master), testAuth(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	// stdout and stderr come back apart; the user's PATH has the doubles.
	out, errb, err := c.Run(ctx, "echo to-out; echo to-err >&2; hostname", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "to-out\npai-master\n" || string(errb) != "to-err\n" {
		t.Errorf("stdout %q, stderr %q", out, errb)
	}
	// sudo -S with the password on stdin, the command's own stdin after it.
	out, _, err = c.Run(ctx, "id -u; cat", RunOptions{Sudo: true, Stdin: []byte("payload\n")})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "0\npayload\n" {
		t.Errorf("sudo run: stdout %q, want uid 0 and the payload", out)
	}
	// A failing command is a CommandError with its status and stderr.
	_, _, err = c.Run(ctx, "echo broken >&2; exit 7", RunOptions{Sudo: true})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Status != 7 || !strings.Contains(ce.Stderr, "broken") || strings.Contains(ce.Stderr, sudoMarker) {
		t.Errorf("error %#v, want a CommandError with status 7 and the stderr", err)
	}
	c.Close()

	known, err := os.ReadFile(keys.Path())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(n.hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	wantLine := n.ip + " " + strings.Join(strings.Fields(string(pub))[:2], " ")
	if strings.TrimSpace(string(known)) != wantLine {
		t.Fatalf("known_hosts holds %q, want %q", known, wantLine)
	}
	if fi, _ := os.Stat(keys.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", fi.Mode().Perm())
	}

	// Second connection: checked against the record, nothing added.
	c, err = Dial(ctx, n.node(Master), testAuth(), keys, opts)
	if err != nil {
		t.Fatalf("second dial: %v", err)
	}
	c.Close()
	if again, _ := os.ReadFile(keys.Path()); !bytes.Equal(again, known) {
		t.Errorf("known_hosts changed on the second connection:\n%s", again)
	}

	// The machine is "reinstalled": a new host key.
	n.newHostKey()
	_, err = Dial(ctx, n.node(Master), testAuth(), keys, opts)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("dial after the key changed: %v (%T), want a *HostKeyChangedError", err, err)
	}
	if changed.Node != "pai-master" || changed.Host != n.ip || changed.Line != 1 || changed.File != keys.Path() ||
		changed.Want == changed.Got || !strings.HasPrefix(changed.Want, "SHA256:") {
		t.Errorf("HostKeyChangedError %+v", changed)
	}
	for _, want := range []string{"changed", "deleting line 1 of " + keys.Path(), "--accept-new-host-key=pai-master"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// Accepting the new key: forget the old one, connect, recorded again.
	if removed, err := keys.Forget(n.ip); err != nil || removed != 1 {
		t.Fatalf("Forget: %d, %v", removed, err)
	}
	c, err = Dial(ctx, n.node(Master), testAuth(), keys, opts)
	if err != nil {
		t.Fatalf("dial after Forget: %v", err)
	}
	c.Close()
	if now, _ := os.ReadFile(keys.Path()); bytes.Equal(now, known) || strings.Count(string(now), "\n") != 1 {
		t.Errorf("known_hosts after accepting the new key:\n%s", now)
	}

	assertNoPassword(t, "the log", logs.String())
	assertNoPasswordInFiles(t, stateDir)
}

// TestDialErrors: a wrong password is a clear AuthError that does not hold
// the password; an address where nothing answers is an UnreachableError
// naming the node and the address; a key logs in where the password is
// wrong, and then sudo with the wrong password is a SudoError.
func TestDialErrors(t *testing.T) {
	n := newNode(t, nodeSpec{hostname: "pai-worker1"})
	keys, stateDir := openKeys(t)
	log, logs := testLogger()
	ctx := context.Background()
	wrong := Auth{User: testUser, Password: testPassword + "-wrong"}

	_, err := Dial(ctx, n.node(Worker), wrong, keys, DialOptions{Logger: log})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("wrong password: %v (%T), want an *AuthError", err, err)
	}
	if ae.Node != "pai-worker1" || ae.User != testUser || ae.Addr != n.ip+":22" {
		t.Errorf("AuthError %+v", ae)
	}
	for _, want := range []string{"pai-worker1", n.ip, "rejected", testUser} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	assertNoPassword(t, "the error", err.Error())
	assertNoPassword(t, "the error's fields", fmt.Sprintf("%#v %+v", err, ae))

	// Nothing at this address: unreachable, quickly, with the names.
	start := time.Now()
	_, err = Dial(ctx, Node{Name: "pai-worker9", Addr: unusedIP, Role: Worker}, testAuth(), keys, DialOptions{Timeout: 2 * time.Second, Logger: log})
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Node != "pai-worker9" || ue.Addr != unusedIP+":22" {
		t.Fatalf("unused address: %v (%T), want an *UnreachableError", err, err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("dial took %v with a 2s timeout", time.Since(start))
	}

	// The key logs in although the password is wrong; sudo then refuses.
	withKey := Auth{User: testUser, Password: wrong.Password, KeyFile: n.userKey}
	c, err := Dial(ctx, n.node(Worker), withKey, keys, DialOptions{Logger: log})
	if err != nil {
		t.Fatalf("key login: %v", err)
	}
	defer c.Close()
	err = c.CheckSudo(ctx)
	var se *SudoError
	if !errors.As(err, &se) || se.Node != "pai-worker1" {
		t.Fatalf("sudo with a wrong password: %v (%T), want a *SudoError", err, err)
	}
	assertNoPassword(t, "the sudo error", err.Error())
	if strings.Contains(err.Error(), wrong.Password) {
		t.Errorf("the wrong password appears in %q", err)
	}
	assertNoPassword(t, "the log", logs.String())
	if strings.Contains(logs.String(), wrong.Password) {
		t.Error("the wrong password appears in the log")
	}
	assertNoPasswordInFiles(t, stateDir)
}
