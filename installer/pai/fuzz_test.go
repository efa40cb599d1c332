package pai

import (
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzValidateLayout: any input gives nil or a non-empty *LayoutError of
// at most maxLayoutProblems; an accepted layout has one master and a
// worker as yaml.v3 reads it, and ParseLayout reads the same machines.
func FuzzValidateLayout(f *testing.F) {
	f.Add([]byte(validLayout))
	f.Add([]byte("machine-sku:\n  m: {mem: 1Gi, cpu: {vcore: 1}, computing-device: {type: amd.com/gpu, model: x, count: 1}}\nmachine-list:\n  - {hostname: a, hostip: 10.0.0.1, machine-type: m, pai-master: \"true\"}\n  - {hostname: b, hostip: 10.0.0.2, machine-type: m, pai-worker: \"true\", pai-storage: \"true\"}\n"))
	f.Add([]byte("machine-sku: {m: {mem: 1Gi, cpu: {vcore: 1}}}\nmachine-list: [{hostname: a, hostip: 1.2.3.4, machine-type: m, pai-master: \"true\"}, *x]\n"))
	f.Add([]byte("machine-sku: &a {m: *a}\n"))
	f.Add([]byte("- [\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := ValidateLayout(data, "fuzz.yaml")
		if err != nil {
			var le *LayoutError
			if !errors.As(err, &le) || len(le.Problems) == 0 || len(le.Problems) > maxLayoutProblems {
				t.Fatalf("error %T %v is not a non-empty *LayoutError", err, err)
			}
			for _, p := range le.Problems {
				if p.Msg == "" || p.Source != "fuzz.yaml" {
					t.Fatalf("problem %#v", p)
				}
			}
			return
		}
		// An accepted layout has one master and a worker, as pai reads it.
		var l struct {
			Machines []map[string]any `yaml:"machine-list"`
		}
		if err := yaml.Unmarshal(data, &l); err != nil {
			t.Fatalf("accepted, but yaml.v3 cannot read it: %v", err)
		}
		masters, workers := 0, 0
		for _, m := range l.Machines {
			if m["pai-master"] == "true" {
				masters++
			}
			if m["pai-worker"] == "true" {
				workers++
			}
		}
		if masters != 1 || workers == 0 {
			t.Fatalf("accepted with %d masters and %d workers", masters, workers)
		}
		// ParseLayout reads the same machines.
		pl, err := ParseLayout(data, "fuzz.yaml")
		if err != nil || len(pl.Machines) != len(l.Machines) {
			t.Fatalf("accepted, but ParseLayout: %v", err)
		}
		for i, m := range pl.Machines {
			if m.Master != (l.Machines[i]["pai-master"] == "true") || m.Worker != (l.Machines[i]["pai-worker"] == "true") {
				t.Fatalf("machine %d read as %+v, yaml.v3 reads %v", i, m, l.Machines[i])
			}
		}
	})
}
