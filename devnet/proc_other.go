//go:build !linux

package devnet

import "syscall"

// sysProcAttr: only Linux can tie a child's life to its parent's, so
// elsewhere the nodes stay in the launcher's process group, where a
// terminal's Ctrl-C or hang-up reaches them too, and a launcher killed
// outright leaves them running: their pid files (D/node<i>/pid) say which.
func sysProcAttr() *syscall.SysProcAttr { return nil }
