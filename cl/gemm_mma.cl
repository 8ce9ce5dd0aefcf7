/* cl/gemm_mma.cl: clmp's tensor-core GEMM for NVIDIA devices of compute capability 8 or more,
 * C = alpha * op(A) * op(B) + beta * C with A and B both f16 or both bf16, fp32 accumulation,
 * through inline PTX: cp.async copies tiles into local memory (a ring of MMA_STAGES), ldmatrix
 * loads the fragments and mma.sync.m16n8k16 multiplies them. Built only where host/ops/gemm_mma.c
 * allows it; the storage must be 16-byte aligned along each operand's contiguous dimension. */

/* Tile sizes: a work-group computes MMA_BM x MMA_BN of C, MMA_BK deep per stage; each warp a
 * block of MMA_WM x MMA_WN. */
#ifndef MMA_BM
#define MMA_BM 128
#endif
#ifndef MMA_BN
#define MMA_BN 128
#endif
#ifndef MMA_BK
#define MMA_BK 32
#endif
#ifndef MMA_WM
#define MMA_WM 64
#endif
#ifndef MMA_WN
#define MMA_WN 32
#endif
#ifndef MMA_STAGES
#define MMA_STAGES 3
#endif
#ifndef MMA_GROUP
#define MMA_GROUP 8 /* block rows walked together (mma_block) */
#endif
/* MMA_TA: op(A) = A' (A stored K x M); MMA_TB: op(B) = B' (B stored N x K). */
#ifndef MMA_TA
#define MMA_TA 0
#endif
#ifndef MMA_TB
#define MMA_TB 0
#endif

#define MMA_WARPS   ((MMA_BM / MMA_WM) * (MMA_BN / MMA_WN))
#define MMA_THREADS (32 * MMA_WARPS)
#define MMA_FM      (MMA_WM / 16) /* m16 fragments per warp */
#define MMA_FN      (MMA_WN / 8)  /* n8 fragments per warp (an even number) */

/* A tile in local memory is rows of 16-byte chunks (8 elements). A and B tiles are stored as
 * they lie in global memory, so their rows run along M, N or K; this is how many rows and chunks
 * per row each has. */
#define MMA_A_ROWS   (MMA_TA ? MMA_BK : MMA_BM)
#define MMA_A_CHUNKS ((MMA_TA ? MMA_BM : MMA_BK) / 8)
#define MMA_B_ROWS   (MMA_TB ? MMA_BN : MMA_BK)
#define MMA_B_CHUNKS ((MMA_TB ? MMA_BK : MMA_BN) / 8)
#define MMA_A_BYTES  (MMA_BM * MMA_BK * 2)
#define MMA_B_BYTES  (MMA_BK * MMA_BN * 2)
#define MMA_STAGE    (MMA_A_BYTES + MMA_B_BYTES)
#define MMA_A_ITERS  (MMA_A_ROWS * MMA_A_CHUNKS / MMA_THREADS) /* chunks each item copies */
#define MMA_B_ITERS  (MMA_B_ROWS * MMA_B_CHUNKS / MMA_THREADS)

#if MMA_BF16
#define MMA_OP "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
#else
#define MMA_OP "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
#endif
#if MMA_STAGES == 2
#define MMA_WAIT "cp.async.wait_group 0;"
#elif MMA_STAGES == 3
#define MMA_WAIT "cp.async.wait_group 1;"
#elif MMA_STAGES == 4
#define MMA_WAIT "cp.async.wait_group 2;"
#endif

/* The physical chunk of logical chunk c in row r: an XOR swizzle that puts the same chunk of 8
 * consecutive rows in 8 different 16-byte bank groups, for ldmatrix and for the copies. */
inline uint mma_swizzle(uint r, uint c, uint chunks) {
  uint f = chunks >= 8 ? (r & 7) : (r / (8 / chunks)) & (chunks - 1);
  return c ^ f;
}

inline uint mma_offset(uint r, uint c, uint chunks) {
  return (r * chunks + mma_swizzle(r, c, chunks)) * 16;
}

/* 16 bytes from global src to local address dst; fewer than 16 valid bytes (0 outside the
 * matrix) are completed with zeros. */
inline void mma_copy16(uint dst, __global const ushort *src, uint bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes)
               : "memory");
}

