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

/* The reference of the conv section (tools/clmp/bench_conv.c), fp32, one image at a time around
 * CLBlast's Sgemm, as Caffe's im2col_gpu_kernel and col2im_gpu_kernel do it. geo holds C, H, W,
 * Ho, Wo, kh, kw, the stride, the padding and the dilation (height then width) in s0 to sc. */

/* col [C kh kw, Ho Wo] of image x: item (c, oh, ow) writes its kh kw taps, 0 in the padding. */
__kernel void bench_im2col(__global const float *x, const ulong x_off, __global float *col,
                           const int16 geo, const ulong n) {
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const int ow = (int)(i % geo.s4), oh = (int)(i / geo.s4 % geo.s3), c = (int)(i / geo.s4 / geo.s3);
  const ulong plane = (ulong)geo.s3 * geo.s4;
  __global float *dst = col + (ulong)c * geo.s5 * geo.s6 * plane + (ulong)oh * geo.s4 + ow;
  __global const float *src = x + x_off + (ulong)c * geo.s1 * geo.s2;
  for (int a = 0; a < geo.s5; a++)
    for (int b = 0; b < geo.s6; b++, dst += plane) {
      const int ih = oh * geo.s7 - geo.s9 + a * geo.sb, iw = ow * geo.s8 - geo.sa + b * geo.sc;
      *dst = ih >= 0 && ih < geo.s1 && iw >= 0 && iw < geo.s2 ? src[ih * geo.s2 + iw] : 0.0f;
    }
}

/* dx of one image from dcol [C kh kw, Ho Wo]: item (c, ih, iw) sums the taps that meet it. */
__kernel void bench_col2im(__global const float *dcol, __global float *dx, const ulong dx_off,
                           const int16 geo, const ulong n) {
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const int iw = (int)(i % geo.s2), ih = (int)(i / geo.s2 % geo.s1), c = (int)(i / geo.s2 / geo.s1);
  const ulong plane = (ulong)geo.s3 * geo.s4;
  float v = 0.0f;
  for (int a = 0; a < geo.s5; a++)
    for (int b = 0; b < geo.s6; b++) {
      const int th = ih + geo.s9 - a * geo.sb, tw = iw + geo.sa - b * geo.sc;
      const int oh = th / geo.s7, ow = tw / geo.s8;
      if (th >= 0 && tw >= 0 && th % geo.s7 == 0 && tw % geo.s8 == 0 && oh < geo.s3 && ow < geo.s4)
        v += dcol[((ulong)(c * geo.s5 + a) * geo.s6 + b) * plane + (ulong)oh * geo.s4 + ow];
    }
  dx[dx_off + i] = v;
}
