package push

import (
	"fmt"
	"slices"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// selectImages returns the images of l to push, in lock order. With no
// include or exclude, every image. Otherwise the groups are those the
// bundle was built with, plus include, minus exclude, judged against the
// manifest recorded in the lock; a group in include that the bundle holds
// no image of is an error (it was left out of the build).
func selectImages(l *bundle.Lock, include, exclude []string) ([]bundle.Image, error) {
	if len(l.Images) == 0 {
		return nil, fmt.Errorf("the bundle holds no images: nothing to push")
	}
	if len(include) == 0 && len(exclude) == 0 {
		return l.Images, nil
	}
	m, err := manifests.Parse("the bundle's manifest", []byte(l.Manifest.Text))
	if err != nil {
		return nil, fmt.Errorf("reading the manifest recorded in the bundle: %w", err)
	}
	inc := append(slices.Clone(l.Manifest.Include), include...)
	exc := append(slices.Clone(l.Manifest.Exclude), exclude...)
	exc = slices.DeleteFunc(exc, func(g string) bool { return slices.Contains(include, g) && !slices.Contains(exclude, g) })
	sel, err := m.Select(inc, exc)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, img := range sel.Images {
		wanted[img.Ref] = true
	}
	var out []bundle.Image
	held := map[string]bool{}
	for _, img := range l.Images {
		held[img.Ref] = true
		if wanted[img.Ref] {
			out = append(out, img)
		}
	}
	for _, g := range include {
		found := false
		for _, img := range m.Images {
			if slices.Contains(img.Groups, g) && held[img.Ref] {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("the bundle holds no image of group %q: it was built without it (build it with --include %s)", g, g)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image of the bundle is left after --include/--exclude: nothing to push")
	}
	return out, nil
}
