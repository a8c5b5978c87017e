//go:build unix

package secret

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in its own process group and makes a
// cancel kill the whole group, so that a timed-out `sh -c` does not leave
// its children (the password manager it started) running.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
