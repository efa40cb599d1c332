package pai

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// validLayout is a layout pai accepts; cases edit it.
const validLayout = `machine-sku:
  master-machine:
    mem: 60Gi
    cpu:
      vcore: 24
  gpu-machine:
    computing-device:
      type: nvidia.com/gpu
      model: K80
      count: 4
    mem: 220Gi
    cpu:
      vcore: 24
machine-list:
  - hostname: pai-master
    hostip: 10.0.0.1
    machine-type: master-machine
    pai-master: "true"
  - hostname: pai-worker1
    hostip: 10.0.0.2
    machine-type: gpu-machine
    pai-worker: "true"
  - hostname: pai-worker2
    hostip: 10.0.0.3
    machine-type: gpu-machine
    pai-worker: "true"
`

func TestValidateLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		// edit is applied to validLayout as old => new pairs; layout, when
		// set, replaces it.
		edit   []string
		layout string
		want   []string // one per problem, in order: "LINE: ENTRY: MSG" fragments
	}{
		{name: "valid"},
		{name: "valid with kubernetes and storage", edit: []string{
			"machine-sku:", "kubernetes:\n  api-servers-url: http://10.0.0.1:8080\n  dashboard-url: http://10.0.0.1:9090\nmachine-sku:",
			"    pai-worker: \"true\"\n  - hostname: pai-worker2", "    pai-worker: \"true\"\n    pai-storage: \"true\"\n  - hostname: pai-worker2",
		}},
		{name: "valid with pai-worker false on master", edit: []string{`pai-master: "true"`, "pai-master: \"true\"\n    pai-worker: 'false'"}},
		{name: "unknown top-level key", edit: []string{"machine-list:", "cluster-name: x\nmachine-list:"},
			want: []string{`14: unknown key "cluster-name" (allowed: machine-sku, machine-list, kubernetes)`}},
		{name: "unknown machine key", edit: []string{"    hostip: 10.0.0.2", "    hostip: 10.0.0.2\n    nodename: pai-worker1"},
			want: []string{`21: machine-list[1] (pai-worker1): unknown key "nodename"`}},
		{name: "unknown sku key", edit: []string{"    mem: 60Gi", "    mem: 60Gi\n    disk: 1Ti"},
			want: []string{`4: machine-sku.master-machine: unknown key "disk"`}},
		{name: "missing keys", edit: []string{"    hostip: 10.0.0.2\n", "", "      vcore: 24\nmachine-list", "      vcores: 24\nmachine-list"},
			want: []string{
				`13: machine-sku.gpu-machine.cpu: unknown key "vcores"`,
				`13: machine-sku.gpu-machine.cpu: vcore is missing`,
				`19: machine-list[1] (pai-worker1): hostip is missing`,
			}},
		{name: "missing machine-list", layout: "machine-sku:\n  m:\n    mem: 1Gi\n    cpu: {vcore: 1}\n",
			want: []string{`1: machine-list is missing`}},
		{name: "types", edit: []string{"mem: 60Gi", "mem: 60", "vcore: 24\n  gpu", "vcore: \"24\"\n  gpu", "count: 4", "count: four"},
			want: []string{
				`3: machine-sku.master-machine.mem: is an integer, want a string (60 reads as an integer: quote it)`,
				`5: machine-sku.master-machine.cpu.vcore: is a string, want an integer (write the number without quotes)`,
				`10: machine-sku.gpu-machine.computing-device.count: is a string, want an integer`,
			}},
		{name: "boolean roles", edit: []string{`pai-master: "true"`, "pai-master: true", `    pai-worker: "true"
  - hostname: pai-worker2`, `    pai-worker: yes
  - hostname: pai-worker2`},
			want: []string{
				`15: machine-list: no machine has pai-master: "true"`,
				`18: machine-list[0] (pai-master): pai-master is true (a boolean), want the string "true" or "false": write "true", in quotes`,
				`22: machine-list[1] (pai-worker1): pai-worker is yes (a boolean), want the string "true" or "false": write "true", in quotes`,
			}},
		{name: "upper-case hostname", edit: []string{"hostname: pai-worker1", "hostname: PAI-Worker1"},
			want: []string{`19: machine-list[1] (PAI-Worker1): hostname "PAI-Worker1" has upper-case letters`}},
		{name: "invalid hostname", edit: []string{"hostname: pai-worker1", "hostname: pai_worker1"},
			want: []string{`19: machine-list[1] (pai_worker1): hostname "pai_worker1" is not a valid RFC 1123 name`}},
		{name: "hostname reads as a boolean", edit: []string{"hostname: pai-worker1", "hostname: no"},
			want: []string{`19: machine-list[1] (no): hostname: is a boolean, want a string (no reads as a boolean: quote it)`}},
		{name: "long hostname label", edit: []string{"hostname: pai-worker1", "hostname: " + strings.Repeat("a", 64)},
			want: []string{`is longer than 63 characters`}},
		{name: "bad ip", edit: []string{"hostip: 10.0.0.2", "hostip: 10.0.0.256", "hostip: 10.0.0.3", "hostip: 10.0.3"},
			want: []string{
				`20: machine-list[1] (pai-worker1): hostip "10.0.0.256" is not an IPv4 address`,
				`24: machine-list[2] (pai-worker2): hostip "10.0.3" is not an IPv4 address`,
			}},
		{name: "duplicates", edit: []string{"hostname: pai-worker2", "hostname: pai-worker1", "hostip: 10.0.0.3", "hostip: 10.0.0.1"},
			want: []string{
				`23: machine-list[2] (pai-worker1): hostname "pai-worker1" is also machine-list[1] (pai-worker1)'s`,
				`23: machine-list[2] (pai-worker1): hostip 10.0.0.1 is also machine-list[0] (pai-master)'s`,
			}},
		{name: "undefined machine type", edit: []string{"machine-type: gpu-machine\n    pai-worker: \"true\"\n  - hostname: pai-worker2", "machine-type: cpu-machine\n    pai-worker: \"true\"\n  - hostname: pai-worker2"},
			want: []string{`21: machine-list[1] (pai-worker1): machine-type "cpu-machine" is not defined in machine-sku`}},
		{name: "two masters", edit: []string{"    pai-worker: \"true\"\n  - hostname: pai-worker2", "    pai-master: \"true\"\n  - hostname: pai-worker2"},
			want: []string{`19: machine-list[1] (pai-worker1): a second pai-master (the first is machine-list[0] (pai-master))`}},
		{name: "no worker", layout: "machine-sku:\n  m: {mem: 1Gi, cpu: {vcore: 1}}\nmachine-list:\n  - {hostname: a, hostip: 10.0.0.1, machine-type: m, pai-master: \"true\", pai-worker: \"false\"}\n",
			want: []string{`4: machine-list: no machine has pai-worker: "true"; at least one must`}},
		{name: "master is worker", edit: []string{`pai-master: "true"`, "pai-master: \"true\"\n    pai-worker: \"true\""},
			want: []string{`15: machine-list[0] (pai-master): is both pai-master and pai-worker`}},
		{name: "storage on the master", edit: []string{`pai-master: "true"`, "pai-master: \"true\"\n    pai-storage: \"true\""},
			want: []string{`15: machine-list[0] (pai-master): pai-storage is "true" on a machine that is not a pai-worker`}},
		{name: "empty", layout: "# nothing\n", want: []string{`is empty`}},
		{name: "not a mapping", layout: "- a\n", want: []string{`1: is a list, not a mapping`}},
		{name: "empty sku and list", layout: "machine-sku: {}\nmachine-list: []\n",
			want: []string{`1: machine-sku: defines no machine SKU`, `2: machine-list: no machine has pai-master`, `2: machine-list: no machine has pai-worker`}},
		{name: "machine not a mapping", edit: []string{"  - hostname: pai-worker2\n    hostip: 10.0.0.3\n    machine-type: gpu-machine\n    pai-worker: \"true\"\n", "  - pai-worker2\n"},
			want: []string{`23: machine-list[2]: is a string, want a mapping`}},
		{name: "syntax error", layout: "machine-sku:\n  a: [\n", want: []string{`yaml: `}},
		{name: "duplicate key", edit: []string{"    hostip: 10.0.0.2", "    hostip: 10.0.0.2\n    hostip: 10.0.0.9"},
			want: []string{`21: machine-list[1] (pai-worker1): hostip is given twice (also on line 20)`}},
		{name: "anchors", layout: "machine-sku:\n  m: &sku {mem: 1Gi, cpu: {vcore: 1}}\n  n: *sku\nmachine-list:\n  - {hostname: a, hostip: 10.0.0.1, machine-type: m, pai-master: \"true\"}\n  - {hostname: b, hostip: 10.0.0.2, machine-type: n, pai-worker: \"true\"}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layout := tc.layout
			if layout == "" {
				layout = validLayout
				for i := 0; i+1 < len(tc.edit); i += 2 {
					if !strings.Contains(layout, tc.edit[i]) {
						t.Fatalf("edit %q does not apply", tc.edit[i])
					}
					layout = strings.Replace(layout, tc.edit[i], tc.edit[i+1], 1)
				}
			}
			err := ValidateLayout([]byte(layout), "layout.yaml")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error:\n%v\nlayout:\n%s", err, layout)
				}
				return
			}
			var le *LayoutError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LayoutError\nlayout:\n%s", err, layout)
			}
			if len(le.Problems) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(le.Problems), len(tc.want), err)
			}
			for i, want := range tc.want {
				got := le.Problems[i].Error()
				if !strings.HasPrefix(got, "layout.yaml:") || !strings.Contains(got, want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, want)
				}
			}
			var p LayoutProblem
			if !errors.As(err, &p) || p != le.Problems[0] {
				t.Errorf("errors.As does not reach the problems")
			}
		})
	}
}

