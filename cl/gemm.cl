/* cl/gemm.cl: clmp's portable GEMM, C = alpha * op(A) * op(B) + beta * C, row-major, any storage
 * dtypes (A_DT, B_DT, C_DT), fp32 accumulation: tiles in local memory, a block of C per item. */

/* Tile sizes (host/ops/gemm.c picks a set per device; these defaults fit any OpenCL 1.2 device
 * with 64 work-items and 4.3 KiB of local memory). Each tile size is a multiple of its WPT. */
#ifndef GEMM_TILE_M
#define GEMM_TILE_M 32 /* rows of C per work-group */
#endif
#ifndef GEMM_TILE_N
#define GEMM_TILE_N 32 /* columns of C per work-group */
#endif
#ifndef GEMM_TILE_K
#define GEMM_TILE_K 16 /* depth of one pass through local memory */
#endif
#ifndef GEMM_WPT_M
#define GEMM_WPT_M 4 /* rows of C per work-item (register block) */
#endif
#ifndef GEMM_WPT_N
#define GEMM_WPT_N 4 /* columns of C per work-item */
#endif

#define GEMM_PAD     1 /* one extra float per local row against bank conflicts */

/* Operand loads without LOAD_F16's NaN rule: a NaN input makes NaN outputs whatever its payload,
 * and the rule costs a second load of every f16 element. */
#define GEMM_LOAD_F32(p, i)  ((p)[i])
#if CLMP_CPU
#define GEMM_LOAD_F16(p, i) clmp_f16_bits_to_f32(((__global const ushort *)(p))[i])
#else
#define GEMM_LOAD_F16(p, i) vload_half((i), (p))
#endif
#define GEMM_LOAD_BF16(p, i) clmp_bf16_to_f32((p)[i])
#define GEMM_LOAD(dt, p, i)  CLMP_CAT(GEMM_LOAD_, dt)(p, i)
#define GEMM_ITEMS_M (GEMM_TILE_M / GEMM_WPT_M) /* work-items along M: local id 1 */
#define GEMM_ITEMS_N (GEMM_TILE_N / GEMM_WPT_N) /* work-items along N: local id 0 */
#define GEMM_ITEMS   (GEMM_ITEMS_M * GEMM_ITEMS_N)
#define GEMM_LDS_A   (GEMM_TILE_M + GEMM_PAD) /* local row length of the A tile, [k][m] */
#define GEMM_LDS_B   (GEMM_TILE_N + GEMM_PAD) /* local row length of the B tile, [k][n] */

/* Where element i of a rows x GEMM_TILE_K tile goes: consecutive work-items walk along k when k
 * is contiguous in memory (sk == 1), else along the rows, so that global reads coalesce. */
inline uint2 gemm_tile_pos(uint i, uint rows, ulong sk) {
  return sk == 1 ? (uint2)(i / GEMM_TILE_K, i % GEMM_TILE_K) : (uint2)(i % rows, i / rows);
}

/* The tile op(A)[m0 .. m0+TILE_M, k0 .. k0+TILE_K] into t[k][m], zeros outside M x K. op(A)[m, k]
 * lies at off + m * sm + k * sk. */
inline void gemm_load_a(__local float *t, __global const TYPE(A_DT) *a, ulong off, ulong sm,
                        ulong sk, uint m0, uint m_end, uint k0, uint k_end, uint lid) {
  for (uint i = lid; i < GEMM_TILE_M * GEMM_TILE_K; i += GEMM_ITEMS) {
    uint2 p = gemm_tile_pos(i, GEMM_TILE_M, sk);
    uint m = m0 + p.x, k = k0 + p.y;
    t[p.y * GEMM_LDS_A + p.x] =
        m < m_end && k < k_end ? GEMM_LOAD(A_DT, a, off + m * sm + k * sk) : 0.0f;
  }
}

/* The tile op(B)[k0 .. k0+TILE_K, n0 .. n0+TILE_N] into t[k][n], zeros outside K x N. op(B)[k, n]
 * lies at off + k * sk + n * sn. */
