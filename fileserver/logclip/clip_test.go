package logclip

import (
	"strings"
	"testing"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"path", "/k8s-share/kubeadm", "/k8s-share/kubeadm"},
		{"range", "bytes=0-1023", "bytes=0-1023"},
		{"upload state", "/v2/lab/x/blobs/uploads/u1?_state=STATESECRET&digest=sha256:abc", "/v2/lab/x/blobs/uploads/u1?_state=REDACTED&digest=sha256:abc"},
		{"token", "/file?token=SECRET", "/file?token=REDACTED"},
		{"listing", "/v2/_catalog?n=10&last=a", "/v2/_catalog?n=10&last=a"},
		{"long", strings.Repeat("a", Max+1), strings.Repeat("a", Max) + "…(201 bytes)"},
		{"long query", "/f?token=" + strings.Repeat("S", 2*Max), "/f?token=REDACTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clip(tc.in); got != tc.want {
				t.Errorf("Clip(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
