/* OpenCL C entry of the SHA-256d search; the core is sha256d_core.h. */
typedef uint u32;
#define HF_KERNEL            __kernel
#define HF_JOB_PTR           __constant const uint *restrict
#define HF_OUT_PTR           __global volatile uint *restrict
#define HF_ROTR(x, n)        rotate((uint)(x), (uint)(32 - (n)))
#define HF_BSWAP(x)          as_uint(as_uchar4((uint)(x)).s3210)
#define HF_SELECT(a, b, c)   bitselect((uint)(a), (uint)(b), (uint)(c))
#define HF_ATOMIC_INC(p)     atomic_inc(p)
#define HF_GLOBAL_ID         get_global_id(0)
#include "sha256d_core.h"
