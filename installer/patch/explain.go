package patch

import (
	"strings"
)

// quickStartPaths are what quick-start-kubespray.sh and
// quick-start-service.sh run from contrib/kubespray (prefixes). The rest of
// contrib/kubespray (clean-up, driver and runtime playbooks,
// set-kubectl.yml, passwordless SSH) runs only when someone runs it by
// hand.
var quickStartPaths = []string{
	"contrib/kubespray/quick-start",
	"contrib/kubespray/requirement.sh",
	"contrib/kubespray/environment-check.yml",
	"contrib/kubespray/set-host-daemon-port-range.yml",
	"contrib/kubespray/pre-installation.yml",
	"contrib/kubespray/docker-cache-config-distribute.yml",
	"contrib/kubespray/script/",
	"contrib/kubespray/config/",
	"contrib/kubespray/roles/requirement/",
	"contrib/kubespray/roles/set-python3/",
	"contrib/kubespray/roles/port/",
	"contrib/kubespray/roles/pre-installation/",
	"contrib/kubespray/roles/docker-cache/",
}

// whereRuns says where the file at p runs its commands.
func whereRuns(p string) string {
	switch {
	case strings.HasPrefix(p, "src/"):
		return "the cluster"
	case strings.Contains(p, "/roles/requirement/devbox/"), strings.Contains(p, "/roles/kubectl/"),
		strings.HasSuffix(p, ".sh"), strings.HasSuffix(p, ".py"):
		return "the dev box"
	case strings.Contains(p, "/roles/requirement/infra/"):
		return "the master"
	case strings.Contains(p, "/roles/requirement/worker/"):
		return "the workers"
	}
	return "the nodes"
}

// hostNotes say what a host is for, where that is not plain from the
// access itself.
var hostNotes = map[string]string{
	"packages.cloud.google.com": "kubectl's apt repository, for set-kubectl.yml",
	"apt.kubernetes.io":         "kubectl's apt repository, for set-kubectl.yml",
	"mirrors.aliyun.com":        "kubectl's apt repository (Aliyun), for set-kubectl.yml",
	"nvidia.github.io":          "the NVIDIA container runtime's apt repository",
	"ppa.launchpad.net":         "the graphics-drivers PPA, for NVIDIA drivers",
	"keyserver.ubuntu.com":      "the Ubuntu key server",
}

// explain says what a scan hit means for an offline install; details are
// the packages or URLs of every hit of the same kind for the same file and
// host.
func explain(h hit, details []string) string {
	where := whereRuns(h.path)
	list := ""
	if len(details) > 0 {
		list = " (" + strings.Join(details, "; ") + ")"
	}
	var s string
	switch h.kind {
	case "svn":
		s = "svn cat from GitHub, which ended Subversion access on 2024-01-08, so this fails even online; the patch fetches the file from the mirror instead once the mirror serves it (see the patch warnings)"
	case "git":
		if strings.Contains(h.detail, "kubespray") {
			s = "clones kubespray (release-2.11) from GitHub into ~/pai-deploy/kubespray on the dev box; offline it comes from the mirror once the bundle holds kubespray's archive (group devbox-sources) and the patch step has run"
		} else {
			s = "clones " + h.detail + " on " + where + "; needs the internet"
		}
	case "pip":
		s = "pip installs from PyPI on " + where + list + "; offline, the patch points it at the mirror's /pypi/simple/ once the bundle holds the Python packages (group devbox-python)"
	case "apt":
		s = "apt on " + where + " needs the Ubuntu archive or the apt mirror in sources.list" + list + "; offline, the mirror covers it once the bundle holds the release's apt repositories with these packages (group ubuntu-18.04) and prepare has pointed the machines at them"
	case "apt-repo":
		s = "adds the apt repository " + h.detail + " on " + where + "; apt update then needs " + h.host
	case "apt-key":
		s = "fetches an apt signing key from " + h.host + " on " + where + "; needs the internet"
	case "dns-check":
		s = "requirement check: nslookup " + h.host + " on " + where + "; only a check, but when it fails quick-start-kubespray.sh stops at a prompt (type continue to go on)"
	case "ping-check":
		s = "pings " + h.host + " on " + where + " to choose an apt repository; both choices need the internet"
	case "image":
		s = "pulls " + h.detail + " from " + h.host + ", which docker's registry-mirrors does not cover; needs the internet, or the image on the mirror and this reference pointing there"
	case "registry-image":
		from := h.host
		if from == "docker.io" {
			from = "Docker Hub"
		}
		s = "pulls " + strings.Join(details, ", ") + " from " + from + " on " + where + ", not from the lab registry (install --registry): the patch names the registry only for images it holds, so push a bundle that has this one and patch again"
	case "hub-image":
		s = "the dev box pulls " + h.detail + " from Docker Hub; pai never sets up the dev box's docker, so it needs the mirror in its registry-mirrors (paimirror's prepare step) or the image loaded"
	case "registry-login":
		s = "a pull secret for the registry " + h.host + ", whose images need the internet"
	case "download":
		s = "downloads " + strings.Join(details, ", ") + " on " + where + "; needs the internet"
	default:
		s = "names " + strings.Join(details, ", ") + " (in " + where + "); needs the internet when used"
	}
	switch {
	case h.host == "login.microsoftonline.com":
		s = "Azure AD's sign-out page: rest-server uses it only with OIDC (Azure AD) sign-in, not the default basic auth; nothing fetches it during the install"
	case hostNotes[h.host] != "":
		s = hostNotes[h.host] + ": " + s
	}
	if off := offPath(h); off != "" && h.host != "login.microsoftonline.com" {
		s += "; " + off
	}
	return s
}

// offPath says why a default install does not run the access of h, or ""
// when it does.
func offPath(h hit) string {
	switch {
	case h.host == "login.microsoftonline.com":
		return "only with OIDC sign-in"
	case strings.HasPrefix(h.path, "src/"):
		return offService(h.path)
	case strings.HasPrefix(h.path, "contrib/kubespray/") && !quickStart(h.path):
		return "not run by the quick-start scripts, only by hand"
	}
	return ""
}

func quickStart(p string) bool {
	for _, q := range quickStartPaths {
		if strings.HasPrefix(p, q) {
			return true
		}
	}
	return false
}
