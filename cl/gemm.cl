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

#ifndef GEMM_VEC
#define GEMM_VEC                                                                      \
  0 /* 1 (GPUs, WPT_M and WPT_N multiples of 4): float4 reads of local memory and the \
     * next tiles fetched into registers while this one is multiplied */
#endif
#if GEMM_VEC
#define GEMM_PAD 4 /* local rows stay 16-byte aligned for the float4 reads */
#else
#define GEMM_PAD 1 /* one extra float per local row against bank conflicts */
#endif

/* Operand loads without LOAD_F16's NaN rule: a NaN input makes NaN outputs whatever its payload,
 * and the rule costs a second load of every f16 element. */
#define GEMM_LOAD_F32(p, i) ((p)[i])
#if CLMP_CPU
#define GEMM_LOAD_F16(p, i) clmp_f16_bits_to_f32(((__global const ushort *)(p))[i])
#else
#define GEMM_LOAD_F16(p, i) vload_half((i), (p))
#endif
#define GEMM_LOAD_BF16(p, i) clmp_bf16_to_f32((p)[i])
#define GEMM_LOAD(dt, p, i)  CLMP_CAT(GEMM_LOAD_, dt)(p, i)
#define GEMM_ITEMS_M         (GEMM_TILE_M / GEMM_WPT_M) /* work-items along M: local id 1 */
#define GEMM_ITEMS_N         (GEMM_TILE_N / GEMM_WPT_N) /* work-items along N: local id 0 */
#define GEMM_ITEMS           (GEMM_ITEMS_M * GEMM_ITEMS_N)
#define GEMM_LDS_A           (GEMM_TILE_M + GEMM_PAD) /* local row length of the A tile, [k][m] */
#define GEMM_LDS_B           (GEMM_TILE_N + GEMM_PAD) /* local row length of the B tile, [k][n] */

/* The rows of C of item ly (its columns likewise, from lx): ly + i * ITEMS_M, so that neighbouring
 * items hold neighbouring rows; with GEMM_VEC runs of four, ly * 4 + (i % 4) + (i / 4) * ITEMS_M *
 * 4, so that an item reads four rows of a tile at once and a warp's reads stay contiguous. */
#if GEMM_VEC
#define GEMM_ROW(ly, i) ((i) / 4 * GEMM_ITEMS_M * 4 + (ly)*4 + (i) % 4)
#define GEMM_COL(lx, j) ((j) / 4 * GEMM_ITEMS_N * 4 + (lx)*4 + (j) % 4)
#else
#define GEMM_ROW(ly, i) ((ly) + (i)*GEMM_ITEMS_M)
#define GEMM_COL(lx, j) ((lx) + (j)*GEMM_ITEMS_N)
#endif

/* Where element i of a rows x GEMM_TILE_K tile goes: consecutive work-items walk along k when k
 * is contiguous in memory (sk == 1), else along the rows, so that global reads coalesce. */
inline uint2 gemm_tile_pos(uint i, uint rows, ulong sk) {
  return sk == 1 ? (uint2)(i / GEMM_TILE_K, i % GEMM_TILE_K) : (uint2)(i % rows, i / rows);
}

/* Element i of the tile op(A)[m0 .. m0+TILE_M, k0 .. k0+TILE_K] (its place: gemm_tile_pos), 0
 * outside M x K. op(A)[m, k] lies at off + m * sm + k * sk. */
inline float gemm_elem_a(__global const TYPE(A_DT) *a, ulong off, ulong sm, ulong sk, uint m0,
                         uint m_end, uint k0, uint k_end, uint i) {
  uint2 p = gemm_tile_pos(i, GEMM_TILE_M, sk);
  uint m = m0 + p.x, k = k0 + p.y;
  return m < m_end && k < k_end ? GEMM_LOAD(A_DT, a, off + m * sm + k * sk) : 0.0f;
}

/* Element i of the tile op(B)[k0 .. k0+TILE_K, n0 .. n0+TILE_N], 0 outside K x N. op(B)[k, n]
 * lies at off + k * sk + n * sn. */
