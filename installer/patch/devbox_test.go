package patch

import (
	"strings"
	"testing"
)

func TestPatchServiceBoot(t *testing.T) {
	run := "sudo docker run -itd \\\n        --net=host \\\n        --name=dev-box-quick-start \\\n        openpai/dev-box:${TAG}\n"
	for _, tc := range []struct {
		name, in, want, warn string
	}{
		{"before the name", run, "        --net=host \\\n        --entrypoint /bin/bash \\\n        --name=dev-box-quick-start", ""},
		{"before the image when unnamed", "docker run -d \\\n  -v /x:/y \\\n  openpai/dev-box:v1.8.0\n", "  -v /x:/y \\\n  --entrypoint /bin/bash \\\n  openpai/dev-box:v1.8.0", ""},
		{"on one line", "sudo docker run -itd -v /a:/b --name=dev-box-quick-start openpai/dev-box:${TAG}\n", "sudo docker run --entrypoint /bin/bash -itd -v /a:/b --name=dev-box-quick-start", ""},
		{"already patched", strings.Replace(run, "--net=host", "--net=host --entrypoint /bin/bash", 1), "--net=host --entrypoint /bin/bash", ""},
		{"no dev-box run", "echo nothing here\n", "echo nothing here", "no docker run of openpai/dev-box"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings := patchServiceBoot("service-boot.sh", []byte(tc.in))
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", out, tc.want)
			}
			if strings.Count(string(out), devBoxEntrypoint) > 1 {
				t.Errorf("entrypoint added twice:\n%s", out)
			}
			if (tc.warn == "") != (len(warnings) == 0) || (tc.warn != "" && !strings.Contains(warnings[0], tc.warn)) {
				t.Errorf("warnings %q, want %q", warnings, tc.warn)
			}
			again, _ := patchServiceBoot("service-boot.sh", out)
			if string(again) != string(out) {
				t.Error("a second patch changed the script again")
			}
		})
	}
}
