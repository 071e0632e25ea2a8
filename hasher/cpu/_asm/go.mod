module github.com/hashforge/hashforge/hasher/cpu/_asm

go 1.26.0

require (
	github.com/hashforge/hashforge v0.0.0
	github.com/mmcloughlin/avo v0.5.0
)

require (
	golang.org/x/mod v0.6.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/tools v0.2.0 // indirect
)

replace github.com/hashforge/hashforge => ../../..
