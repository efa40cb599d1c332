package installer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/push"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/patch"
)

// registryTarget parses Options.Registry ("REGISTRY[/PREFIX]", an
// http:// or https:// in front allowed) with push's rules, so that install
// names exactly the repositories `paimirror push` filled.
func registryTarget(opts Options) (push.Target, error) {
	t, err := push.ParseTarget(opts.Registry, opts.RegistryInsecure)
	if err != nil {
		return push.Target{}, fmt.Errorf("--registry: %w", err)
	}
	return t, nil
}

// checkRegistry checks the registry options together.
func checkRegistry(opts Options) error {
	if opts.Registry == "" {
		if len(opts.RegistryCA) > 0 || opts.RegistryInsecure || opts.RegistryUsername != "" {
			return fmt.Errorf("the registry's CA, --registry-insecure and credentials need --registry")
		}
		return nil
	}
	t, err := registryTarget(opts)
	if err != nil {
		return err
	}
	if t.Insecure && len(opts.RegistryCA) > 0 {
		return fmt.Errorf("--registry-ca is for an HTTPS registry, --registry-insecure (or http://) for a plain HTTP one: not both")
	}
	if (opts.RegistryUsername == "") != (opts.RegistryPassword == "") {
		return fmt.Errorf("a registry user needs its password, and a password its user")
	}
	return nil
}

// registryHost returns the host[:port] of Options.Registry, or "".
func registryHost(registry string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(registry, "http://"), "https://")
	host, _, _ := strings.Cut(s, "/")
	return host
}

// patchRegistry returns the registry as patch wants it, or nil without
// one. The images it holds are the lock's: push put every name there.
func (in *install) patchRegistry(lock *bundle.Lock) *patch.Registry {
	if in.opts.Registry == "" {
		return nil
	}
	t, err := registryTarget(in.opts)
	if err != nil {
		return nil // Install checked it
	}
	r := &patch.Registry{Prefix: t.String(), Username: in.opts.RegistryUsername, Password: in.opts.RegistryPassword}
	for _, img := range lock.Images {
		r.Images = append(r.Images, img.Names...)
	}
	return r
}

// nodesRegistry returns the registry as the nodes reach it, or nil
// without one. Preflight probes the pod infrastructure image, the first
// image every node's kubelet needs, else the lock's first image.
func (in *install) nodesRegistry(lock *bundle.Lock) *nodes.Registry {
	if in.opts.Registry == "" {
		return nil
	}
	t, err := registryTarget(in.opts)
	if err != nil {
		return nil
	}
	r := &nodes.Registry{
		Host:     t.Registry.RegistryStr(),
		Insecure: t.Insecure,
		CAPEM:    in.opts.RegistryCA,
		Username: in.opts.RegistryUsername,
		Password: in.opts.RegistryPassword,
	}
	if probe := probeName(lock); probe != "" {
		r.Probe = t.String() + "/" + probe
	}
	return r
}

// probeName returns the mirror name preflight asks the registry for.
func probeName(lock *bundle.Lock) string {
	for _, img := range lock.Images {
		if i := slices.IndexFunc(img.Names, func(n string) bool { return strings.Contains(n, "/pause-amd64:") }); i >= 0 {
			return img.Names[i]
		}
	}
	if len(lock.Images) > 0 && len(lock.Images[0].Names) > 0 {
		return lock.Images[0].Names[0]
	}
	return ""
}
