package pai_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/pai/paitest"
)

// TestRealTree checks the names against the real pai v1.8.0 tree: every
// file the package names is there, and its layout.yaml and config.yaml
// read as pai's examples say.
func TestRealTree(t *testing.T) {
	tree := paitest.RealTree(t)
	files := append([]string{
		pai.ConfigFile, pai.LayoutFile, pai.DockerCacheFile, pai.ServiceBootFile, pai.EnvironmentFile, pai.DevicePluginFile,
		pai.KubesprayDir + "/" + pai.KubesprayScript, pai.KubesprayDir + "/" + pai.ServiceScript,
		// quick-start-service.sh generates services-configuration.yaml
		// into the cluster configuration from this template.
		pai.KubesprayDir + "/quick-start/" + pai.ServicesName + ".template",
	}, pai.RequirementFiles...)
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(tree, filepath.FromSlash(f))); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: not a file of pai v1.8.0 (%v)", f, err)
		}
	}

	data, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(pai.LayoutFile)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := pai.ParseLayout(data, pai.LayoutFile)
	if err != nil {
		t.Fatalf("pai's own example layout: %v", err)
	}
	if len(l.Machines) != 3 || !l.Machines[0].Master || !l.Machines[1].Worker || l.Machines[1].Device != "nvidia.com/gpu" {
		t.Errorf("pai's example layout read as %+v", l.Machines)
	}

	c, err := pai.ReadConfig(filepath.Join(tree, filepath.FromSlash(pai.ConfigFile)))
	if err != nil {
		t.Fatal(err)
	}
	if *c != (pai.Config{User: "forexample", Password: "forexample", ImageTag: "v1.8.0"}) || c.CheckLogin() != nil {
		t.Errorf("pai's example config.yaml read as %+v (login: %v)", *c, c.CheckLogin())
	}
}
