package pypi

// openPAIGroups are the pip installs of OpenPAI v1.8.0's
// contrib/kubespray/script/environment.sh, in the order it runs them (as
// root): pip itself, paramiko, pai's own pins, kubespray release-2.11's
// requirements.txt, then the ansible that replaces kubespray's.
var openPAIGroups = []struct {
	name string
	reqs []string
}{
	{"pip", []string{"pip==20.3.4"}},
	{"paramiko", []string{"paramiko"}},
	{"openpai", []string{"kubernetes==12.0.0", "schema==0.7.2", "jinja2==2.11.2"}},
	{"kubespray requirements.txt", []string{
		"ansible==2.7.12", "jinja2==2.10.1", "netaddr==0.7.19", "pbr==5.2.0",
		"hvac==0.8.2", "jmespath==0.9.4", "ruamel.yaml==0.15.96",
	}},
	{"ansible", []string{"ansible==2.9.7"}},
}

// OpenPAIGroups returns the requirement groups OpenPAI v1.8.0's
// environment.sh installs on the dev box, in order.
func OpenPAIGroups() []Group {
	out := make([]Group, len(openPAIGroups))
	for i, g := range openPAIGroups {
		out[i].Name = g.name
		for _, r := range g.reqs {
			out[i].Requirements = append(out[i].Requirements, MustParseRequirement(r))
		}
	}
	return out
}

// OpenPAITargets returns the dev-box systems OpenPAI v1.8.0 supports, each
// with the Python 3 and glibc its release ships: Ubuntu 16.04 (3.5.2,
// glibc 2.23), 18.04 (3.6.9, glibc 2.27) and 20.04 (3.8.10, glibc 2.31),
// all x86_64.
func OpenPAITargets() []Target {
	return []Target{
		{Name: "ubuntu-16.04", Python: "3.5", PythonFull: "3.5.2", Platform: "manylinux_x86_64", Glibc: "2.23"},
		{Name: "ubuntu-18.04", Python: "3.6", PythonFull: "3.6.9", Platform: "manylinux_x86_64", Glibc: "2.27"},
		{Name: "ubuntu-20.04", Python: "3.8", PythonFull: "3.8.10", Platform: "manylinux_x86_64", Glibc: "2.31"},
	}
}
