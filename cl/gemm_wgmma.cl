/* cl/gemm_wgmma.cl: clmp's tensor-core GEMM for NVIDIA devices of compute capability 9.0 (H100,
 * H200), C = alpha * op(A) * op(B) + beta * C with A and B both f16 or both bf16, fp32
 * accumulation, through the warpgroup instructions of sm_90a: cp.async copies tiles into local
 * memory (a ring of WG_STAGES), and each warpgroup (4 warps) multiplies its 64 rows of the tile
 * by all WG_BN columns with wgmma.mma_async, reading both operands from local memory. NVIDIA's
 * OpenCL compiler targets sm_90 and refuses wgmma, so those instructions are written as PTX
 * comments (WG_PTX) that the runtime's PTX pass (host/runtime/ptx.c) turns into instructions,
 * retargeting the program to sm_90a. Built only where host/ops/gemm_mma.c allows it; the storage
 * must be 16-byte aligned along each operand's contiguous dimension. */

/* Tile sizes: a work-group computes WG_BM x WG_BN of C (one warpgroup per 64 rows), WG_BK deep
 * per stage; WG_INFLIGHT (0 or 1) is how many of a warpgroup's multiplies may still run when it
 * reaches the next tile, and the copies run WG_STAGES - 1 - WG_INFLIGHT tiles ahead. */
#ifndef WG_BM
#define WG_BM 128
#endif
#ifndef WG_BN
#define WG_BN 256
#endif
#ifndef WG_BK
#define WG_BK 16
#endif
#ifndef WG_STAGES
#define WG_STAGES 4
#endif
#ifndef WG_INFLIGHT
#define WG_INFLIGHT 1
#endif
#ifndef WG_GROUP
#define WG_GROUP 16 /* block rows walked together (wg_block) */
#endif
/* WG_TA: op(A) = A' (A stored K x M); WG_TB: op(B) = B' (B stored N x K). */
#ifndef WG_TA
#define WG_TA 0
#endif
#ifndef WG_TB
#define WG_TB 0
#endif

#define WG_THREADS (2 * WG_BM) /* 128 items, a warpgroup, per 64 rows */
#define WG_AHEAD   (WG_STAGES - 1 - WG_INFLIGHT)
#define WG_A_BYTES (WG_BM * WG_BK * 2)
#define WG_B_BYTES (WG_BN * WG_BK * 2)
#define WG_STAGE   (WG_A_BYTES + WG_B_BYTES)
#define WG_ACC     (WG_BN / 2) /* accumulators per item */

/* Local memory holds each operand tile as it lies in global memory: its stored rows run across K
 * for a "K-major" operand (contiguous along K: A not transposed, B transposed), along K for an
 * "MN-major" one. The 16-byte chunks of each row are swizzled (wg_swizzle) so that the multiplies
 * read them without bank conflicts: K-major rows are WG_BK * 2 bytes, swizzled in atoms of 8
 * rows; MN-major rows are cut into atoms of 8 rows x 64 elements (1 KiB, 128-byte swizzle),
 * placed along MN first. */
#define WG_A_KMAJOR (!WG_TA)
#define WG_B_KMAJOR (WG_TB)
#define WG_A_COLS   (WG_A_KMAJOR ? WG_BK : WG_BM) /* stored columns of the A tile */
#define WG_B_COLS   (WG_B_KMAJOR ? WG_BK : WG_BN)
/* The swizzle of a K-major tile: log2 of its row's 16-byte chunks (1, 2 or 3), and the
 * descriptor's mode for it (3: 32-byte, 2: 64-byte, 1: 128-byte). */
#define WG_K_SWIZZLE (WG_BK == 16 ? 1 : WG_BK == 32 ? 2 : 3)
#define WG_K_MODE    (4 - WG_K_SWIZZLE)
#define WG_A_ITERS   (WG_A_BYTES / 16 / WG_THREADS) /* 16-byte chunks each item copies */
#define WG_B_ITERS   (WG_B_BYTES / 16 / WG_THREADS)

