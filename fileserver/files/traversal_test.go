package files_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/fileserver/files"
)

const kubeadm = "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"

// checkRefused fails unless a response to a traversal attempt is a plain
// refusal: the wanted status, no redirect, nothing of a file, the lock or
// the host's files in the body.
func checkRefused(t *testing.T, code int, header http.Header, body []byte, want ...int) {
	t.Helper()
	ok := false
	for _, w := range want {
		ok = ok || code == w
	}
	if !ok {
		t.Errorf("status %d, want one of %v", code, want)
	}
	if loc := header.Get("Location"); loc != "" {
		t.Errorf("redirect to %q", loc)
	}
	if strings.HasPrefix(header.Get("Etag"), `"sha256:`) {
		t.Errorf("a file was served (ETag %s)", header.Get("Etag"))
	}
	for _, leak := range []string{"root:", "formatVersion"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("body holds %q", leak)
		}
	}
}

// TestTraversalCurl sends traversal attempts with curl --path-as-is, so that
// curl passes them on as written; each must be a 404.
func TestTraversalCurl(t *testing.T) {
	_, addr := start(t, files.Options{})
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"control: the file itself", kubeadm, http.StatusOK},
		{"control: a needlessly encoded letter", strings.TrimSuffix(kubeadm, "m") + "%6d", http.StatusOK},
		{"dot dot to etc", "/../etc/passwd", http.StatusNotFound},
		{"dot dot deep", "/../../../../../../etc/passwd", http.StatusNotFound},
		{"encoded dot dot", "/%2e%2e/etc/passwd", http.StatusNotFound},
		{"encoded dot dot upper case", "/%2E%2E/%2E%2E/etc/passwd", http.StatusNotFound},
		{"half encoded dot dot", "/.%2e/etc/passwd", http.StatusNotFound},
		{"double encoded dot dot", "/%252e%252e/paimirror.json", http.StatusNotFound},
		{"overlong utf-8 dots", "/%c0%ae%c0%ae/etc/passwd", http.StatusNotFound},
		{"dot dot onto the lock", "/k8s-share/../paimirror.json", http.StatusNotFound},
		{"dot dot onto a file", "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/../amd64/kubeadm", http.StatusNotFound},
		{"dot dot from a page", "/healthz/../paimirror.json", http.StatusNotFound},
		{"dot segment", "/k8s-share/./kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm", http.StatusNotFound},
		{"dot segment on the lock", "/./paimirror.json", http.StatusNotFound},
		{"encoded dot segment", "/k8s-share/%2e/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm", http.StatusNotFound},
		{"double slash to etc", "//etc/passwd", http.StatusNotFound},
		{"double slash before a file", "/" + kubeadm, http.StatusNotFound},
		{"double slash inside a file path", strings.Replace(kubeadm, "/kubernetes-release", "//kubernetes-release", 1), http.StatusNotFound},
		{"encoded slash", strings.Replace(kubeadm, "/kubernetes-release", "%2fkubernetes-release", 1), http.StatusNotFound},
		{"encoded slash upper case", strings.Replace(kubeadm, "/kubernetes-release", "%2Fkubernetes-release", 1), http.StatusNotFound},
		{"encoded leading slash", "/%2fetc/passwd", http.StatusNotFound},
		{"encoded slash and dots", "/..%2f..%2fetc%2fpasswd", http.StatusNotFound},
		{"backslashes", `/k8s-share\kubernetes-release\release\v1.15.11\bin\linux\amd64\kubeadm`, http.StatusNotFound},
		{"backslash dot dot", `/k8s-share\..\paimirror.json`, http.StatusNotFound},
		{"encoded backslash dot dot", "/%5c..%5cpaimirror.json", http.StatusNotFound},
		{"encoded NUL after a file", kubeadm + "%00", http.StatusNotFound},
		{"encoded NUL and extension", kubeadm + "%00.png", http.StatusNotFound},
		{"encoded newline", kubeadm + "%0a", http.StatusNotFound},
		{"trailing slash", kubeadm + "/", http.StatusNotFound},
		{"trailing dots", kubeadm + "..", http.StatusNotFound},
		{"other case", strings.ToUpper(kubeadm), http.StatusNotFound},
		{"absolute host path", "/etc/passwd", http.StatusNotFound},
		{"the bundle's tar name", "/blobs/sha256/" + fileAt(t, kubeadm).SHA256, http.StatusNotFound},
		{"a prefix of a file path", "/k8s-share/kubernetes-release", http.StatusNotFound},
		{"a directory listing", "/k8s-share/", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := curl(t, "--path-as-is", "http://"+addr+tc.path)
			if tc.want == http.StatusOK {
				if r.code != http.StatusOK || sha256Hex(r.body) != fileAt(t, kubeadm).SHA256 {
					t.Fatalf("%s: %d, want the file", tc.path, r.code)
				}
				return
			}
			checkRefused(t, r.code, r.header, r.body, tc.want)
		})
	}
}

// TestTraversalRawTCP sends request lines curl cannot express over a plain
// TCP connection. Those net/http's parser refuses (400: a target that is not
// absolute, control characters, bad escapes) never reach the handler; the
// rest must be our 404.
func TestTraversalRawTCP(t *testing.T) {
	_, addr := start(t, files.Options{})
	for _, tc := range []struct {
		name, target string
		host         bool
		proto        string
		want         []int
	}{
		{"control: origin form", kubeadm, true, "HTTP/1.1", []int{200}},
		{"control: absolute form", "http://" + addr + kubeadm, true, "HTTP/1.1", []int{200}},
		{"absolute form with dot dot", "http://" + addr + "/../paimirror.json", true, "HTTP/1.1", []int{404}},
		{"absolute form naming another host", "http://evil.example/../../etc/passwd", true, "HTTP/1.1", []int{404}},
		{"relative target", "../paimirror.json", true, "HTTP/1.1", []int{400}},
		{"target without a slash", strings.TrimPrefix(kubeadm, "/"), true, "HTTP/1.1", []int{400}},
		{"backslash target", `\k8s-share\..\..\paimirror.json`, true, "HTTP/1.1", []int{400}},
		{"network-path target", "//" + addr + "/paimirror.json", true, "HTTP/1.1", []int{404}},
		{"asterisk", "*", true, "HTTP/1.1", []int{404}},
		{"raw NUL", kubeadm + "\x00", true, "HTTP/1.1", []int{400}},
		{"raw tab", kubeadm + "\t", true, "HTTP/1.1", []int{400}},
		{"raw DEL", kubeadm + "\x7f", true, "HTTP/1.1", []int{400}},
		{"bad escape", "/%u002e%u002e/paimirror.json", true, "HTTP/1.1", []int{400}},
		{"HTTP/1.0 without Host", "/%2e%2e/%2e%2e/etc/passwd", false, "HTTP/1.0", []int{404}},
		{"HTTP/1.0 dot dot", "/k8s-share/../paimirror.json", false, "HTTP/1.0", []int{404}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET " + tc.target + " " + tc.proto + "\r\n"
			if tc.host {
				req += "Host: " + addr + "\r\n"
			}
			req += "Connection: close\r\n\r\n"
			conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			defer resp.Body.Close()
			body := make([]byte, 1<<16)
			n, _ := resp.Body.Read(body)
			if tc.want[0] == http.StatusOK {
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Etag") != `"sha256:`+fileAt(t, kubeadm).SHA256+`"` {
					t.Fatalf("%q: %s, want the file", tc.target, resp.Status)
				}
				return
			}
			checkRefused(t, resp.StatusCode, resp.Header, body[:n], tc.want...)
		})
	}
}