inline float gemm_elem_b(__global const TYPE(B_DT) *b, ulong off, ulong sk, ulong sn, uint n0,
                         uint n_end, uint k0, uint k_end, uint i) {
  uint2 p = gemm_tile_pos(i, GEMM_TILE_N, sk);
  uint n = n0 + p.x, k = k0 + p.y;
  return n < n_end && k < k_end ? GEMM_LOAD(B_DT, b, off + k * sk + n * sn) : 0.0f;
}

#if GEMM_VEC
#define GEMM_FETCH_A (GEMM_TILE_M * GEMM_TILE_K / GEMM_ITEMS) /* A elements per item and tile */
#define GEMM_FETCH_B (GEMM_TILE_N * GEMM_TILE_K / GEMM_ITEMS)
#if GEMM_FETCH_A * GEMM_ITEMS != GEMM_TILE_M * GEMM_TILE_K || \
    GEMM_FETCH_B * GEMM_ITEMS != GEMM_TILE_N * GEMM_TILE_K
#error "GEMM_VEC: every item fetches as many elements of each tile"
#endif

/* The item's elements of the next tiles, from global memory into registers. */
inline void gemm_fetch(float ra[GEMM_FETCH_A], float rb[GEMM_FETCH_B], __global const TYPE(A_DT) *a,
                       ulong a_off, ulong a_sm, ulong a_sk, __global const TYPE(B_DT) *b,
                       ulong b_off, ulong b_sk, ulong b_sn, uint m0, uint m_end, uint n0,
                       uint n_end, uint k0, uint k_end, uint lid) {
  for (uint r = 0; r < GEMM_FETCH_A; r++)
    ra[r] = gemm_elem_a(a, a_off, a_sm, a_sk, m0, m_end, k0, k_end, lid + r * GEMM_ITEMS);
  for (uint r = 0; r < GEMM_FETCH_B; r++)
    rb[r] = gemm_elem_b(b, b_off, b_sk, b_sn, n0, n_end, k0, k_end, lid + r * GEMM_ITEMS);
}

/* The fetched elements into the local tiles as[k][m] and bs[k][n]. */
inline void gemm_put(__local float *as, __local float *bs, const float ra[GEMM_FETCH_A],
                     const float rb[GEMM_FETCH_B], ulong a_sk, ulong b_sk, uint lid) {
  for (uint r = 0; r < GEMM_FETCH_A; r++) {
    uint2 p = gemm_tile_pos(lid + r * GEMM_ITEMS, GEMM_TILE_M, a_sk);
    as[p.y * GEMM_LDS_A + p.x] = ra[r];
  }
  for (uint r = 0; r < GEMM_FETCH_B; r++) {
    uint2 p = gemm_tile_pos(lid + r * GEMM_ITEMS, GEMM_TILE_N, b_sk);
    bs[p.y * GEMM_LDS_B + p.x] = rb[r];
  }
}
#else
/* The tile of A into t[k][m]. */
inline void gemm_load_a(__local float *t, __global const TYPE(A_DT) *a, ulong off, ulong sm,
                        ulong sk, uint m0, uint m_end, uint k0, uint k_end, uint lid) {
  for (uint i = lid; i < GEMM_TILE_M * GEMM_TILE_K; i += GEMM_ITEMS) {
    uint2 p = gemm_tile_pos(i, GEMM_TILE_M, sk);
    t[p.y * GEMM_LDS_A + p.x] = gemm_elem_a(a, off, sm, sk, m0, m_end, k0, k_end, i);
  }
}

/* The tile of B into t[k][n]. */
inline void gemm_load_b(__local float *t, __global const TYPE(B_DT) *b, ulong off, ulong sk,
                        ulong sn, uint n0, uint n_end, uint k0, uint k_end, uint lid) {
  for (uint i = lid; i < GEMM_TILE_N * GEMM_TILE_K; i += GEMM_ITEMS) {
    uint2 p = gemm_tile_pos(i, GEMM_TILE_N, sk);
    t[p.y * GEMM_LDS_B + p.x] = gemm_elem_b(b, off, sk, sn, n0, n_end, k0, k_end, i);
  }
}
#endif

