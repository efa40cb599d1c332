package patch

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/paimirror/paimirror/manifests/yamltext"
)

// devBoxEntrypoint is the option patchServiceBoot adds to the dev-box
// container's docker run.
const devBoxEntrypoint = "--entrypoint /bin/bash"

// patchServiceBoot makes service-boot.sh start the openpai/dev-box
// container with bash as its entrypoint. The image's own entrypoint
// (start-script.sh) first runs `git fetch` on its copy of pai and asks
// api.github.com for the latest release, which hang where packets to GitHub
// are dropped, and only then starts bash; the install uses the checkout
// mounted at /mnt/pai, never that copy. It returns data unchanged, and a
// warning, when the file has no such docker run.
func patchServiceBoot(name string, data []byte) ([]byte, []string) {
	if bytes.Contains(data, []byte(devBoxEntrypoint)) {
		return data, nil
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	run := -1
	for i, l := range lines {
		t := bytes.TrimSpace(l)
		if bytes.Contains(t, []byte("docker run")) {
			run = i
		}
		// The container's name line inside the run, or the image line
		// ending it: insert before it, with the same indentation.
		if run < 0 || !(bytes.HasPrefix(t, []byte("--name=dev-box")) || bytes.HasPrefix(t, []byte("openpai/dev-box")) || bytes.Contains(t, []byte("/dev-box:"))) {
			continue
		}
		if i == run {
			// The whole run on one line: the option goes right after it.
			out := bytes.Join(lines[:i], nil)
			out = append(out, bytes.Replace(l, []byte("docker run"), []byte("docker run "+devBoxEntrypoint), 1)...)
			return append(out, bytes.Join(lines[i+1:], nil)...), nil
		}
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		out := bytes.Join(lines[:i], nil)
		out = append(out, indent...)
		out = append(out, devBoxEntrypoint+" \\\n"...)
		return append(out, bytes.Join(lines[i:], nil)...), nil
	}
	return data, []string{fmt.Sprintf("%s: no docker run of openpai/dev-box found; its entrypoint will try GitHub (git fetch, api.github.com) when the services start", name)}
}

// devBoxImage matches the dev-box image in service-boot.sh's docker run,
// with whatever registry and path precede it:
// "openpai/dev-box:${OPENPAI_IMAGE_TAG}",
// "harbor.lab/openpai/openpai/dev-box:${OPENPAI_IMAGE_TAG}".
var devBoxImage = regexp.MustCompile(`(^|[\s"'=])((?:[^\s"'=/#]+/)*)openpai/dev-box:`)

// patchDevBoxImage makes service-boot.sh run the dev box from the
// registry, as PREFIX/openpai/dev-box:${OPENPAI_IMAGE_TAG}: the dev box's
// docker, which pai never configures, then needs no registry mirror. It
// returns data unchanged, and a warning, when no line names the image.
func patchDevBoxImage(name string, data []byte, reg *Registry) ([]byte, []string) {
	lines := yamltext.Lines(data)
	found := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") || !devBoxImage.MatchString(l) {
			continue
		}
		found = true
		lines[i] = devBoxImage.ReplaceAllString(l, "${1}"+reg.Prefix+"/openpai/dev-box:")
	}
	if !found {
		return data, []string{fmt.Sprintf("%s: no openpai/dev-box image found; the dev box will not come from the registry %s", name, reg.Prefix)}
	}
	return []byte(strings.Join(lines, "")), nil
}
