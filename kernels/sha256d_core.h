/*
 * The SHA-256d nonce search core, shared by sha256d.cl (OpenCL C) and
 * sha256d.cu (CUDA C). The including file defines the portability macros:
 *
 *   HF_KERNEL            kernel entry qualifier
 *   HF_JOB_PTR           pointer type of the read-only job words
 *   HF_OUT_PTR           pointer type of the result buffer
 *   HF_ROTR(x, n)        32-bit rotate right by a constant
 *   HF_BSWAP(x)          32-bit byte swap
 *   HF_SELECT(a, b, c)   per bit: c ? b : a (OpenCL's bitselect)
 *   HF_ATOMIC_INC(p)     atomic increment of *p, returning the old value
 *   HF_GLOBAL_ID         the thread's global index
 *   u32                  32-bit unsigned integer
 *
 * The host side (kernels.NewJob in Go) writes the job words, how many
 * nonces each thread searches among them; their layout is below and in
 * kernels.go.
 *
 * Per nonce the kernel runs rounds 3-63 of the header's second block (rounds
 * 0-2 see only the merkle tail, time and bits, so the host runs them once per
 * job) and rounds 0-60 of the second hash: the last hash word is final after
 * round 60, and a hash whose last word is above the target's is dropped
 * there. The few that pass finish rounds 61-63 and are compared with the
 * whole target, so the result list holds hits only: an easy target (half of
 * all nonces pass regtest's top word) fills it no faster than it has hits,
 * and the host sizes launches so that they fit. The host checks each hit
 * once more on the CPU.
 */

#define HF_JOB_MID     0  /* 8 words: SHA-256 state after the header's first 64 bytes */
#define HF_JOB_STATE3  8  /* 8 words: a..h after rounds 0-2 of the second block */
#define HF_JOB_W       16 /* 3 words: second block words 0-2 */
#define HF_JOB_W16     19 /* schedule word 16: no nonce in it */
#define HF_JOB_W17     20 /* schedule word 17: no nonce in it */
#define HF_JOB_TARGET  21 /* 8 words: the target, little-endian words, least significant first */
#define HF_JOB_START   29 /* first nonce of the launch */
#define HF_JOB_COUNT   30 /* nonces in the launch */
#define HF_JOB_NONCES  31 /* nonces each thread searches, one after another */

#define HF_RESULT_CAP  1048575 /* out[0] counts hits, out[1..] holds up to this many */

#define HF_S0(x) (HF_ROTR(x, 2) ^ HF_ROTR(x, 13) ^ HF_ROTR(x, 22))
#define HF_S1(x) (HF_ROTR(x, 6) ^ HF_ROTR(x, 11) ^ HF_ROTR(x, 25))
#define HF_s0(x) (HF_ROTR(x, 7) ^ HF_ROTR(x, 18) ^ ((x) >> 3))
#define HF_s1(x) (HF_ROTR(x, 17) ^ HF_ROTR(x, 19) ^ ((x) >> 10))
#define HF_CH(x, y, z)  HF_SELECT(z, y, x)
#define HF_MAJ(x, y, z) HF_SELECT(x, y, (z) ^ (x))

/*
 * Round i on v[8]: rather than shifting eight words every round, the words
 * rotate through the array, a at v[-i & 7]. Unrolled, every index is a
 * constant and v lives in registers.
 */
#define HF_ROUND(v, i, k, w) do { \
	u32 t1 = v[(7 - (i)) & 7] + HF_S1(v[(4 - (i)) & 7]) + \
		HF_CH(v[(4 - (i)) & 7], v[(5 - (i)) & 7], v[(6 - (i)) & 7]) + (k) + (w); \
	u32 t2 = HF_S0(v[(0 - (i)) & 7]) + HF_MAJ(v[(0 - (i)) & 7], v[(1 - (i)) & 7], v[(2 - (i)) & 7]); \
	v[(3 - (i)) & 7] += t1; \
	v[(7 - (i)) & 7] = t1 + t2; \
} while (0)

#define HF_SCHEDULE(w, i) (HF_s1(w[(i) - 2]) + w[(i) - 7] + HF_s0(w[(i) - 15]) + w[(i) - 16])

HF_KERNEL void sha256d_search(HF_JOB_PTR job, HF_OUT_PTR out)
{
	const u32 K[64] = {
		0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
		0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
		0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
		0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
		0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
		0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
		0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
		0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
	};
	const u32 per = job[HF_JOB_NONCES];
	const u32 first = (u32)HF_GLOBAL_ID * per;
	const u32 count = job[HF_JOB_COUNT];
	const u32 target = job[HF_JOB_TARGET + 7];

	for (u32 j = 0; j < per; j++) {
		if (first + j >= count)
			return;
		const u32 nonce = job[HF_JOB_START] + first + j;

		/* Second block of the header: the nonce is word 3, big-endian. */
		u32 w[64];
		w[0] = job[HF_JOB_W];
		w[1] = job[HF_JOB_W + 1];
		w[2] = job[HF_JOB_W + 2];
		w[3] = HF_BSWAP(nonce);
		w[4] = 0x80000000;
		#pragma unroll
		for (int i = 5; i < 15; i++)
			w[i] = 0;
		w[15] = 640; /* 80 bytes, in bits */
		w[16] = job[HF_JOB_W16];
		w[17] = job[HF_JOB_W17];
		u32 v[8];
		#pragma unroll
		for (int i = 0; i < 8; i++)
			v[(i - 3) & 7] = job[HF_JOB_STATE3 + i];
		#pragma unroll
		for (int i = 3; i < 64; i++) {
			if (i >= 18)
				w[i] = HF_SCHEDULE(w, i);
			HF_ROUND(v, i, K[i], w[i]);
		}

		/* Second hash over the 32-byte first hash. */
		#pragma unroll
		for (int i = 0; i < 8; i++)
			w[i] = job[HF_JOB_MID + i] + v[i];
		w[8] = 0x80000000;
		#pragma unroll
		for (int i = 9; i < 15; i++)
			w[i] = 0;
		w[15] = 256;
		v[0] = 0x6a09e667; v[1] = 0xbb67ae85; v[2] = 0x3c6ef372; v[3] = 0xa54ff53a;
		v[4] = 0x510e527f; v[5] = 0x9b05688c; v[6] = 0x1f83d9ab; v[7] = 0x5be0cd19;
		#pragma unroll
		for (int i = 0; i < 61; i++) {
			if (i >= 16)
				w[i] = HF_SCHEDULE(w, i);
			HF_ROUND(v, i, K[i], w[i]);
		}
		/* Round 60 wrote the final h into v[7]; rounds 61-63 cannot change it. */
		if (HF_BSWAP(v[7] + 0x5be0cd19) > target)
			continue;
		#pragma unroll
		for (int i = 61; i < 64; i++) {
			w[i] = HF_SCHEDULE(w, i);
			HF_ROUND(v, i, K[i], w[i]);
		}
		/* The hash as a little-endian number: word k is H[k] byte-swapped,
		 * word 7 the most significant. */
		const u32 iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
		int meets = 1;
		#pragma unroll
		for (int k = 7; k >= 0; k--) {
			const u32 h = HF_BSWAP(iv[k] + v[k]);
			const u32 t = job[HF_JOB_TARGET + k];
			if (h != t) {
				meets = h < t;
				break;
			}
		}
		if (meets) {
			u32 slot = HF_ATOMIC_INC(&out[0]);
			if (slot < HF_RESULT_CAP)
				out[1 + slot] = nonce;
		}
	}
}
