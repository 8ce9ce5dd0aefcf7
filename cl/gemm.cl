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
#if GEMM_ITEMS % GEMM_TILE_K || GEMM_ITEMS % GEMM_TILE_M || GEMM_ITEMS % GEMM_TILE_N || \
    GEMM_FETCH_A * GEMM_ITEMS != GEMM_TILE_M * GEMM_TILE_K ||                           \
    GEMM_FETCH_B * GEMM_ITEMS != GEMM_TILE_N * GEMM_TILE_K
#error "GEMM_VEC: the items must divide each tile dimension and each tile"
#endif

/* An item's share of one operand's tiles: its element r of a tile sits at (row + r * drow,
 * k + r * dk) of the tile (gemm_tile_pos: the items divide the tile's sides, so r only moves
 * along one of them), and at at + r * delta in memory, at moving by step from one tile to the
 * next. */
typedef struct gemm_plan {
  ulong at, delta, step;
  uint row, k, drow, dk;
} gemm_plan;

/* The plan of item lid for tiles of rows x GEMM_TILE_K starting at row r0 of an operand whose
 * element (row, k) lies at off + row * s_row + k * sk. */
inline gemm_plan gemm_plan_of(uint lid, uint rows, uint r0, ulong off, ulong s_row, ulong sk) {
  gemm_plan p;
  uint2 pos = gemm_tile_pos(lid, rows, sk);
  p.row = pos.x, p.k = pos.y;
  p.drow = sk == 1 ? GEMM_ITEMS / GEMM_TILE_K : 0;
  p.dk = sk == 1 ? 0 : GEMM_ITEMS / rows;
  p.at = off + (r0 + p.row) * s_row + p.k * sk;
  p.delta = p.drow * s_row + p.dk * sk;
  p.step = GEMM_TILE_K * sk;
  return p;
}

/* The item's n elements of the next tile of operand x (rows from r0, depth from k0) into
 * registers; bounds are checked only on tiles that cross an edge (full 0). */
#define GEMM_FETCH(dt, v, n, x, pl, r0, r_end, k0, k_end, full)                                 \
  do {                                                                                          \
    if (full) {                                                                                 \
      for (uint r = 0; r < (n); r++) (v)[r] = GEMM_LOAD(dt, x, (pl).at + r * (pl).delta);       \
    } else {                                                                                    \
      for (uint r = 0; r < (n); r++) {                                                          \
        uint row_ = (r0) + (pl).row + r * (pl).drow, k_ = (k0) + (pl).k + r * (pl).dk;          \
        (v)[r] =                                                                                \
            row_ < (r_end) && k_ < (k_end) ? GEMM_LOAD(dt, x, (pl).at + r * (pl).delta) : 0.0f; \
      }                                                                                         \
    }                                                                                           \
  } while (0)

/* The fetched elements into a local tile t[k][row] of row length lds. */
#define GEMM_PUT(t, lds, v, n, pl)                                             \
  do {                                                                         \
    for (uint r = 0; r < (n); r++)                                             \
      (t)[((pl).k + r * (pl).dk) * (lds) + (pl).row + r * (pl).drow] = (v)[r]; \
  } while (0)
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
#if GEMM_VEC
#pragma unroll
#endif
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

/* In gemm and gemm_direct: this group's split along K (see gemm) moves the operands, C and the
 * depth to its share, and declares m0, the first row of its block. */
#define GEMM_SPLIT_K(m0)                                                                        \
  uint splits_ = max(1u, (k_len + k_split - 1) / k_split), rows_ = get_num_groups(1) / splits_; \
  uint z_ = get_group_id(1) / rows_, kb_ = z_ * k_split;                                        \
  a_off += kb_ * a_sk, b_off += kb_ * b_sk, c_off += z_ * c_slice;                              \
  k_len = min(k_len - kb_, k_split);                                                            \
  uint m0 = get_group_id(1) % rows_ * GEMM_TILE_M

/* One work-group computes a GEMM_TILE_M x GEMM_TILE_N block of C; dimension 0 runs along N,
 * dimension 1 along M. Offsets and strides are in elements; the strides express op(). Split
 * along K (k_split < k_len): dimension 1 holds one row of groups per split, split z takes the
 * depth [z * k_split, (z + 1) * k_split) and writes C + z * c_slice (then an f32 scratch that
 * gemm_split_sum adds up). */
__kernel __attribute__((reqd_work_group_size(GEMM_ITEMS_N, GEMM_ITEMS_M, 1))) void
gemm(const uint m_len, const uint n_len, uint k_len, const float alpha,
     __global const TYPE(A_DT) *a, ulong a_off, const ulong a_sm, const ulong a_sk,
     __global const TYPE(B_DT) *b, ulong b_off, const ulong b_sk, const ulong b_sn,
     const float beta, __global TYPE(C_DT) *c, ulong c_off, const ulong ldc, const uint k_split,
     const ulong c_slice) {
  __local float as[GEMM_TILE_K * GEMM_LDS_A] __attribute__((aligned(16)));
  __local float bs[GEMM_TILE_K * GEMM_LDS_B] __attribute__((aligned(16)));
  GEMM_SPLIT_K(m0);
  uint lx = get_local_id(0), ly = get_local_id(1), lid = ly * GEMM_ITEMS_N + lx;
  uint n0 = get_group_id(0) * GEMM_TILE_N;
  float acc[GEMM_WPT_M][GEMM_WPT_N];
  for (uint i = 0; i < GEMM_WPT_M; i++)
    for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] = 0.0f;