#define WG_STR_(x) #x
#define WG_STR(x)  WG_STR_(x)
#define WG_PTX(s)  "// clmp:" s /* sm_90a PTX, see the top of the file */
#if WG_BF16
#define WG_OP(n) "wgmma.mma_async.sync.aligned.m64n" #n "k16.f32.bf16.bf16"
#else
#define WG_OP(n) "wgmma.mma_async.sync.aligned.m64n" #n "k16.f32.f16.f16"
#endif
/* the transpose immediates: 1 for an MN-major operand */
#if WG_TB
#define WG_TRANS WG_STR(WG_TA) ", 0"
#else
#define WG_TRANS WG_STR(WG_TA) ", 1"
#endif
#if WG_AHEAD == 1
#define WG_COPY_WAIT "cp.async.wait_group 0;"
#elif WG_AHEAD == 2
#define WG_COPY_WAIT "cp.async.wait_group 1;"
#elif WG_AHEAD == 3
#define WG_COPY_WAIT "cp.async.wait_group 2;"
#elif WG_AHEAD == 4
#define WG_COPY_WAIT "cp.async.wait_group 3;"
#elif WG_AHEAD == 5
#define WG_COPY_WAIT "cp.async.wait_group 4;"
#endif

#define WG_D8(d, i)                                                                           \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])
/* One wgmma of the 64 x n block, n = 64, 128 or 256: d += A B (scale-d 1). */
// clang-format off
#define WG_MMA_N64(d, da, db) \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n" WG_PTX(WG_OP(64)) " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, %32, %33, p, 1, 1, " WG_TRANS ";\n}" \
               : WG_D8(d, 0), WG_D8(d, 8), WG_D8(d, 16), WG_D8(d, 24) \
               : "l"(da), "l"(db), "r"(1))
#define WG_MMA_N128(d, da, db) \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n" WG_PTX(WG_OP(128)) " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1, " WG_TRANS ";\n}" \
               : WG_D8(d, 0), WG_D8(d, 8), WG_D8(d, 16), WG_D8(d, 24), WG_D8(d, 32), WG_D8(d, 40), WG_D8(d, 48), WG_D8(d, 56) \
               : "l"(da), "l"(db), "r"(1))
#define WG_MMA_N256(d, da, db) \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n" WG_PTX(WG_OP(256)) " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p, 1, 1, " WG_TRANS ";\n}" \
               : WG_D8(d, 0), WG_D8(d, 8), WG_D8(d, 16), WG_D8(d, 24), WG_D8(d, 32), WG_D8(d, 40), WG_D8(d, 48), WG_D8(d, 56), WG_D8(d, 64), WG_D8(d, 72), WG_D8(d, 80), WG_D8(d, 88), WG_D8(d, 96), WG_D8(d, 104), WG_D8(d, 112), WG_D8(d, 120) \
               : "l"(da), "l"(db), "r"(1))
// clang-format on

#define WG_MMA_(n, d, da, db) WG_MMA_N##n(d, da, db)
#define WG_MMA(n, d, da, db)  WG_MMA_(n, d, da, db)

inline void wg_fence(void) {
  asm volatile(WG_PTX("wgmma.fence.sync.aligned;")::: "memory");
}

inline void wg_commit(void) {
  asm volatile(WG_PTX("wgmma.commit_group.sync.aligned;")::: "memory");
}

/* Waits until none of the warpgroup's committed multiplies still runs. */
inline void wg_wait_all(void) {
  asm volatile(WG_PTX("wgmma.wait_group.sync.aligned 0;")::: "memory");
}

/* Waits until at most WG_INFLIGHT of the warpgroup's committed multiplies still run. */
inline void wg_wait_inflight(void) {
#if WG_INFLIGHT
  asm volatile(WG_PTX("wgmma.wait_group.sync.aligned 1;")::: "memory");
#else
  wg_wait_all();
#endif
}

/* 16 bytes from global src to local address dst; fewer than 16 valid bytes (0 outside the
 * matrix) are completed with zeros. */
inline void wg_copy16(uint dst, __global const ushort *src, uint bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes)
               : "memory");
}

/* The item's copies are done, and visible to the multiplies of every warpgroup after the next
 * barrier. */
inline void wg_copies_landed(void) {
  asm volatile(WG_COPY_WAIT "\nfence.proxy.async.shared::cta;" ::: "memory");
}

inline void wg_copies_commit(void) {
  asm volatile("cp.async.commit_group;" ::: "memory");
}

/* A shared-memory matrix descriptor: start address, the byte offsets between atoms (lead,
 * stride; their directions depend on the operand's major, see wg_operand) and the swizzle mode. */
inline ulong wg_desc(uint addr, uint lead, uint stride, uint mode) {
  return (ulong)((addr & 0x3ffffu) >> 4) | (ulong)(lead >> 4) << 16 | (ulong)(stride >> 4) << 32 |
         (ulong)mode << 62;
}

