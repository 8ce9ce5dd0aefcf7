/* cl/bench.cl: kernels of `clmp bench` alone: float4 copies, whose bandwidth is the reference of
 * the streaming kernels (the fused optimizer step): one float4 per work-item, and a grid-stride
 * loop launched the way clmp launches its element-wise kernels. */

__kernel void copy_f4(__global const float4 *src, __global float4 *dst, const ulong n) {
  size_t i = get_global_id(0);
  if (i < n) dst[i] = src[i];
}

__kernel void copy_f4_stride(__global const float4 *src, __global float4 *dst, const ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) dst[i] = src[i];
}
