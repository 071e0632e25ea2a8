package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// cpuid emits hasSHA: golang.org/x/sys/cpu reports no SHA extensions on x86.
func cpuid() {
	TEXT("hasSHA", NOSPLIT, "func() bool")
	Doc("hasSHA reports whether the CPU has the SHA extensions (CPUID leaf 7, EBX bit 29).")
	// Leaf 7 exists only where leaf 0 says so.
	XORL(EAX, EAX)
	CPUID()
	CMPL(EAX, U32(7))
	JB(LabelRef("no_sha"))
	MOVL(U32(7), EAX)
	XORL(ECX, ECX)
	CPUID()
	SHRL(U8(29), EBX)
	ANDL(U32(1), EBX)
	Store(EBX.As8(), ReturnIndex(0))
	RET()
	Label("no_sha")
	XORL(EBX, EBX)
	Store(EBX.As8(), ReturnIndex(0))
	RET()
}
