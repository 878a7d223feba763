package media

import (
	"os/exec"
	"syscall"
	"time"
)

// SetProcessGroup makes cmd the leader of a new process group that dies
// with the server: when cmd's context ends, the whole group (ffmpeg and
// anything it started) is killed, and the kernel kills it too if the server
// process dies first. Processes started this way never outlive the server.
func SetProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return KillGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
}

// KillGroup kills the process group cmd leads.
func KillGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// SignalGroup sends sig to the process group cmd leads (SIGSTOP and SIGCONT
// pause and resume a transcode).
func SignalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
