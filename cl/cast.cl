/* cl/cast.cl: element-wise conversion between storage dtypes (IN_DT -> OUT_DT), through fp32,
 * which holds every f16 and bf16 value exactly, so there is one rounding at most. */

/* n elements from src[src_off..] to dst[dst_off..]; offsets in elements. */
__kernel void cast(__global const IN_T *src, const ulong src_off, __global OUT_T *dst,
                   const ulong dst_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n)
    STORE_OUT(dst, dst_off + i, LOAD_IN(src, src_off + i));
}
