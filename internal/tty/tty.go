// Package tty tells whether output goes to a terminal, where a tool
// redraws a line or a table in place instead of appending to a log.
package tty

import (
	"io"
	"os"
	"strings"
)

// Is reports whether w is a terminal (a character device) that can redraw:
// not a file, a pipe, or a terminal of TERM=dumb.
func Is(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && !strings.HasPrefix(os.Getenv("TERM"), "dumb")
}
