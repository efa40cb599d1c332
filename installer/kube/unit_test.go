package kube

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestQuantity(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"10000Gi", "10000Gi", true},
		{"1024Gi", "1Ti", true},
		{"1e3", "1k", true},
		{"1.5Gi", "1536Mi", true},
		{"500m", "0.5", true},
		{"1G", "1Gi", false},
		{"10000Gi", "100Gi", false},
	}
	for _, tt := range tests {
		if got := sameQuantity(tt.a, tt.b); got != tt.same {
			t.Errorf("sameQuantity(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
	for _, bad := range []string{"", "ten", "Gi", "-1Gi", "1/2", "0x10", "1 Gi"} {
		if _, err := parseQuantity(bad); err == nil {
			t.Errorf("parseQuantity(%q) accepted it", bad)
		}
	}
}

func TestRegistryOf(t *testing.T) {
	tests := []struct{ image, registry, upstream string }{
		{"10.0.0.9:5000/gcr.io/google-containers/kube-proxy:v1.15.11", "10.0.0.9:5000", "gcr.io"},
		{"mirror.local:5000/docker.io/library/busybox:1.31.1", "mirror.local:5000", "docker.io"},
		{"gcr.io/google_containers/pause-amd64:3.1", "gcr.io", ""},
		{"openpai/rest-server:v1.8.0", "docker.io", ""},
		{"busybox", "docker.io", ""},
		{"quay.io/coreos/flannel:v0.11.0", "quay.io", ""},
		{"Bad/Name", "Bad", ""},
	}
	for _, tt := range tests {
		r, u := registryOf(tt.image)
		if r != tt.registry || u != tt.upstream {
			t.Errorf("registryOf(%q) = %q, %q; want %q, %q", tt.image, r, u, tt.registry, tt.upstream)
		}
	}
}

func TestAPIError(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		body   string
		is     error
		not    []error
		reason string
		text   string
	}{
		{"not found", 404, `{"kind":"Status","status":"Failure","message":"persistentvolumes \"x\" not found","reason":"NotFound","code":404}`,
			ErrNotFound, []error{ErrConflict, ErrAlreadyExists}, "NotFound", `persistentvolumes "x" not found (404 NotFound)`},
		{"already exists", 409, `{"kind":"Status","message":"persistentvolumes \"x\" already exists","reason":"AlreadyExists","code":409}`,
			ErrAlreadyExists, []error{ErrConflict, ErrNotFound}, "AlreadyExists", `persistentvolumes "x" already exists (409 AlreadyExists)`},
		{"conflict", 409, `{"kind":"Status","message":"Operation cannot be fulfilled","reason":"Conflict","code":409}`,
			ErrConflict, []error{ErrAlreadyExists}, "Conflict", "Operation cannot be fulfilled (409 Conflict)"},
		{"plain unauthorized", 401, "Unauthorized\n", ErrUnauthorized, nil, "Unauthorized", "Unauthorized (401 Unauthorized)"},
		{"html page", 403, "<html><body>nope</body></html>", ErrForbidden, nil, "Forbidden", "forbidden (403 Forbidden)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error = apiError(tt.code, []byte(tt.body))
			if !errors.Is(err, tt.is) {
				t.Errorf("%v is not %v", err, tt.is)
			}
			for _, n := range tt.not {
				if errors.Is(err, n) {
					t.Errorf("%v is %v", err, n)
				}
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Reason != tt.reason || ae.Code != tt.code {
				t.Errorf("got %#v", ae)
			}
			if err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", err, tt.text)
			}
		})
	}
	if got := reasonFor(http.StatusTeapot); got != "Unknown" {
		t.Errorf("reasonFor(418) = %q", got)
	}
}

func TestNFSVolumeDefaultsAndValidation(t *testing.T) {
	v, err := NFSVolume{Name: "nfs-storage-pv", Claim: "nfs-storage", Server: "10.0.0.5", Path: "/data"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if v.Label != "nfs-storage" || v.Capacity != "10000Gi" || len(v.MountOptions) != 1 || v.MountOptions[0] != "nfsvers=4.1" || v.BindTimeout == 0 {
		t.Errorf("defaults: %+v", v)
	}
	bad := []struct {
		v    NFSVolume
		want string
	}{
		{NFSVolume{Claim: "c", Server: "s", Path: "/d"}, `persistent volume name ""`},
		{NFSVolume{Name: "PV", Claim: "c", Server: "s", Path: "/d"}, `persistent volume name "PV"`},
		{NFSVolume{Name: "pv", Claim: "c_1", Server: "s", Path: "/d"}, `claim name "c_1"`},
		{NFSVolume{Name: "pv", Claim: "c", Path: "/d"}, `nfs server ""`},
		{NFSVolume{Name: "pv", Claim: "c", Server: "10.0.0.1:/data", Path: "/d"}, `nfs server "10.0.0.1:/data"`},
		{NFSVolume{Name: "pv", Claim: "c", Server: "s", Path: "data"}, `nfs path "data" is not an absolute path`},
		{NFSVolume{Name: "pv", Claim: "c", Server: "s", Path: "/d", Capacity: "lots"}, `capacity: "lots" is not a quantity`},
		{NFSVolume{Name: "pv", Claim: "c", Label: "a b", Server: "s", Path: "/d"}, `label "a b"`},
	}
	for _, b := range bad {
		if _, err := b.v.withDefaults(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: error %v, want %q", b.v, err, b.want)
		}
	}
	if _, err := (NFSVolume{Name: "pv", Claim: "c", Server: "fd00::5", Path: "/d"}).withDefaults(); err != nil {
		t.Errorf("IPv6 server: %v", err)
	}
}
