// Command paimirror carries an OpenPAI install across an air gap: build a
// bundle where the internet is, serve it in the lab, install from it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// cpuProfileEnv names a file that receives a CPU profile (go tool pprof) of
// the whole command, for finding where a build or a push spends its time.
const cpuProfileEnv = "PAIMIRROR_CPUPROFILE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// startProfile starts the CPU profile $PAIMIRROR_CPUPROFILE asks for and
// returns what stops it; without the variable it does nothing.
func startProfile() func() {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "paimirror: $%s: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