/* acc += the item's block of (A tile) x (B tile), k in increasing order (rows and columns as
 * GEMM_ROW and GEMM_COL say). A plain multiply-add, which the compiler may fuse (FP_CONTRACT is on
 * by default): fma() would be exact everywhere but emulated, and slow, on hardware without it. */
inline void gemm_tile_mul(__local const float *as, __local const float *bs, uint ly, uint lx,
                          float acc[GEMM_WPT_M][GEMM_WPT_N]) {
  for (uint k = 0; k < GEMM_TILE_K; k++) {
    float av[GEMM_WPT_M], bv[GEMM_WPT_N];
#if GEMM_VEC
    for (uint i = 0; i < GEMM_WPT_M; i += 4)
      vstore4(vload4(0, as + k * GEMM_LDS_A + GEMM_ROW(ly, i)), 0, av + i);
    for (uint j = 0; j < GEMM_WPT_N; j += 4)
      vstore4(vload4(0, bs + k * GEMM_LDS_B + GEMM_COL(lx, j)), 0, bv + j);
#else
    for (uint i = 0; i < GEMM_WPT_M; i++) av[i] = as[k * GEMM_LDS_A + GEMM_ROW(ly, i)];
    for (uint j = 0; j < GEMM_WPT_N; j++) bv[j] = bs[k * GEMM_LDS_B + GEMM_COL(lx, j)];
#endif
    for (uint i = 0; i < GEMM_WPT_M; i++)
      for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] += av[i] * bv[j];
  }
}

/* C[m, n] = alpha * acc + beta * C[m, n] for the item's block inside M x N; with beta 0 the old
 * C is not read, so NaN there does not propagate. */
inline void gemm_store(__global TYPE(C_DT) *c, ulong off, ulong ldc, uint m0, uint m_end, uint n0,
                       uint n_end, uint ly, uint lx, float alpha, float beta,
                       float acc[GEMM_WPT_M][GEMM_WPT_N]) {
  for (uint i = 0; i < GEMM_WPT_M; i++) {
    uint m = m0 + GEMM_ROW(ly, i);
    for (uint j = 0; j < GEMM_WPT_N && m < m_end; j++) {
      uint n = n0 + GEMM_COL(lx, j);
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
  __local float as[GEMM_TILE_K * GEMM_LDS_A] __attribute__((aligned(16)));
  __local float bs[GEMM_TILE_K * GEMM_LDS_B] __attribute__((aligned(16)));
  uint lx = get_local_id(0), ly = get_local_id(1), lid = ly * GEMM_ITEMS_N + lx;
  uint m0 = get_group_id(1) * GEMM_TILE_M, n0 = get_group_id(0) * GEMM_TILE_N;
  float acc[GEMM_WPT_M][GEMM_WPT_N];
  for (uint i = 0; i < GEMM_WPT_M; i++)
    for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] = 0.0f;
#if GEMM_VEC
  float ra[GEMM_FETCH_A], rb[GEMM_FETCH_B];
  gemm_fetch(ra, rb, a, a_off, a_sm, a_sk, b, b_off, b_sk, b_sn, m0, m_len, n0, n_len, 0, k_len,
             lid);
  for (uint k0 = 0; k0 < k_len; k0 += GEMM_TILE_K) {
    gemm_put(as, bs, ra, rb, a_sk, b_sk, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (k0 + GEMM_TILE_K < k_len)
      gemm_fetch(ra, rb, a, a_off, a_sm, a_sk, b, b_off, b_sk, b_sn, m0, m_len, n0, n_len,
                 k0 + GEMM_TILE_K, k_len, lid);
    gemm_tile_mul(as, bs, ly, lx, acc);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#else
  for (uint k0 = 0; k0 < k_len; k0 += GEMM_TILE_K) {
    gemm_load_a(as, a, a_off, a_sm, a_sk, m0, m_len, k0, k_len, lid);
    gemm_load_b(bs, b, b_off, b_sk, b_sn, n0, n_len, k0, k_len, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    gemm_tile_mul(as, bs, ly, lx, acc);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#endif
  gemm_store(c, c_off, ldc, m0, m_len, n0, n_len, ly, lx, alpha, beta, acc);
}
