package devnet

import "syscall"

// sysProcAttr starts a devnet node in a process group of its own and
// has the kernel SIGKILL it when the launcher dies, however it dies.
//
// Its own group: a terminal's Ctrl-C (or a signal to the launcher's group)
// reaches only the launcher, which then interrupts each node once; a node
// interrupted twice could die of the second SIGINT while shutting down.
// Pdeathsig follows the OS thread that started the child, and the Go runtime
// ends threads only under LockOSThread, which the launcher never uses; a
// node SIGKILLed this way loses nothing its chain had committed (every block
// is one bbolt transaction).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
