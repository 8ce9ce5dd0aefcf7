/* cl/reduce.cl: reductions over a whole tensor of X_DT: the non-finite check, and the sum of
 * squares in fp32 in a fixed order (blocks per work-group, a local tree, then one work-group
 * over the partials), so that a device gives the same bits on every run. */

/* Storage type of the input (named, so that clang-format sees a type). */
#define X_T TYPE(X_DT)

/* Sums the GROUP_SIZE values of a work-group (v from each item) in a fixed tree. */
float group_sum(__local float *part, float v) {
  uint l = get_local_id(0);
  part[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint h = GROUP_SIZE / 2; h > 0; h >>= 1) {
    if (l < h) part[l] += part[l + h];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return part[0];
}

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
  float total = group_sum(part, acc);
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
  float total = group_sum(part, acc);
  if (get_local_id(0) == 0) out[out_off] = beta == 0.0f ? total : total + beta * out[out_off];
}
