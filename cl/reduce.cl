/* cl/reduce.cl: reductions in fp32 in a fixed order. Over a whole tensor of X_DT (GROUP_SIZE
 * defined): the non-finite check and the sum of squares (blocks per work-group, a local tree,
 * then one work-group over the partials). Over [N, C, S] views (SUM_TERM defined): the partial
 * sums of per-channel and per-plane reductions, in an order set by the shape alone. */

/* Storage type of the input (named, so that clang-format sees a type). */
#define X_T TYPE(X_DT)

/* What a work-group tree adds: floats, or pairs of them for a pair of terms; over GROUP_SIZE
 * items for the whole-tensor reductions, LANES for the partial sums. */
#if defined(SUM_TERM) && SUM_TERM == 2 /* TERM_DYXMU */
#define ACC_T float2
#else
#define ACC_T float
#endif
#ifdef GROUP_SIZE
#define TREE_WIDTH GROUP_SIZE
#else
#define TREE_WIDTH LANES
#endif

/* Sums the TREE_WIDTH values of a work-group (v from each item) in a fixed tree: pairs
 * TREE_WIDTH / 2 apart, then TREE_WIDTH / 4, ... */
ACC_T tree_sum(__local ACC_T *part, ACC_T v) {
  uint l = get_local_id(0);
  part[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint h = TREE_WIDTH / 2; h > 0; h >>= 1) {
    if (l < h) part[l] += part[l + h];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return part[0];
}

#ifdef GROUP_SIZE

/* flag[0] = 1 when any of n elements is inf or NaN (exponent bits all ones); never cleared.
 * Every writer stores the same 1, so the race between them is harmless. */
__kernel void nonfinite_check(__global const X_T *x, const ulong x_off, const ulong n,
                              __global int *flag, const ulong flag_off) {
  uint bad = 0;
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0))
    bad |= (as_uint(LOAD(X_DT, x, x_off + i)) & 0x7f800000u) == 0x7f800000u;
  if (bad) flag[flag_off] = 1;
}

/* partials[g] = sum of x[i]^2 over block g, [g * block, (g + 1) * block) cut at n: item l adds
 * elements l, l + GROUP_SIZE, ... of the block in order, then the group's tree. */
__kernel __attribute__((reqd_work_group_size(GROUP_SIZE, 1, 1))) void
sumsq_partials(__global const X_T *x, const ulong x_off, const ulong n, const ulong block,
               __global float *partials) {
  __local float part[GROUP_SIZE];
  ulong begin = get_group_id(0) * block;
  ulong end = min(n, begin + block);
  float acc = 0.0f;
  for (ulong i = begin + get_local_id(0); i < end; i += GROUP_SIZE) {
    float v = LOAD(X_DT, x, x_off + i);
    acc += v * v;
  }
  float total = tree_sum(part, acc);
  if (get_local_id(0) == 0) partials[get_group_id(0)] = total;
}

/* out[0] = sum of partials[0..groups) + beta * out[0] (out not read when beta is 0): one
 * work-group, items over strided partials in order, then the tree. */
__kernel __attribute__((reqd_work_group_size(GROUP_SIZE, 1, 1))) void
sumsq_final(__global const float *partials, const ulong groups, const float beta,
            __global float *out, const ulong out_off) {
  __local float part[GROUP_SIZE];
  float acc = 0.0f;
  for (ulong g = get_local_id(0); g < groups; g += GROUP_SIZE) acc += partials[g];
  float total = tree_sum(part, acc);
  if (get_local_id(0) == 0) out[out_off] = beta == 0.0f ? total : total + beta * out[out_off];
}
#endif

#ifdef SUM_TERM
/* Partial sums of a term over [N, C, S] (host/ops/reduce.h says where each lands): SUM_TERM 0
 * sums x, 1 sums (x - mean[c])^2, 2 sums the pair (dy, dy (x - mean[c])). Plane chunks: chunk k
 * of plane (n, c) is its elements [k CHUNK, (k + 1) CHUNK); lane j % LANES adds element j of
 * the chunk, in order, then a tree over the lanes. Row blocks: element (c, s) of block b adds
 * images n of [b BLOCK_ROWS, (b + 1) BLOCK_ROWS) in order. SERIAL: one item per chunk that keeps
 * the LANES lane sums itself (CPUs), adding in the very order of the work-group form. */
#if !defined(LANES) || !defined(CHUNK) || !defined(BLOCK_ROWS) || !defined(SERIAL)
#error "LANES, CHUNK, BLOCK_ROWS and SERIAL come from host/ops/reduce.c"
#endif

/* (x - m)^2 and dy (x - m) are a rounded difference, product and sum on every device. */
#pragma OPENCL FP_CONTRACT OFF

#define TERM_X     0
#define TERM_SQDEV 1
#define TERM_DYXMU 2

