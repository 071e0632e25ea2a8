// Package imports holds no code: its test checks the project's dependency
// rules (the design's paragraph under its package table) against what
// `go list` reports of the module, so a new import that breaks one fails
// the tests instead of waiting for a reviewer.
package imports
