//go:build !amd64 || purego

package cpu

import "github.com/hashforge/hashforge/hasher/cpu/internal/sha256d"

// assemblyPaths: no assembly for this architecture (or a purego build).
func assemblyPaths() []*path { return nil }

func scanAssembly(id int, j *sha256d.Job, nonce uint32, groups int) (int, uint32) {
	panic("cpu: no assembly paths in this build")
}