inline void mma_commit(void) {
  asm volatile("cp.async.commit_group;" ::: "memory");
}

inline void mma_wait(void) {
  asm volatile(MMA_WAIT ::: "memory");
}

inline void mma_ldm(uint addr, uint *r) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

inline void mma_ldm_t(uint addr, uint *r) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

inline void mma_16816(float *d, const uint *a, const uint *b) {
  asm(MMA_OP " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* One operand's copies. Item tid copies chunk c = tid % chunks of rows r0 = tid / chunks,
 * r0 + gap, r0 + 2 gap, ... of each tile (gap = MMA_THREADS / chunks). A tile's rows run along the
 * operand's stored rows: along K when "deep" (each new tile MMA_BK rows further down), else across
 * K (each new tile MMA_BK elements further right). */
typedef struct mma_copier {
  __global const ushort *src;  /* the item's first chunk of the next tile */
  __global const ushort *base; /* a valid address for the copies that read nothing */
  ulong step;                  /* elements from one tile to the next */
  ulong skip;                  /* elements from one of the item's rows to the next */
  uint r0, c, gap, chunks;     /* the item's first row and its chunk in the tile */
  uint pos;                    /* deep: the next tile's row r0 in K; else its column c in K */
  uint lim;                    /* deep: 1 when chunk c lies inside the matrix; else rows left */
} mma_copier;

/* The copier of an operand stored with row length ld, whose tile starts at row0, col0 of it and
 * which has rows_end rows and cols_end columns. */
inline mma_copier mma_copier_make(__global const ushort *base, ulong ld, uint row0, uint col0,
                                  uint rows_end, uint cols_end, uint chunks, int deep, uint tid) {
  mma_copier m;
  m.r0 = tid / chunks, m.c = tid % chunks, m.gap = MMA_THREADS / chunks, m.chunks = chunks;
  uint gc = col0 + m.c * 8;
  m.lim = deep ? gc < cols_end : rows_end - row0;
  m.base = base;
  m.src = base + (ulong)(row0 + m.r0) * ld + gc;
  m.step = deep ? (ulong)MMA_BK * ld : MMA_BK;
  m.skip = (ulong)m.gap * ld;
  m.pos = deep ? m.r0 : gc;
  return m;
}

/* Copies the item's chunks of the next tile into the stage at local address stage (k_end bounds
 * K), then moves on to the tile after. */
inline void mma_copier_run(mma_copier *m, int deep, uint iters, uint stage, uint k_end) {
#pragma unroll
  for (uint i = 0; i < iters; i++) {
    uint r = m->r0 + i * m->gap;
    uint in = deep ? m->lim && m->pos + i * m->gap < k_end : r < m->lim && m->pos < k_end;
    /* rows 8 apart swizzle alike, so the offsets of rows gap apart differ by gap rows */
    uint dst = m->gap % 8 ? mma_offset(r, m->c, m->chunks)
                          : mma_offset(m->r0, m->c, m->chunks) + i * MMA_THREADS * 16;
    mma_copy16(stage + dst, in ? m->src + i * m->skip : m->base, in ? 16 : 0);
  }
  m->src += m->step;
  m->pos += MMA_BK;
}

/* The A fragments of m16 block i and k16 step kk from the stage's A tile. */
inline void mma_frag_a(uint a_tile, uint wm0, uint i, uint kk, uint lane, uint *r) {
#if MMA_TA
  uint idx = lane >> 3, rr = lane & 7;
  mma_ldm_t(a_tile + mma_offset(kk * 16 + (idx >> 1) * 8 + rr, (wm0 + i * 16) / 8 + (idx & 1),
                                MMA_A_CHUNKS),
            r);
#else
  mma_ldm(a_tile + mma_offset(wm0 + i * 16 + (lane & 15), kk * 2 + (lane >> 4), MMA_A_CHUNKS), r);
#endif
}

/* The B fragments of n8 blocks 2j and 2j + 1 (r[0..1] and r[2..3]) for k16 step kk. */
inline void mma_frag_b(uint b_tile, uint wn0, uint j, uint kk, uint lane, uint *r) {
  uint idx = lane >> 3, rr = lane & 7;
#if MMA_TB
  mma_ldm(b_tile + mma_offset(wn0 + j * 16 + (idx >> 1) * 8 + rr, kk * 2 + (idx & 1), MMA_B_CHUNKS),
          r);
#else
  mma_ldm_t(b_tile + mma_offset(kk * 16 + (idx & 1) * 8 + rr, (wn0 + j * 16) / 8 + (idx >> 1),
                                MMA_B_CHUNKS),
            r);
#endif
}

/* The warp's A and B fragments of k16 step kk of the stage at local address stage. */
inline void mma_frags(uint stage, uint wm0, uint wn0, uint kk, uint lane, uint a[MMA_FM][4],
                      uint b[MMA_FN / 2][4]) {
#pragma unroll
  for (uint i = 0; i < MMA_FM; i++) mma_frag_a(stage, wm0, i, kk, lane, a[i]);
#pragma unroll
  for (uint j = 0; j < MMA_FN / 2; j++) mma_frag_b(stage + MMA_A_BYTES, wn0, j, kk, lane, b[j]);
}

/* C = alpha * acc + beta * C for the warp's block inside M x N (beta 0: C is not read). */
inline void mma_store(__global TYPE(C_DT) *c, ulong off, ulong ldc, uint m0, uint n0, uint m_end,
                      uint n_end, float alpha, float beta, uint lane,
                      float acc[MMA_FM][MMA_FN][4]) {
#pragma unroll
  for (uint i = 0; i < MMA_FM; i++)
#pragma unroll
    for (uint j = 0; j < MMA_FN; j++)
#pragma unroll
      for (uint h = 0; h < 4; h++) {
        uint m = m0 + i * 16 + (lane >> 2) + (h >> 1) * 8,
             n = n0 + j * 8 + (lane & 3) * 2 + (h & 1);
        if (m >= m_end || n >= n_end) continue;
        ulong at = off + (ulong)m * ldc + n;
        float v = alpha * acc[i][j][h];
        if (beta != 0.0f) v += beta * LOAD(C_DT, c, at);
        STORE(C_DT, c, at, v);
      }
}

/* The block of C (in units of MMA_BM, MMA_BN) of this work-group: groups are numbered along N
 * first, and MMA_GROUP consecutive block rows are walked column by column, so that the groups
 * running together share tiles of A and of B in the L2 cache. */
inline uint2 mma_block(void) {
  uint blocks_n = get_num_groups(0), blocks_m = get_num_groups(1);
  uint id = get_group_id(1) * blocks_n + get_group_id(0), band = MMA_GROUP * blocks_n;
  uint first = id / band * MMA_GROUP, rows = min(blocks_m - first, (uint)MMA_GROUP);
  return (uint2)(first + id % band % rows, id % band / rows);
}

/* Zeros the accumulators. */
inline void mma_zero(float acc[MMA_FM][MMA_FN][4]) {
#pragma unroll
  for (uint i = 0; i < MMA_FM; i++)
#pragma unroll
    for (uint j = 0; j < MMA_FN; j++)
#pragma unroll
      for (uint h = 0; h < 4; h++) acc[i][j][h] = 0.0f;
}

/* Copies this item's chunks of the next tile of A and of B into the stage at stage, or, past the
 * last tile, nothing; either way commits a group, so that groups and tiles stay in step. */
inline void mma_fetch(mma_copier *ca, mma_copier *cb, uint stage, uint tile, uint tiles,
                      uint k_end) {
  if (tile < tiles) {
    mma_copier_run(ca, MMA_TA, MMA_A_ITERS, stage, k_end);
    mma_copier_run(cb, !MMA_TB, MMA_B_ITERS, stage + MMA_A_BYTES, k_end);
  }
  mma_commit();
}

/* The multiply of one tile, pipelined: the copies of tile next into its stage (fetch_at) are
 * issued first; the fragments of each k16 step are loaded while the step before multiplies
 * (f[0] and f[1] in registers, f[0] holding step 0 of this tile on entry); before the last step
 * multiplies, the item waits for the following tile and loads its first fragments. */
inline void mma_tile(uint stage, uint following, uint wm0, uint wn0, uint lane,
                     float acc[MMA_FM][MMA_FN][4], uint fa[2][MMA_FM][4], uint fb[2][MMA_FN / 2][4],
                     mma_copier *ca, mma_copier *cb, uint fetch_at, uint next, uint tiles,
                     uint k_len) {
  mma_fetch(ca, cb, fetch_at, next, tiles, k_len);
#pragma unroll
  for (uint kk = 0; kk < MMA_BK / 16; kk++) {
    uint to = (kk + 1) & 1;
    if (kk + 1 < MMA_BK / 16) {
      mma_frags(stage, wm0, wn0, kk + 1, lane, fa[to], fb[to]);
    } else {
      mma_wait();
      barrier(CLK_LOCAL_MEM_FENCE);
      mma_frags(following, wm0, wn0, 0, lane, fa[to], fb[to]);
    }
#pragma unroll
    for (uint i = 0; i < MMA_FM; i++)
#pragma unroll
      for (uint j = 0; j < MMA_FN; j++)
        mma_16816(acc[i][j], fa[kk & 1][i], &fb[kk & 1][j / 2][(j & 1) * 2]);
  }
#if (MMA_BK / 16) % 2
  /* an odd number of steps leaves the following tile's first fragments in f[1] */
#pragma unroll
  for (uint i = 0; i < MMA_FM; i++)
#pragma unroll
    for (uint h = 0; h < 4; h++) fa[0][i][h] = fa[1][i][h];
#pragma unroll
  for (uint j = 0; j < MMA_FN / 2; j++)
#pragma unroll
    for (uint h = 0; h < 4; h++) fb[0][j][h] = fb[1][j][h];
#endif
}

/* One work-group of MMA_THREADS items computes an MMA_BM x MMA_BN block of C (see mma_block).
 * a and b are the stored A and B, whose first elements are at a_off and b_off; lda and ldb are
 * their row lengths. */
__kernel __attribute__((reqd_work_group_size(MMA_THREADS, 1, 1))) void
gemm_mma(const uint m_len, const uint n_len, const uint k_len, const float alpha,
         __global const ushort *a, const ulong a_off, const ulong lda, __global const ushort *b,
         const ulong b_off, const ulong ldb, const float beta, __global TYPE(C_DT) *c,
         const ulong c_off, const ulong ldc) {
  __local uint4 smem[MMA_STAGES * MMA_STAGE / 16];
  uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5;
  uint2 blk = mma_block();
  uint m0 = blk.x * MMA_BM, n0 = blk.y * MMA_BN;
  uint wm0 = (warp / (MMA_BN / MMA_WN)) * MMA_WM, wn0 = (warp % (MMA_BN / MMA_WN)) * MMA_WN;
  uint base = (uint)(ulong)(__local uchar *)smem;
  mma_copier ca = MMA_TA
                      ? mma_copier_make(a + a_off, lda, 0, m0, k_len, m_len, MMA_A_CHUNKS, 1, tid)
                      : mma_copier_make(a + a_off, lda, m0, 0, m_len, k_len, MMA_A_CHUNKS, 0, tid);
  mma_copier cb = MMA_TB
                      ? mma_copier_make(b + b_off, ldb, n0, 0, n_len, k_len, MMA_B_CHUNKS, 0, tid)
                      : mma_copier_make(b + b_off, ldb, 0, n0, k_len, n_len, MMA_B_CHUNKS, 1, tid);
  float acc[MMA_FM][MMA_FN][4];
  mma_zero(acc);
  uint tiles = (k_len + MMA_BK - 1) / MMA_BK;
  for (uint s = 0; s < MMA_STAGES - 1; s++)
    mma_fetch(&ca, &cb, base + s * MMA_STAGE, s, tiles, k_len);
  uint fa[2][MMA_FM][4], fb[2][MMA_FN / 2][4];
  mma_wait();
  barrier(CLK_LOCAL_MEM_FENCE);
  mma_frags(base, wm0, wn0, 0, lane, fa[0], fb[0]);
  for (uint kt = 0; kt < tiles; kt++) {
    uint next = kt + MMA_STAGES - 1;
    mma_tile(base + (kt % MMA_STAGES) * MMA_STAGE, base + ((kt + 1) % MMA_STAGES) * MMA_STAGE, wm0,
             wn0, lane, acc, fa, fb, &ca, &cb, base + (next % MMA_STAGES) * MMA_STAGE, next, tiles,
             k_len);
  }
  mma_store(c, c_off, ldc, m0 + wm0, n0 + wn0, m_len, n_len, alpha, beta, lane, acc);
}
