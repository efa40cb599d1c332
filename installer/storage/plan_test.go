package storage

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestNewPlan works out the plan from the options and a layout.yaml, with
// no password, no cluster and no files.
func TestNewPlan(t *testing.T) {
	layout := []byte(testLayout("pai-worker1"))
	p, err := NewPlan(Options{Node: "pai-worker1", Groups: []string{"default", "vision"}, SharePath: "/srv/share", RestServer: "http://10.99.0.1:9186/"}, layout, "layout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Node.Hostname != "pai-worker1" || p.Node.IP != "127.0.0.1" || p.Node.Storage {
		t.Errorf("node: %+v", p.Node)
	}
	var section map[string]map[string]string
	if err := yaml.Unmarshal([]byte(p.ServicesSection), &section); err != nil || section["storage-manager"]["localpath"] != "/srv/share" {
		t.Errorf("services section %q: %v %v", p.ServicesSection, section, err)
	}
	if p.SharePath != "/srv/share" || p.HostPath != "/srv/share/data" {
		t.Errorf("share %q, host path %q", p.SharePath, p.HostPath)
	}
	v := p.Volume
	if v.Name != "nfs-storage-pv" || v.Claim != "nfs-storage" || v.Server != "127.0.0.1" || v.Path != "/data" || !v.ReadOnly || strings.Join(v.MountOptions, ",") != "nfsvers=4.1" {
		t.Errorf("volume: %+v", v)
	}
	if p.AccessMode != "ReadWriteMany" || p.ClaimNamespace != "default" {
		t.Errorf("access mode %q, namespace %q", p.AccessMode, p.ClaimNamespace)
	}
	if strings.Join(p.Groups, ",") != "default,vision" || p.RestServer != "http://10.99.0.1:9186" || p.AdminUser != "admin" {
		t.Errorf("grant: %v %q %q", p.Groups, p.RestServer, p.AdminUser)
	}
	s := p.String()
	for _, want := range []string{
		`pai-worker1 (127.0.0.1) gets pai-storage: "true"`,
		"storage-manager:\n",
		"localpath: /srv/share",
		"persistent volume nfs-storage-pv: NFS 127.0.0.1:/data, nfsvers=4.1, ReadWriteMany, read-only, Retain",
		"claim default/nfs-storage",
		"groups granted nfs-storage: default, vision",
		"http://10.99.0.1:9186",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("String lacks %q:\n%s", want, s)
		}
	}

	// Defaults: the rest-server through pylon on the master; a node that
	// has pai-storage already says so.
	marked := strings.Replace(string(layout), "hostip: 127.0.0.1\n", "hostip: 127.0.0.1\n    pai-storage: \"true\"\n", 1)
	p, err = NewPlan(Options{Node: "pai-worker1", ReadWrite: true}, []byte(marked), "layout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Node.Storage || p.RestServer != "http://10.99.0.1/rest-server" || p.Volume.ReadOnly || strings.Join(p.Groups, ",") != "default" {
		t.Errorf("defaults: %+v", p)
	}
	if s := p.String(); !strings.Contains(s, `pai-worker1 (127.0.0.1) has pai-storage: "true" already`) || !strings.Contains(s, "read-write") {
		t.Errorf("String:\n%s", s)
	}
}

// TestNewPlanErrors: a node that is not a worker, a bad option, a bad
// layout.
func TestNewPlanErrors(t *testing.T) {
	layout := []byte(testLayout("pai-worker1"))
	for _, tc := range []struct {
		name   string
		opts   Options
		layout []byte
		is     error
		want   string
	}{
		{"master", Options{Node: "pai-master"}, layout, ErrNotWorker, "pai-worker1, pai-worker9"},
		{"unknown", Options{Node: "pai-worker7"}, layout, ErrNoSuchNode, "pai-worker1, pai-worker9"},
		{"share path", Options{Node: "pai-worker1", SharePath: "share"}, layout, ErrInvalidOptions, `share path "share"`},
		{"group", Options{Node: "pai-worker1", Groups: []string{"a-b"}}, layout, ErrInvalidOptions, `group "a-b"`},
		{"layout", Options{Node: "pai-worker1"}, []byte("machine-list: []\n"), nil, "layout.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(tc.opts, tc.layout, "layout.yaml")
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %v with %q", err, tc.is, tc.want)
			}
		})
	}
}