/* The descriptor of k16 step ks of an operand tile at addr with cols stored columns, for the 64
 * rows (A) starting at m64, or all of N (B, m64 = 0). */
inline ulong wg_operand(uint addr, int kmajor, uint cols, uint m64, uint ks) {
  if (kmajor) /* atoms of 8 rows follow each other; a k16 step is 32 bytes along the row */
    return wg_desc(addr + m64 * 64 * cols * 2 + ks * 32, 16, 16 * cols, WG_K_MODE);
  /* atoms follow each other along MN (lead), rows of atoms (8 of K) cols * 16 apart (stride) */
  return wg_desc(addr + m64 * 1024 + ks * 2 * cols * 16, 1024, cols * 16, 1);
}

/* Byte offset o within a tile, swizzled in rows of 2^bits chunks: bits 4 and up of o take the
 * XOR of bits 7 and up (the row within its atom of 8). */
inline uint wg_swizzle(uint o, uint bits) {
  return o ^ (((o >> 7) & ((1u << bits) - 1)) << 4);
}

/* One operand's copies: chunk q = tid + i * WG_THREADS of a tile is chunk q % (cols / 8) of
 * stored row q / (cols / 8), so that neighbouring items read neighbouring chunks. */
typedef struct wg_chunk {
  __global const ushort *src; /* the chunk of the first tile */
  uint dst;                   /* its swizzled byte offset in the operand's tile */
  uint k;                     /* its position along K in that tile (row or column) */
  uint valid;                 /* whether its position across K lies inside the matrix */
} wg_chunk;

/* The local byte offset of chunk c of stored row r of a tile with cols stored columns. */
inline uint wg_place(uint r, uint c, uint cols, int kmajor) {
  if (kmajor) return wg_swizzle(r * cols * 2 + c * 16, WG_K_SWIZZLE);
  return wg_swizzle((r / 8) * cols * 16 + (c / 8) * 1024 + (r % 8) * 128 + (c % 8) * 16, 3);
}

/* The chunk q of an operand stored with row length ld whose tiles start at row0, col0, with
 * rows_end rows and cols_end columns; deep: stored rows run along K (MN-major). */
inline wg_chunk wg_chunk_make(__global const ushort *base, ulong ld, uint row0, uint col0,
                              uint rows_end, uint cols_end, uint cols, int deep, uint q) {
  uint r = q / (cols / 8), c = q % (cols / 8);
  wg_chunk ch;
  ch.src = base + (ulong)(row0 + r) * ld + col0 + c * 8;
  ch.dst = wg_place(r, c, cols, !deep);
  ch.k = deep ? r : c * 8;
  ch.valid = deep ? col0 + c * 8 < cols_end : row0 + r < rows_end;
  return ch;
}

/* Copies the item's chunks of tile kt (K from kt * WG_BK, bounded by k_end) of one operand into
 * its tile at local address dst; step is the elements between tiles. */
inline void wg_fetch_operand(const wg_chunk *ch, uint iters, uint dst, uint kt, ulong step,
                             uint k_end) {
#pragma unroll
  for (uint i = 0; i < iters; i++) {
    uint in = ch[i].valid && kt * WG_BK + ch[i].k < k_end;
    wg_copy16(dst + ch[i].dst, in ? ch[i].src + kt * step : ch[i].src, in ? 16 : 0);
  }
}

/* The block of C (in units of WG_BM, WG_BN) of this work-group: WG_GROUP consecutive block rows
 * are walked column by column, so that the groups running together share tiles in the L2. */
inline uint2 wg_block(void) {
  uint cols = get_num_groups(0), rows = get_num_groups(1);
  uint id = get_group_id(1) * cols + get_group_id(0), per_band = WG_GROUP * cols;
  uint band = id / per_band, in_band = id % per_band;
  uint height = min(rows - band * WG_GROUP, (uint)WG_GROUP);
  return (uint2)(band * WG_GROUP + in_band % height, in_band / height);
}

/* C = alpha * acc + beta * C for the warpgroup's 64 rows from m0 (beta 0: C is not read). */
inline void wg_store(__global TYPE(C_DT) *c, ulong off, ulong ldc, uint m0, uint n0, uint m_end,
                     uint n_end, float alpha, float beta, uint t, const float *d) {
  uint lane = t & 31, row = m0 + (t >> 5) * 16 + (lane >> 2);
#pragma unroll
  for (uint j = 0; j < WG_BN / 8; j++)
#pragma unroll
    for (uint h = 0; h < 4; h++) {
      uint m = row + (h >> 1) * 8, n = n0 + j * 8 + (lane & 3) * 2 + (h & 1);
      if (m >= m_end || n >= n_end) continue;
      ulong at = off + (ulong)m * ldc + n;
      float v = alpha * d[j * 4 + h];
      if (beta != 0.0f) v += beta * LOAD(C_DT, c, at);
      STORE(C_DT, c, at, v);
    }
}

