package badlink

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the process if the test binary dies
// without running its cleanups (a panic, a timeout), so no peer outlives
// its test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
