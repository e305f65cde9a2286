package realkube

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill kube-apiserver when the test process
// dies without stopping it.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