// TestParseLayout reads the machines, their SKU's device type, and the
// device types the device plugin service would deploy.
func TestParseLayout(t *testing.T) {
	layout := strings.Replace(validLayout, "type: nvidia.com/gpu", "type: amd.com/gpu", 1)
	layout = strings.Replace(layout, "    pai-worker: \"true\"\n  - hostname: pai-worker2", "    pai-worker: \"true\"\n    pai-storage: \"true\"\n  - hostname: pai-worker2", 1)
	l, err := ParseLayout([]byte(layout), "layout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Machine{
		{Hostname: "pai-master", IP: "10.0.0.1", Type: "master-machine", Master: true},
		{Hostname: "pai-worker1", IP: "10.0.0.2", Type: "gpu-machine", Worker: true, Storage: true, Device: "amd.com/gpu"},
		{Hostname: "pai-worker2", IP: "10.0.0.3", Type: "gpu-machine", Worker: true, Device: "amd.com/gpu"},
	}
	if !slices.Equal(l.Machines, want) {
		t.Errorf("machines:\n%+v\nwant:\n%+v", l.Machines, want)
	}
	got := l.Devices()
	if !got["amd.com/gpu"] || !got["nvidia.com/gpu"] || len(got) != 2 {
		t.Errorf("Devices = %v", got)
	}

	// An invalid layout is the validator's error, not a partial reading.
	var le *LayoutError
	if l, err := ParseLayout([]byte(strings.Replace(validLayout, `pai-master: "true"`, "pai-master: true", 1)), "layout.yaml"); !errors.As(err, &le) || l != nil {
		t.Errorf("invalid layout: %v, %v; want a *LayoutError", l, err)
	}
}