/* One work-group of WG_THREADS items computes a WG_BM x WG_BN block of C (see wg_block). a and
 * b are the stored A and B, whose first elements are at a_off and b_off; lda and ldb are their
 * row lengths. */
__kernel __attribute__((reqd_work_group_size(WG_THREADS, 1, 1))) void
gemm_wgmma(const uint m_len, const uint n_len, const uint k_len, const float alpha,
           __global const ushort *a, const ulong a_off, const ulong lda, __global const ushort *b,
           const ulong b_off, const ulong ldb, const float beta, __global TYPE(C_DT) *c,
           const ulong c_off, const ulong ldc) {
  __local uint4 smem[WG_STAGES * WG_STAGE / 16] __attribute__((aligned(1024)));
  uint tid = get_local_id(0), wg = tid >> 7;
  uint2 blk = wg_block();
  uint m0 = blk.x * WG_BM, n0 = blk.y * WG_BN;
  uint base = (uint)(ulong)(__local uchar *)smem;
  wg_chunk ca[WG_A_ITERS], cb[WG_B_ITERS];
#pragma unroll
  for (uint i = 0; i < WG_A_ITERS; i++)
    ca[i] = WG_TA ? wg_chunk_make(a + a_off, lda, 0, m0, k_len, m_len, WG_A_COLS, 1,
                                  tid + i * WG_THREADS)
                  : wg_chunk_make(a + a_off, lda, m0, 0, m_len, k_len, WG_A_COLS, 0,
                                  tid + i * WG_THREADS);
#pragma unroll
  for (uint i = 0; i < WG_B_ITERS; i++)
    cb[i] = WG_TB ? wg_chunk_make(b + b_off, ldb, n0, 0, n_len, k_len, WG_B_COLS, 0,
                                  tid + i * WG_THREADS)
                  : wg_chunk_make(b + b_off, ldb, 0, n0, k_len, n_len, WG_B_COLS, 1,
                                  tid + i * WG_THREADS);
  ulong a_step = WG_TA ? (ulong)WG_BK * lda : WG_BK, b_step = WG_TB ? WG_BK : (ulong)WG_BK * ldb;
  float d[WG_ACC];
#pragma unroll
  for (uint i = 0; i < WG_ACC; i++) d[i] = 0.0f;
  uint tiles = (k_len + WG_BK - 1) / WG_BK;
  for (uint s = 0; s < WG_AHEAD; s++) {
    if (s < tiles) {
      wg_fetch_operand(ca, WG_A_ITERS, base + s * WG_STAGE, s, a_step, k_len);
      wg_fetch_operand(cb, WG_B_ITERS, base + s * WG_STAGE + WG_A_BYTES, s, b_step, k_len);
    }
    wg_copies_commit();
  }
  for (uint kt = 0; kt < tiles; kt++) {
    wg_copies_landed();
    barrier(CLK_LOCAL_MEM_FENCE);
    uint next = kt + WG_AHEAD, at = base + (next % WG_STAGES) * WG_STAGE;
    if (next < tiles) {
      wg_fetch_operand(ca, WG_A_ITERS, at, next, a_step, k_len);
      wg_fetch_operand(cb, WG_B_ITERS, at + WG_A_BYTES, next, b_step, k_len);
    }
    wg_copies_commit();
    uint stage = base + (kt % WG_STAGES) * WG_STAGE;
    wg_fence();
#pragma unroll
    for (uint ks = 0; ks < WG_BK / 16; ks++) {
      ulong da = wg_operand(stage, WG_A_KMAJOR, WG_A_COLS, wg, ks);
      ulong db = wg_operand(stage + WG_A_BYTES, WG_B_KMAJOR, WG_B_COLS, 0, ks);
      WG_MMA(WG_BN, d, da, db);
    }
    wg_commit();
    wg_wait_inflight();
  }
  wg_wait_all();
  wg_store(c, c_off, ldc, m0 + wg * 64, n0, m_len, n_len, alpha, beta, tid & 127, d);
}
