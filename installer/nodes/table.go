package nodes

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Status is the outcome of one check on one node.
type Status int

// The outcomes of a check.
const (
	Pass Status = iota + 1 // the requirement is met
	Warn                   // a non-blocking requirement is not met
	Fail                   // a blocking requirement is not met: the install stops
	Skip                   // not checked, because SSH or sudo failed on the node
)

// String returns "pass", "warn", "FAIL" or "skip", as the table shows them.
func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	case Skip:
		return "skip"
	}
	return "?"
}

// CheckResult is one cell of the preflight table.
type CheckResult struct {
	Node     string // the node's name
	Check    string // the Check's ID
	Status   Status
	Blocking bool   // a Fail of this check stops the install
	Detail   string // what was found, e.g. "Ubuntu 18.04" or the error
	Fix      string // one line saying how to fix a Warn or Fail; empty on Pass
}

// OK reports whether the check passed.
func (r CheckResult) OK() bool { return r.Status == Pass }

// Table is the preflight's result: every node against every check that
// applies to it. Results holds one CheckResult per applicable (node,
// check), rows in Nodes order and, within a row, in Checks order; a check
// that does not apply to a node (nvidia on a CPU worker, ntp on a worker)
// has no result and shows as "-".
type Table struct {
	Nodes   []Node
	Checks  []Check
	Results []CheckResult
}

// Result returns the result of check on node, if that check applies there.
func (t *Table) Result(node, check string) (CheckResult, bool) {
	for _, r := range t.Results {
		if r.Node == node && r.Check == check {
			return r, true
		}
	}
	return CheckResult{}, false
}

// Problems returns the failures and warnings, blocking ones first, each
// group in table order.
func (t *Table) Problems() []CheckResult {
	var blocking, others []CheckResult
	for _, r := range t.Results {
		switch {
		case r.Status == Fail:
			blocking = append(blocking, r)
		case r.Status == Warn:
			others = append(others, r)
		}
	}
	return append(blocking, others...)
}

// Err returns a *BlockingError listing every blocking failure, or nil when
// the install may go on (warnings do not stop it).
func (t *Table) Err() error {
	var fails []CheckResult
	for _, r := range t.Results {
		if r.Status == Fail {
			fails = append(fails, r)
		}
	}
	if len(fails) == 0 {
		return nil
	}
	return &BlockingError{Failures: fails}
}

// Render writes the table, one row per node and one column per check, then
// the problems with their fixes:
//
//	NODE         ROLE        ssh   sudo  os    memory  ...
//	pai-master   master      pass  pass  pass  pass    ...
//	pai-worker1  worker,gpu  pass  pass  pass  warn    ...
//
//	FAIL pai-worker1 daemon.json: /etc/docker/daemon.json: line 1, column 2: ...
//	     fix: ...
//	warn pai-worker1 memory: 15.6 GB, the seed guide asks for 16 GB on a worker
//	     fix: ...
func (t *Table) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"NODE", "ROLE"}
	for _, c := range t.Checks {
		head = append(head, c.ID)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, n := range t.Nodes {
		row := []string{n.Name, roleLabel(n)}
		for _, c := range t.Checks {
			cell := "-"
			if r, ok := t.Result(n.Name, c.ID); ok {
				cell = r.Status.String()
			}
			row = append(row, cell)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	problems := t.Problems()
	if len(problems) == 0 {
		_, err := fmt.Fprintln(w, "\nevery check passed")
		return err
	}
	fmt.Fprintln(w)
	for _, r := range problems {
		if _, err := fmt.Fprintf(w, "%s %s %s: %s\n", r.Status, r.Node, r.Check, oneLine(r.Detail)); err != nil {
			return err
		}
		if r.Fix != "" {
			fmt.Fprintf(w, "     fix: %s\n", r.Fix)
		}
	}
	return nil
}

// String is the rendered table.
func (t *Table) String() string {
	var b strings.Builder
	_ = t.Render(&b)
	return b.String()
}

func roleLabel(n Node) string {
	s := n.Role.String()
	if n.GPU {
		s += ",gpu"
	}
	if n.Storage {
		s += ",storage"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
