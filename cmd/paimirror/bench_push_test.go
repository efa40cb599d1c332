package main

// BenchmarkPush: paimirror push of a bundle into distribution's registry
// v3.1.2 against crane copy of the same images, one by one, from paimirror
// serve of the same bundle into the same kind of registry, side by side in
// each round:
//
//	BenchmarkPush/paimirror  vs  BenchmarkPush/crane
//
// The bundle is the throughput fixture (pullSpec: 32 images of 12-19 MiB
// sharing a 4 MiB base layer). Each op pushes every image into a fresh,
// empty registry (started before the timer, stopped after it), so neither
// side finds anything there. Compared: paimirror's time over crane's (goal
// ≤ 0.5). Only the ratio of one run means anything.

import (
	"os/exec"
	"strings"
	"testing"
)

func BenchmarkPush(b *testing.B) {
	bin, regBin, crane := serveBin(b), registryBin(b), craneBin(b)
	path := benchBundle(b, pullSpec)
	bn := openBenchBundle(b, path)
	src := startBenchServe(b, bin, path)
	srcHost := strings.TrimPrefix(src.url, "http://")

	type side struct {
		name string
		push func(b *testing.B, dst string)
	}
	sides := []side{
		{"paimirror", func(b *testing.B, dst string) {
			if out, err := exec.Command(bin, "push", "-q", path, dst, "--insecure").CombinedOutput(); err != nil {
				b.Fatalf("paimirror push: %v\n%s", err, out)
			}
		}},
		{"crane", func(b *testing.B, dst string) {
			for _, img := range bn.Lock.Images {
				for _, n := range img.Names {
					if out, err := exec.Command(crane, "copy", "--insecure", srcHost+"/"+n, dst+"/"+n).CombinedOutput(); err != nil {
						b.Fatalf("crane copy %s: %v\n%s", n, err, out)
					}
				}
			}
		}},
	}
	for round := range benchRounds() {
		for _, s := range inTurn(sides, round) {
			b.Run(s.name, func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					dst := startEmptyBenchRegistry(b, regBin)
					b.StartTimer()
					s.push(b, strings.TrimPrefix(dst.url, "http://"))
					b.StopTimer()
					dst.stop()
					b.StartTimer()
				}
				b.ReportMetric(float64(len(bn.Lock.Images)), "images")
			})
		}
	}
}
