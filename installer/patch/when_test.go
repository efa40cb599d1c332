package patch

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// preInstallation mirrors pai v1.8.0's
// contrib/kubespray/roles/pre-installation/tasks/main.yml: sshpass on every
// node, python only on Ubuntu 20.04.
const preInstallation = `---
# If sshpass is not installed on target machine,
# kubespray 2.11 may have these issues:
# https://github.com/kubernetes-sigs/kubespray/issues/6906
# https://github.com/kubernetes-sigs/kubespray/issues/5693
# This is resolved in PR https://github.com/kubernetes-sigs/kubespray/pull/6907
- name: "Install sshpass"
  apt:
    name: sshpass
    state: present


# workaround for ubuntu 20.04
# This is resolved in https://github.com/kubernetes-sigs/kubespray/pull/6157
- name: "Install Python"
  apt:
    name: python
    state: present
  when:
  - ansible_distribution_version is version('20.04', '=')
`

const preInstallationFile = "contrib/kubespray/roles/pre-installation/tasks/main.yml"

// TestScanWhen: a task whose when: is false on every target release is
// off the default path, and says why; one whose when: holds on a target,
// or cannot be judged, is not.
func TestScanWhen(t *testing.T) {
	dir := fixture(t)
	writeFile(t, filepath.Join(dir, filepath.FromSlash(preInstallationFile)), preInstallation)
	for _, tc := range []struct {
		name    string
		targets []string
		// off: the python install (line 16) is off the default path.
		off bool
	}{
		{"default targets", nil, true},
		{"18.04", []string{"ubuntu-18.04"}, true},
		{"with 20.04", []string{"ubuntu-18.04", "ubuntu-20.04"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := Scan(dir, ScanOptions{AptPackages: []string{"sshpass"}, Targets: tc.targets})
			if err != nil {
				t.Fatal(err)
			}
			var got []Finding
			for _, f := range fs {
				if f.Path == preInstallationFile {
					got = append(got, f)
				}
			}
			if len(got) != 1 || got[0].Line != 16 || got[0].Host != "archive.ubuntu.com" {
				t.Fatalf("findings %v, want the python install at line 16", got)
			}
			if tc.off {
				if !strings.Contains(got[0].OffPath, "ansible_distribution_version is version('20.04', '=')") ||
					!strings.Contains(got[0].OffPath, "false on Ubuntu ") || !strings.Contains(got[0].What, got[0].OffPath) {
					t.Errorf("the python install is not off the default path, or does not say why: %+v", got[0])
				}
			} else if got[0].OffPath != "" {
				t.Errorf("the python install runs on 20.04, but is off the path: %q", got[0].OffPath)
			}
		})
	}
	if _, err := Scan(dir, ScanOptions{Targets: []string{"centos-7"}}); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "ubuntu-18.04") {
		t.Errorf("Scan with target centos-7 = %v, want ErrInvalidOptions naming the form", err)
	}
}

// TestScanWhenLines checks which enclosing when: conditions count: the
// task's, a block's and a play's; a sibling's does not.
func TestScanWhenLines(t *testing.T) {
	const file = `- hosts: all
  when: ansible_distribution == "Ubuntu"
  tasks:
  - name: a
    apt: name=a
  - block:
    - name: b
      apt: name=b
    - name: c
      apt: name=c
      when: ansible_distribution_release == "focal"
    when: ansible_lsb.major_release|int >= 16
  - name: d
    apt: name=d
    when: ansible_facts['distribution_version'] is version('18.04', '<')
  - name: e
    apt: name=e
    when: some_flag
  - name: f
    apt: name=f
    when: false
`
	ts, err := parseTargets(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := offByWhen([]byte(file), []int{5, 8, 10, 14, 17, 20}, ts)
	for line, off := range map[int]bool{5: false, 8: false, 10: true, 14: false, 17: false, 20: true} {
		if (got[line] != "") != off {
			t.Errorf("line %d: off %q, want off %v", line, got[line], off)
		}
	}
	if !strings.Contains(got[10], `ansible_distribution_release == "focal"`) {
		t.Errorf("line 10: %q does not name the condition", got[10])
	}
}

// TestEvalCondition checks the evaluator on Ubuntu 18.04's facts.
func TestEvalCondition(t *testing.T) {
	ts, err := parseTargets([]string{"ubuntu-18.04"})
	if err != nil {
		t.Fatal(err)
	}
	facts := ts[0].facts
	for _, tc := range []struct {
		expr string
		want tri
	}{
		{`ansible_distribution == "Ubuntu"`, yes},
		{`ansible_distribution != "Ubuntu"`, no},
		{`ansible_distribution == "Ubuntu" and ansible_distribution_version is version('16.04', '>=')`, yes},
		{`ansible_distribution != "Ubuntu" or ansible_distribution_version is version('16.04', '<')`, no},
		{`ansible_distribution_version is version('20.04', '=')`, no},
		{`ansible_distribution_version is version('20.04', operator='lt')`, yes},
		{`ansible_distribution_version is version_compare('18.04', '==')`, yes},
		{`ansible_distribution_version is not version('18.04')`, no},
		{`ansible_lsb.release == '18.04'`, yes},
		{`ansible_lsb['codename'] in ['xenial', 'bionic']`, yes},
		{`ansible_distribution_release not in ["focal"]`, yes},
		{`ansible_facts.distribution_major_version|int > 18`, no},
		{`(ansible_os_family == 'Debian') and not (ansible_distribution == 'CentOS')`, yes},
		{`ansible_distribution_version == 18.04`, no}, // a string is not a number
		{`ansible_distribution is defined`, yes},
		{`x is defined`, unknown},
		{`other_var`, unknown},
		{`other_var == "x" and ansible_distribution == "Debian"`, no},
		{`other_var == "x" or ansible_distribution == "Ubuntu"`, yes},
		{`other_var == "x" or ansible_distribution == "Debian"`, unknown},
		{`"{{ ansible_distribution }}" == "Ubuntu"`, unknown},
		{`ansible_distribution | regex_search('U')`, unknown},
		{`ansible_distribution_version is version('18.04', 'funny')`, unknown},
		{`ansible_distribution ==`, unknown},
		{`lookup('env', 'X') == '1'`, unknown},
	} {
		if got := evalCondition(tc.expr, facts); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.expr, got, tc.want)
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("false"), &n); err != nil {
		t.Fatal(err)
	}
	if got := evalWhen(n.Content[0], facts); got != no {
		t.Errorf("when: false = %v", got)
	}
}