inline void gemm_load_b(__local float *t, __global const TYPE(B_DT) *b, ulong off, ulong sk,
                        ulong sn, uint n0, uint n_end, uint k0, uint k_end, uint lid) {
  for (uint i = lid; i < GEMM_TILE_N * GEMM_TILE_K; i += GEMM_ITEMS) {
    uint2 p = gemm_tile_pos(i, GEMM_TILE_N, sk);
    uint n = n0 + p.x, k = k0 + p.y;
    t[p.y * GEMM_LDS_B + p.x] =
        n < n_end && k < k_end ? GEMM_LOAD(B_DT, b, off + k * sk + n * sn) : 0.0f;
  }
}

/* acc += the item's block of (A tile) x (B tile), k in increasing order. The item's rows are
 * ly + i * ITEMS_M and its columns lx + j * ITEMS_N, so neighbouring items store neighbouring
 * columns. A plain multiply-add, which the compiler may fuse (FP_CONTRACT is on by default):
 * fma() would be exact everywhere but emulated, and slow, on hardware without it. */
inline void gemm_tile_mul(__local const float *as, __local const float *bs, uint ly, uint lx,
                          float acc[GEMM_WPT_M][GEMM_WPT_N]) {
  for (uint k = 0; k < GEMM_TILE_K; k++) {
    float av[GEMM_WPT_M], bv[GEMM_WPT_N];
    for (uint i = 0; i < GEMM_WPT_M; i++) av[i] = as[k * GEMM_LDS_A + ly + i * GEMM_ITEMS_M];
    for (uint j = 0; j < GEMM_WPT_N; j++) bv[j] = bs[k * GEMM_LDS_B + lx + j * GEMM_ITEMS_N];
    for (uint i = 0; i < GEMM_WPT_M; i++)
      for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] += av[i] * bv[j];
  }
}

/* C[m, n] = alpha * acc + beta * C[m, n] for the item's block inside M x N; with beta 0 the old
 * C is not read, so NaN there does not propagate. */
inline void gemm_store(__global TYPE(C_DT) *c, ulong off, ulong ldc, uint m0, uint m_end, uint n0,
                       uint n_end, float alpha, float beta, float acc[GEMM_WPT_M][GEMM_WPT_N]) {
  for (uint i = 0; i < GEMM_WPT_M; i++) {
    uint m = m0 + i * GEMM_ITEMS_M;
    for (uint j = 0; j < GEMM_WPT_N && m < m_end; j++) {
      uint n = n0 + j * GEMM_ITEMS_N;
      if (n >= n_end) continue;
      ulong at = off + m * ldc + n;
      float v = alpha * acc[i][j];
      if (beta != 0.0f) v += beta * LOAD(C_DT, c, at);
      STORE(C_DT, c, at, v);
    }
  }
}

/* One work-group computes a GEMM_TILE_M x GEMM_TILE_N block of C; dimension 0 runs along N,
 * dimension 1 along M. Offsets and strides are in elements; the strides express op(). */
__kernel __attribute__((reqd_work_group_size(GEMM_ITEMS_N, GEMM_ITEMS_M, 1))) void
gemm(const uint m_len, const uint n_len, const uint k_len, const float alpha,
     __global const TYPE(A_DT) *a, const ulong a_off, const ulong a_sm, const ulong a_sk,
     __global const TYPE(B_DT) *b, const ulong b_off, const ulong b_sk, const ulong b_sn,
     const float beta, __global TYPE(C_DT) *c, const ulong c_off, const ulong ldc) {
  __local float as[GEMM_TILE_K * GEMM_LDS_A];
  __local float bs[GEMM_TILE_K * GEMM_LDS_B];
  uint lx = get_local_id(0), ly = get_local_id(1), lid = ly * GEMM_ITEMS_N + lx;
  uint m0 = get_group_id(1) * GEMM_TILE_M, n0 = get_group_id(0) * GEMM_TILE_N;
  float acc[GEMM_WPT_M][GEMM_WPT_N];
  for (uint i = 0; i < GEMM_WPT_M; i++)
    for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] = 0.0f;
  for (uint k0 = 0; k0 < k_len; k0 += GEMM_TILE_K) {
    gemm_load_a(as, a, a_off, a_sm, a_sk, m0, m_len, k0, k_len, lid);
    gemm_load_b(bs, b, b_off, b_sk, b_sn, n0, n_len, k0, k_len, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    gemm_tile_mul(as, bs, ly, lx, acc);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  gemm_store(c, c_off, ldc, m0 + ly, m_len, n0 + lx, n_len, alpha, beta, acc);
}
