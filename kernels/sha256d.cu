/*
 * CUDA C entry of the SHA-256d search; the core is sha256d_core.h. Built by
 * clang without the CUDA toolkit (-nocudainc -nocudalib), so it uses clang's
 * NVPTX builtins where CUDA headers would give intrinsics. __constant__ only
 * qualifies variables in CUDA, so the job is a plain read-only pointer.
 */
typedef unsigned int u32;
/* Threads per block of every launch (hasher/cuda's blockSize): the bound
 * lets the compiler budget registers for exactly that many. */
#define HF_BLOCK_SIZE        256
#define HF_KERNEL            extern "C" __attribute__((global)) __attribute__((launch_bounds(HF_BLOCK_SIZE)))
#define HF_JOB_PTR           const u32 *__restrict__
#define HF_OUT_PTR           u32 *__restrict__
#define HF_ROTR(x, n)        __builtin_rotateright32((x), (n))
#define HF_BSWAP(x)          __builtin_bswap32(x)
#define HF_SELECT(a, b, c)   ((a) ^ (((a) ^ (b)) & (c)))
#define HF_ATOMIC_INC(p)     ((u32)__nvvm_atom_add_gen_i((int *)(p), 1))
#define HF_GLOBAL_ID         (__nvvm_read_ptx_sreg_ctaid_x() * __nvvm_read_ptx_sreg_ntid_x() + __nvvm_read_ptx_sreg_tid_x())
#include "sha256d_core.h"
