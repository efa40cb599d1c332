package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
)

// minPartSize is the smallest --part-size: smaller is taken for a typo
// (700K for 700M) that would write thousands of files.
const minPartSize = 1 << 20

// fat32Max is the largest file FAT32 holds: 4 GiB less one byte.
const fat32Max = 4<<30 - 1

type splitOptions struct {
	*globalOptions
	partSize int64
	prefix   string
	force    bool
	remove   bool
}

func newSplitCmd(g *globalOptions) *cobra.Command {
	o := &splitOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "split BUNDLE --part-size SIZE [-o PREFIX]",
		Short: "Cut a bundle into parts for removable media, with an index of their sha256",
		Long: `Split writes BUNDLE as parts of SIZE bytes (the last holds the rest),
PREFIX.part001, PREFIX.part002, …, and an index of each part's size and
sha256, PREFIX.split.json (PREFIX: the bundle's path unless -o). The parts
are byte slices of the bundle: serve and verify read them as the bundle
('paimirror serve PREFIX.part*'), and 'cat PREFIX.part* > BUNDLE' joins
them byte for byte. 'paimirror verify PREFIX.split.json' checks every part
against the index first and names a missing or damaged one before
checking the blobs.

SIZE is a number of bytes, or one with a unit: K, M, G, T (or KiB, MiB,
GiB, TiB) are powers of 1024, KB, MB, GB, TB powers of 1000 (as coreutils'
split reads them); a fraction is allowed with a unit (4.7GB). At least 1M.
FAT32 holds files up to 4 GiB less one byte: use 4095M there, not 4G.

Parts are written under temporary names and renamed when all are synced,
the index last. Split needs the bundle's size in free space (unless the
filesystem shares blocks, btrfs or XFS); the bundle is kept unless
--remove. Existing parts with the same prefix are replaced only with
--force.`,
		Example: `  paimirror split openpai-v1.8.0.tar --part-size 4095M
  paimirror split openpai-v1.8.0.tar --part-size 4.7GB -o /media/usb/openpai-v1.8.0.tar --remove
  paimirror verify /media/usb/openpai-v1.8.0.tar.split.json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSplit(cmd.Context(), o, args[0]) },
	}
	f := cmd.Flags()
	f.Var(sizeFlag{&o.partSize}, "part-size", "size of each part: 4G, 4095M, 4.7GB, 4000000000 (K/M/G/T: powers of 1024; KB/MB/GB/TB: of 1000; at least 1M)")
	f.StringVarP(&o.prefix, "output", "o", "", "write PREFIX.part001, … and PREFIX.split.json (default: the bundle's path)")
	f.BoolVar(&o.force, "force", false, "replace parts and an index with this prefix that exist")
	f.BoolVar(&o.remove, "remove", false, "remove the bundle once its parts and index are written and synced")
	cmd.MarkFlagRequired("part-size")
	return cmd
}

func runSplit(ctx context.Context, o *splitOptions, path string) error {
	res, err := splitWithProgress(ctx, o.globalOptions, path, bundle.SplitOptions{
		PartSize: o.partSize, Prefix: o.prefix, Force: o.force, RemoveBundle: o.remove,
	})
	if err != nil {
		return err
	}
	printSplit(o.globalOptions, res, path, o.remove)
	return nil
}

// splitWithProgress runs bundle.Split with a bar on a terminal unless
// --quiet.
func splitWithProgress(ctx context.Context, g *globalOptions, path string, opts bundle.SplitOptions) (*bundle.SplitResult, error) {
	var bar *progressbar.ProgressBar
	if !g.quiet && isTerminal(g.stderr) {
		total := int64(-1) // a spinner when the size is unknown
		if st, err := os.Stat(path); err == nil {
			total = st.Size()
		}
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription("splitting"))
		opts.Progress = func(n int64) { bar.Add64(n) }
	}
	res, err := bundle.Split(ctx, path, opts)
	if bar != nil {
		bar.Finish()
	}
	return res, err
}

// printSplit says what Split wrote and how to use it.
func printSplit(g *globalOptions, res *bundle.SplitResult, path string, removed bool) {
	idx := res.Index
	last := idx.Parts[len(idx.Parts)-1].Size
	lastNote := ""
	if len(idx.Parts) > 1 && last != idx.PartSize {
		lastNote = fmt.Sprintf(" (the last %s)", bundle.HumanSize(last))
	}
	what := fmt.Sprintf("%d parts of %s%s", len(res.Parts), bundle.HumanSize(idx.PartSize), lastNote)
	if len(res.Parts) == 1 {
		what = fmt.Sprintf("1 part of %s (the part size is %s)", bundle.HumanSize(last), bundle.HumanSize(idx.PartSize))
	}
	fmt.Fprintf(g.stdout, "wrote %s and %s:\n", what, res.IndexPath)
	for _, p := range res.Parts {
		fmt.Fprintf(g.stdout, "  %s\n", p)
	}
	for _, p := range res.Removed {
		fmt.Fprintf(g.stdout, "removed %s, a part of an earlier split\n", p)
	}
	prefix := strings.TrimSuffix(res.IndexPath, bundle.SplitIndexSuffix)
	fmt.Fprintf(g.stdout, "check them where they arrive with 'paimirror verify %s'; serve and verify read the parts as they are ('paimirror serve %s.part*'), and 'cat %s.part* > %s' joins them\n",
		res.IndexPath, prefix, prefix, prefix)
	if removed {
		fmt.Fprintf(g.stdout, "removed %s\n", path)
	} else {
		fmt.Fprintf(g.stdout, "%s is kept; remove it once the parts are on their media (or split with --remove)\n", path)
	}
	if idx.Parts[0].Size > fat32Max {
		fmt.Fprintf(g.stderr, "note: parts of %s do not fit on FAT32 media (at most 4 GiB less one byte a file); use --part-size 4095M there\n", bundle.HumanSize(idx.Parts[0].Size))
	}
}

// sizeFlag is a byte size flag read by parseSize, at least minPartSize.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return ""
	}
	return strconv.FormatInt(*f.n, 10)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n < minPartSize {
		return fmt.Errorf("%s is less than the 1 MiB a part must hold at least (sizes: 4G, 700M, 4.7GB)", bundle.HumanSize(n))
	}
	*f.n = n
	return nil
}

func (f sizeFlag) Type() string { return "SIZE" }

var (
	sizeRE   = regexp.MustCompile(`(?s)^([0-9.]*)\s*(.*)$`)
	numberRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
)

// parseSize reads a byte size: a whole number of bytes (4000000000, or
// 1024B), or a number with a unit: K, M, G, T, with or without "i" and
// "B" (KiB, Gi), are powers of 1024; KB, MB, GB, TB powers of 1000, as
// coreutils' split reads them. Units are case-insensitive. A fraction is
// allowed with a unit (4.7GB); the size is rounded down to a byte.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty size; give one such as 4G, 700M or 4.7GB")
	}
	m := sizeRE.FindStringSubmatch(s)
	num, unit := m[1], m[2]
	if num == "" {
		return 0, fmt.Errorf("size %q has no number; give one such as 4G, 700M or 4.7GB", s)
	}
	if !numberRE.MatchString(num) {
		return 0, fmt.Errorf("size %q: %q is not a number", s, num)
	}
	mult := int64(1)
	switch u := strings.ToLower(unit); u {
	case "", "b":
	default:
		exp := strings.IndexByte("kmgt", u[0]) + 1
		if exp == 0 {
			return 0, fmt.Errorf("size %q: unknown unit %q (K, M, G, T: powers of 1024; KB, MB, GB, TB: of 1000)", s, unit)
		}
		switch u[1:] {
		case "", "i", "ib":
			mult = 1 << (10 * exp)
		case "b":
			mult = int64(math.Pow10(3 * exp))
		default:
			return 0, fmt.Errorf("size %q: unknown unit %q (K, M, G, T: powers of 1024; KB, MB, GB, TB: of 1000)", s, unit)
		}
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("size %q: %q is not a number", s, num)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if mult == 1 && !r.IsInt() {
		return 0, fmt.Errorf("size %q: a number of bytes must be whole", s)
	}
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n.Int64(), nil
}

// checkSplits resolves the split indexes of verify's paths (see
// bundle.FindSplits) and checks every part against its index before
// anything else is read: a part missing, cut short or damaged is named
// (DAMAGED lines on stdout) and the error has exit status 3; parts named
// wrongly are a usage error. It returns the files to open, and a name
// for the bundle when the paths are one split bundle ("" otherwise).
// Cost: one read of every part.
// findSplits resolves the split indexes among a command's bundle
// arguments (bundle.FindSplits): serve, push and verify take a split
// bundle as its index, its parts, or both. A wrong list of parts is a
// usage error.
func findSplits(paths []string) (*bundle.SplitArgs, error) {
	sa, err := bundle.FindSplits(paths)
	if errors.Is(err, bundle.ErrPartList) {
		return nil, usageError{err}
	}
	return sa, err
}

// openBundle opens a command's bundle arguments, split indexes resolved to
// their parts.
func openBundle(paths []string) (*bundle.Bundle, error) {
	sa, err := findSplits(paths)
	if err != nil {
		return nil, err
	}
	return bundle.Open(sa.Paths...)
}

func checkSplits(ctx context.Context, g *globalOptions, paths []string) ([]string, string, error) {
	sa, err := findSplits(paths)
	if err != nil {
		return nil, "", err
	}
	if !g.quiet {
		for _, first := range sa.Unindexed {
			fmt.Fprintf(g.stderr, "no split index %s: the parts from %s on are checked as one bundle, and damage is named by blob, not by part\n", bundle.SplitIndexFor(first), first)
		}
	}
	if len(sa.Splits) == 0 {
		return sa.Paths, "", nil
	}
	var total int64
	for _, sp := range sa.Splits {
		total += sp.Index.Size
	}
	var bar *progressbar.ProgressBar
	var opts bundle.CheckPartsOptions
	if !g.quiet && isTerminal(g.stderr) {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription("checking parts"))
		opts.Progress = func(n int64) { bar.Add64(n) }
	}
	var probs []bundle.PartProblem
	parts := 0
	for _, sp := range sa.Splits {
		p, err := sp.Check(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		probs = append(probs, p...)
		parts += len(sp.Index.Parts)
	}
	if bar != nil {
		bar.Finish()
	}
	if len(probs) > 0 {
		var names []string
		for _, p := range probs {
			fmt.Fprintln(g.stdout, "DAMAGED:", p)
			names = append(names, p.Name)
		}
		return nil, "", fmt.Errorf("%w: %d of %d parts damaged or missing (%s); copy them again from the source medium, then verify again",
			errDamaged, len(probs), parts, strings.Join(names, ", "))
	}
	for _, sp := range sa.Splits {
		if err := sp.CheckLock(); err != nil {
			return nil, "", err
		}
		fmt.Fprintf(g.stdout, "%s: all %d parts match their sha256\n", sp.IndexPath, len(sp.Index.Parts))
	}
	label := ""
	if sp := sa.Splits[0]; len(sa.Splits) == 1 && len(sa.Paths) == len(sp.Paths) {
		label = fmt.Sprintf("%s (%d parts)", sp.Index.Bundle, len(sp.Paths))
	}
	return sa.Paths, label, nil
}