#if GEMM_VEC
  float ra[GEMM_FETCH_A], rb[GEMM_FETCH_B];
  gemm_plan pa = gemm_plan_of(lid, GEMM_TILE_M, m0, a_off, a_sm, a_sk);
  gemm_plan pb = gemm_plan_of(lid, GEMM_TILE_N, n0, b_off, b_sn, b_sk);
  int m_full = m0 + GEMM_TILE_M <= m_len, n_full = n0 + GEMM_TILE_N <= n_len;
  int k_full = GEMM_TILE_K <= k_len;
  GEMM_FETCH(A_DT, ra, GEMM_FETCH_A, a, pa, m0, m_len, 0, k_len, m_full && k_full);
  GEMM_FETCH(B_DT, rb, GEMM_FETCH_B, b, pb, n0, n_len, 0, k_len, n_full && k_full);
  for (uint k0 = 0; k0 < k_len; k0 += GEMM_TILE_K) {
    GEMM_PUT(as, GEMM_LDS_A, ra, GEMM_FETCH_A, pa);
    GEMM_PUT(bs, GEMM_LDS_B, rb, GEMM_FETCH_B, pb);
    barrier(CLK_LOCAL_MEM_FENCE);
    uint k1 = k0 + GEMM_TILE_K;
    if (k1 < k_len) {
      pa.at += pa.step, pb.at += pb.step, k_full = k1 + GEMM_TILE_K <= k_len;
      GEMM_FETCH(A_DT, ra, GEMM_FETCH_A, a, pa, m0, m_len, k1, k_len, m_full && k_full);
      GEMM_FETCH(B_DT, rb, GEMM_FETCH_B, b, pb, n0, n_len, k1, k_len, n_full && k_full);
    }
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

/* The same product as gemm, with the same arguments and layout of work-groups and blocks, but
 * without local tiles or barriers: each item accumulates its block straight from global memory,
 * k in the same order. For products that leave a CPU's tiles mostly empty or make one pass
 * through them (host/ops/gemm.c): PoCL runs a work-group as a loop over its items, which every
 * barrier cuts, storing and reloading each item's block. Rows and columns past C's edge load C's
 * last row or column instead of zeros, so that the loads need no branch and vectorise (fc3 forward
 * on PoCL: 1.8 -> 1.0 million instructions a call); gemm_store leaves their sums out. */
__kernel __attribute__((reqd_work_group_size(GEMM_ITEMS_N, GEMM_ITEMS_M, 1))) void
gemm_direct(const uint m_len, const uint n_len, uint k_len, const float alpha,
            __global const TYPE(A_DT) *a, ulong a_off, const ulong a_sm, const ulong a_sk,
            __global const TYPE(B_DT) *b, ulong b_off, const ulong b_sk, const ulong b_sn,
            const float beta, __global TYPE(C_DT) *c, ulong c_off, const ulong ldc,
            const uint k_split, const ulong c_slice) {
  GEMM_SPLIT_K(m0);
  uint lx = get_local_id(0), ly = get_local_id(1);
  uint n0 = get_group_id(0) * GEMM_TILE_N;
  float acc[GEMM_WPT_M][GEMM_WPT_N];
  for (uint i = 0; i < GEMM_WPT_M; i++)
    for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] = 0.0f;
  for (uint k = 0; k < k_len; k++) {
    float av[GEMM_WPT_M], bv[GEMM_WPT_N];
    for (uint i = 0; i < GEMM_WPT_M; i++) {
      uint m = min(m0 + GEMM_ROW(ly, i), m_len - 1);
      av[i] = GEMM_LOAD(A_DT, a, a_off + m * a_sm + k * a_sk);
    }
    for (uint j = 0; j < GEMM_WPT_N; j++) {
      uint n = min(n0 + GEMM_COL(lx, j), n_len - 1);
      bv[j] = GEMM_LOAD(B_DT, b, b_off + k * b_sk + n * b_sn);
    }
    for (uint i = 0; i < GEMM_WPT_M; i++)
      for (uint j = 0; j < GEMM_WPT_N; j++) acc[i][j] += av[i] * bv[j];
  }
  gemm_store(c, c_off, ldc, m0, m_len, n0, n_len, ly, lx, alpha, beta, acc);
}

/* C = alpha * (the sum of the splits' slices of w, in order) + beta * C, w holding splits
 * m_len x n_len f32 blocks, slice elements apart. */
__kernel void gemm_split_sum(const uint m_len, const uint n_len, const uint splits,
                             const ulong slice, __global const float *w, const float alpha,
                             const float beta, __global TYPE(C_DT) *c, const ulong c_off,
                             const ulong ldc) {
  CLMP_FOR_ITEMS(i, (ulong)m_len * n_len) {
    float s = 0.0f;
    for (uint z = 0; z < splits; z++) s += w[z * slice + i];
    ulong at = c_off + i / n_len * ldc + i % n_len;
    float v = alpha * s;
    if (beta != 0.0f) v += beta * LOAD(C_DT, c, at);
    STORE(C_DT, c, at, v);
  }
}