#if SUM_TERM == TERM_DYXMU
#define TERM(i)           dy_xmu(LOAD(DY_DT, dy, dy_off + (i)), LOAD(X_DT, x, x_off + (i)), m)
#define STORE_ACC(idx, a) (out[out_off + (idx)] = (a).x, out[out_off + n_out + (idx)] = (a).y)
#else
#define STORE_ACC(idx, a) (out[out_off + (idx)] = (a))
#if SUM_TERM == TERM_SQDEV
#define TERM(i) sq_dev(LOAD(X_DT, x, x_off + (i)), m)
#else
#define TERM(i) LOAD(X_DT, x, x_off + (i))
#endif
#endif

/* The arguments of both kernels: x (and dy), the mean per channel (read by terms 1 and 2), the
 * view [n, c, s], chunks per plane, and out: n_out floats per term from out_off. */
#define SUM_ARGS                                                                                \
  __global const X_T *x, const ulong x_off, __global const TYPE(DY_DT) *dy, const ulong dy_off, \
      __global const float *mean, const ulong mean_off, const ulong n, const ulong c,           \
      const ulong s, const ulong chunks, __global float *out, const ulong out_off,              \
      const ulong n_out

inline float sq_dev(float x, float m) {
  float d = x - m;
  return d * d;
}

inline float2 dy_xmu(float dy, float x, float m) {
  return (float2)(dy, dy * (x - m));
}

/* The mean of channel ch (0 for a plain sum, whose mean is not read). */
#if SUM_TERM == TERM_X
#define MEAN_OF(ch) 0.0f
#else
#define MEAN_OF(ch) mean[mean_off + (ch)]
#endif

#if SERIAL
/* The lanes of one chunk: acc[l] += element j of [0, len) for j % LANES == l, then the tree. */
ACC_T chunk_sum(__global const X_T *x, const ulong x_off, __global const TYPE(DY_DT) *dy,
                const ulong dy_off, const ulong base, const ulong len, const float m) {
  ACC_T acc[LANES];
  for (uint l = 0; l < LANES; l++) acc[l] = (ACC_T)(0.0f);
  ulong j0 = 0;
  for (; j0 + LANES <= len; j0 += LANES) /* whole rows of lanes: a loop the compiler vectorises */
    for (uint l = 0; l < LANES; l++) acc[l] += TERM(base + j0 + l);
  for (uint l = 0; j0 + l < len; l++) acc[l] += TERM(base + j0 + l);
  for (uint h = LANES / 2; h > 0; h >>= 1)
    for (uint l = 0; l < h; l++) acc[l] += acc[l + h];
  return acc[0];
}

__kernel void plane_partials(SUM_ARGS) {
  for (ulong q = get_global_id(0); q < n * c * chunks; q += get_global_size(0)) {
    const ulong plane = q / chunks, k = q % chunks, ch = plane % c;
    const ulong len = min((ulong)CHUNK, s - k * CHUNK);
    ACC_T a = chunk_sum(x, x_off, dy, dy_off, plane * s + k * CHUNK, len, MEAN_OF(ch));
    STORE_ACC((plane / c * chunks + k) * c + ch, a);
  }
}
#else
/* One work-group of LANES items per chunk, striding over the chunks. */
__kernel __attribute__((reqd_work_group_size(LANES, 1, 1))) void plane_partials(SUM_ARGS) {
  __local ACC_T part[LANES];
  for (ulong q = get_group_id(0); q < n * c * chunks; q += get_num_groups(0)) {
    const ulong plane = q / chunks, k = q % chunks, ch = plane % c, base = plane * s + k * CHUNK;
    const ulong len = min((ulong)CHUNK, s - k * CHUNK);
    const float m = MEAN_OF(ch);
    ACC_T a = (ACC_T)(0.0f);
    for (ulong j = get_local_id(0); j < len; j += LANES) a += TERM(base + j);
    a = tree_sum(part, a); /* the tree of the serial form */
    if (get_local_id(0) == 0) STORE_ACC((plane / c * chunks + k) * c + ch, a);
    barrier(CLK_LOCAL_MEM_FENCE); /* part is rewritten by the next chunk */
  }
}
#endif

/* Row blocks: out[b c s + e] = the sum over the images of block b of element e = (ch, j) of
 * their [c, s] planes, in order (adjacent items take adjacent elements). */
__kernel void rows_partials(SUM_ARGS) {
  const ulong per_image = c * s, blocks = (n + BLOCK_ROWS - 1) / BLOCK_ROWS;
  for (ulong i = get_global_id(0); i < blocks * per_image; i += get_global_size(0)) {
    const ulong e = i % per_image, n0 = i / per_image * BLOCK_ROWS, n1 = min(n0 + BLOCK_ROWS, n);
    const float m = MEAN_OF(e / s);
    ACC_T a = (ACC_T)(0.0f);
    for (ulong r = n0; r < n1; r++) a += TERM(r * per_image + e);
    STORE_ACC(i, a);
  }
}
#endif
