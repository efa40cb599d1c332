package nodes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s is not valid JSON: %v\n%s", path, err, data)
	}
	return m
}

func strList(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func byNode(results []PrepareResult) map[string]PrepareResult {
	m := map[string]PrepareResult{}
	for _, r := range results {
		m[r.Node] = r
	}
	return m
}

// TestPrepare: daemon.json missing, empty, invalid, existing (with the
// nvidia runtime), and the dev box's whitespace-only file. Every valid one
// gets the mirror, keeps its other keys, is backed up once and docker is
// restarted and waited for; the invalid one is reported and untouched. A
// second run changes and restarts nothing and keeps the backups.
func TestPrepare(t *testing.T) {
	const invalid = "{\"debug\": true,,}\n"
	existing := `{
  "default-runtime": "nvidia",
  "runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}},
  "registry-mirrors": ["https://docker.mirrors.ustc.edu.cn"]
}
`
	missing := newNode(t, nodeSpec{hostname: "pai-master", startDelay: 3})
	empty := newNode(t, nodeSpec{hostname: "pai-worker1", daemonJSON: strp("")})
	broken := newNode(t, nodeSpec{hostname: "pai-worker2", daemonJSON: strp(invalid)})
	gpu := newNode(t, nodeSpec{hostname: "pai-worker3", gpu: true, runtime: "nvidia", daemonJSON: strp(existing)})
	dev := newNode(t, nodeSpec{hostname: "dev-box", daemonJSON: strp("\n  \n")})
	nodes := []Node{missing.node(Master), empty.node(Worker), broken.node(Worker), gpu.node(Worker),
		{Name: "dev-box", Addr: dev.ip, Role: DevBox}}
	const mirror = "10.200.0.1:5000"
	keys, stateDir := openKeys(t)
	log, logs := testLogger()
	opts := PrepareOptions{Mirror: Mirror{Addr: mirror}, Logger: log, DockerWait: 30 * time.Second}

	results, err := Prepare(context.Background(), nodes, testAuth(), keys, opts)
	var de *DaemonJSONError
	if !errors.As(err, &de) || de.Node != "pai-worker2" || de.Line != 1 {
		t.Fatalf("error %v, want a *DaemonJSONError for pai-worker2", err)
	}
	for _, want := range []string{"pai-worker2", DaemonJSONPath, "line 1, column 16", "invalid character"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(results) != len(nodes) {
		t.Fatalf("%d results for %d nodes", len(results), len(nodes))
	}
	for i, r := range results {
		if r.Node != nodes[i].Name {
			t.Errorf("result %d is for %s, want %s", i, r.Node, nodes[i].Name)
		}
	}
	got := byNode(results)
	type want struct {
		changed, created bool
		backup           string
	}
	for name, w := range map[string]want{
		"pai-master":  {true, true, NoOriginalPath},
		"pai-worker1": {true, true, BackupPath},
		"pai-worker3": {true, false, BackupPath},
		"dev-box":     {true, true, BackupPath},
	} {
		r := got[name]
		if r.Err != nil || r.Changed != w.changed || r.Created != w.created || r.Backup != w.backup || !r.Restarted {
			t.Errorf("%s: %+v, want changed=%v created=%v backup=%s restarted", name, r, w.changed, w.created, w.backup)
		}
	}
	if r := got["pai-worker2"]; r.Err == nil || r.Changed || r.Restarted || r.Backup != "" {
		t.Errorf("pai-worker2: %+v, want an error and nothing done", r)
	}

	// The files as each node sees them.
	for _, n := range []*testNode{missing, empty, gpu, dev} {
		m := readJSON(t, n.daemonJSONPath())
		if mirrors := strList(m["registry-mirrors"]); !slices.Contains(mirrors, "http://"+mirror) {
			t.Errorf("%s: registry-mirrors %v", n.spec.hostname, mirrors)
		}
		if insecure := strList(m["insecure-registries"]); !slices.Equal(insecure, []string{mirror}) {
			t.Errorf("%s: insecure-registries %v", n.spec.hostname, insecure)
		}
		if fi, _ := os.Stat(n.daemonJSONPath()); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: daemon.json mode %v", n.spec.hostname, fi.Mode().Perm())
		}
		if n.restarts() != 1 {
			t.Errorf("%s: docker restarted %d times, want 1", n.spec.hostname, n.restarts())
		}
		leftovers, _ := filepath.Glob(filepath.Join(n.upper, "docker", "*paimirror-tmp*"))
		if len(leftovers) > 0 {
			t.Errorf("%s: temporary files left: %v", n.spec.hostname, leftovers)
		}
	}
	m := readJSON(t, gpu.daemonJSONPath())
	if m["default-runtime"] != "nvidia" || !reflect.DeepEqual(m["runtimes"], map[string]any{"nvidia": map[string]any{
		"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []any{}}}) {
		t.Errorf("the nvidia runtime was not kept: %v", m)
	}
	if mirrors := strList(m["registry-mirrors"]); !slices.Equal(mirrors, []string{"https://docker.mirrors.ustc.edu.cn", "http://" + mirror}) {
		t.Errorf("registry-mirrors %v", mirrors)
	}
	// docker was waited for: every failing `docker info` after the restart
	// was used up.
	if s, _ := os.ReadFile(filepath.Join(missing.state, "starting")); strings.TrimSpace(string(s)) != "0" {
		t.Errorf("docker info was not polled until it answered (%q left)", s)
	}

	// Backups: the original content, or the marker for "there was none".
	backup := func(n *testNode, name string) (string, bool) {
		data, err := os.ReadFile(filepath.Join(n.upper, "docker", name))
		return string(data), err == nil
	}
	if _, ok := backup(missing, "daemon.json.paimirror-orig-absent"); !ok {
		t.Error("pai-master: no marker for the missing original")
	}
	for n, orig := range map[*testNode]string{empty: "", gpu: existing, dev: "\n  \n"} {
		if got, ok := backup(n, "daemon.json.paimirror-orig"); !ok || got != orig {
			t.Errorf("%s: backup %q (exists %v), want the original %q", n.spec.hostname, got, ok, orig)
		}
	}
	// The invalid file is untouched, docker left alone.
	if data, _ := os.ReadFile(broken.daemonJSONPath()); string(data) != invalid {
		t.Errorf("the invalid daemon.json was changed to %q", data)
	}
	if files, _ := filepath.Glob(filepath.Join(broken.upper, "docker", "*")); len(files) != 1 {
		t.Errorf("pai-worker2's /etc/docker holds %v, want only daemon.json", files)
	}
	if broken.restarts() != 0 {
		t.Error("docker restarted on the node with the invalid file")
	}

	// Second run: nothing to change, nothing restarted, backups kept.
	before := map[string]string{}
	for _, n := range []*testNode{missing, empty, gpu, dev} {
		data, _ := os.ReadFile(n.daemonJSONPath())
		before[n.spec.hostname] = string(data)
	}
	results, err = Prepare(context.Background(), nodes, testAuth(), keys, opts)
	if !errors.As(err, &de) {
		t.Fatalf("second run: %v", err)
	}
	got = byNode(results)
	for _, n := range []*testNode{missing, empty, gpu, dev} {
		r := got[n.spec.hostname]
		if r.Err != nil || r.Changed || r.Restarted || r.Backup == "" {
			t.Errorf("second run, %s: %+v, want unchanged with the backup reported", n.spec.hostname, r)
		}
		if n.restarts() != 1 {
			t.Errorf("second run, %s: %d restarts in all, want still 1", n.spec.hostname, n.restarts())
		}
		if data, _ := os.ReadFile(n.daemonJSONPath()); string(data) != before[n.spec.hostname] {
			t.Errorf("second run rewrote %s's daemon.json", n.spec.hostname)
		}
	}
	if got, _ := backup(gpu, "daemon.json.paimirror-orig"); got != existing {
		t.Errorf("the backup was overwritten: %q", got)
	}

	// A new mirror address later: changed again, the backup still the
	// first original.
	opts.Mirror.Addr = "10.200.0.1:5001"
	results, _ = Prepare(context.Background(), []Node{gpu.node(Worker)}, testAuth(), keys, opts)
	if r := results[0]; r.Err != nil || !r.Changed || r.Backup != BackupPath {
		t.Errorf("new mirror: %+v", r)
	}
	if got, _ := backup(gpu, "daemon.json.paimirror-orig"); got != existing {
		t.Errorf("the backup was overwritten by the second change: %q", got)
	}

	assertNoPassword(t, "the log", logs.String())
	assertNoPassword(t, "the error", err.Error())
	assertNoPasswordInFiles(t, stateDir)
	for _, n := range []*testNode{missing, empty, broken, gpu, dev} {
		assertNoPasswordInFiles(t, n.dir)
	}
}

func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "paimirror test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestPrepareTLS: a TLS mirror with a CA: https in registry-mirrors, no
// insecure-registries entry, the CA under /etc/docker/certs.d/HOST:PORT/.
func TestPrepareTLS(t *testing.T) {
	n := newNode(t, nodeSpec{hostname: "pai-worker1", daemonJSON: strp(nvidiaDaemonJSON)})
	keys, _ := openKeys(t)
	ca := testCA(t)
	const mirror = "10.200.0.1:5443"
	opts := PrepareOptions{Mirror: Mirror{Addr: mirror, TLS: true, CA: ca}}
	results, err := Prepare(context.Background(), []Node{n.node(Worker)}, testAuth(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; !r.Changed || !r.CAInstalled || !r.Restarted {
		t.Errorf("%+v", r)
	}
	m := readJSON(t, n.daemonJSONPath())
	if mirrors := strList(m["registry-mirrors"]); !slices.Equal(mirrors, []string{"https://" + mirror}) {
		t.Errorf("registry-mirrors %v", mirrors)
	}
	if _, ok := m["insecure-registries"]; ok {
		t.Errorf("insecure-registries set for a TLS mirror: %v", m)
	}
	if m["default-runtime"] != "nvidia" {
		t.Error("default-runtime lost")
	}
	caFile := filepath.Join(n.upper, "docker", "certs.d", mirror, "ca.crt")
	if got, err := os.ReadFile(caFile); err != nil || string(got) != string(ca) {
		t.Errorf("CA at %s: %v", caFile, err)
	}
	// The system trusts it too: update-ca-certificates put it in the
	// bundle curl, wget and Python read.
	if !results[0].SystemCAInstalled {
		t.Errorf("the CA was not added to the system's trust: %+v", results[0])
	}
	if bundle := n.run(t, keys, "cat /etc/ssl/certs/ca-certificates.crt"); !strings.Contains(bundle, strings.TrimSpace(string(ca))) {
		t.Error("the system's CA bundle lacks the mirror's CA")
	}
	results, err = Prepare(context.Background(), []Node{n.node(Worker)}, testAuth(), keys, opts)
	if err != nil || results[0].Changed || results[0].CAInstalled || results[0].SystemCAInstalled || results[0].Restarted || n.restarts() != 1 {
		t.Errorf("second run: %+v, %v, %d restarts", results[0], err, n.restarts())
	}

	if _, err := Prepare(context.Background(), []Node{n.node(Worker)}, testAuth(), keys,
		PrepareOptions{Mirror: Mirror{Addr: mirror, TLS: true, CA: []byte("not a certificate")}}); err == nil {
		t.Error("a CA that is not PEM was accepted")
	}
}

// TestPrepareDockerDoesNotComeBack: when docker does not answer after the
// restart, the node's error says so, names the backup, and the wait is
// bounded.
func TestPrepareDockerDoesNotComeBack(t *testing.T) {
	n := newNode(t, nodeSpec{hostname: "pai-worker1", daemonJSON: strp("{}"), startDelay: 1000000})
	keys, _ := openKeys(t)
	start := time.Now()
	results, err := Prepare(context.Background(), []Node{n.node(Worker)}, testAuth(), keys,
		PrepareOptions{Mirror: Mirror{Addr: "10.200.0.1:5000"}, DockerWait: 2 * time.Second})
	var de *DockerError
	if !errors.As(err, &de) || de.Node != "pai-worker1" || de.Backup != BackupPath {
		t.Fatalf("error %v, want a *DockerError", err)
	}
	if !strings.Contains(err.Error(), "Is the docker daemon running?") || !strings.Contains(err.Error(), "journalctl -u docker") {
		t.Errorf("error %q", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the wait took %v with DockerWait 2s", took)
	}
	if r := results[0]; !r.Changed || r.Restarted {
		t.Errorf("%+v", r)
	}
}

// TestPrepareSudoRefused: logged in with the key, but sudo's password is
// wrong: a SudoError for the node, nothing written, nothing restarted.
func TestPrepareSudoRefused(t *testing.T) {
	orig := "{\"debug\": true}\n"
	n := newNode(t, nodeSpec{hostname: "pai-worker1", daemonJSON: strp(orig)})
	keys, _ := openKeys(t)
	wrong := Auth{User: testUser, Password: "not-" + testPassword, KeyFile: n.userKey}
	results, err := Prepare(context.Background(), []Node{n.node(Worker)}, wrong, keys,
		PrepareOptions{Mirror: Mirror{Addr: "10.200.0.1:5000"}})
	var se *SudoError
	if !errors.As(err, &se) || se.Node != "pai-worker1" || !strings.Contains(err.Error(), "sudo") {
		t.Fatalf("error %v (%T), want a *SudoError", err, err)
	}
	if strings.Contains(err.Error(), wrong.Password) || strings.Contains(err.Error(), testPassword) {
		t.Error("the password appears in the error")
	}
	if r := results[0]; r.Changed || r.Restarted {
		t.Errorf("%+v", r)
	}
	if data, _ := os.ReadFile(n.daemonJSONPath()); string(data) != orig || n.restarts() != 0 {
		t.Errorf("daemon.json %q, %d restarts", data, n.restarts())
	}
}
