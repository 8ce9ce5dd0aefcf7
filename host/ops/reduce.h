/* host/ops/reduce.h: sums over [N, C, S] views per channel (bias_grad, batch norm's statistics)
 * and per plane (global average pooling): partial sums in an order set by the shape alone, so
 * that every device and every run adds alike, which each op then finishes in its own kernel. */
#ifndef CLMP_HOST_OPS_REDUCE_H
#define CLMP_HOST_OPS_REDUCE_H

#include "table.h"

/* Plane chunks: plane (n, c) is cut into chunks of CLMP__CHUNK elements; lane j % CLMP__LANES
 * adds element j of a chunk, in order, then a tree over the lanes (pairs LANES / 2 apart, then
 * LANES / 4, ...) gives the chunk's sum. Row blocks, for planes of fewer than CLMP__LANES
 * elements: element (c, s) of images [b BLOCK_ROWS, (b + 1) BLOCK_ROWS), added in order. The
 * longest chain of roundings a term goes through is CHUNK / LANES + log2(LANES) adds in a chunk
 * or BLOCK_ROWS in a block, then the finish over the rows (clmp__partials). */
#define CLMP__LANES      64
#define CLMP__LANES_LOG2 6
#define CLMP__CHUNK      1024
#define CLMP__BLOCK_ROWS 64

/* What is summed: x; (x - mean[c])^2; the pair (dy, dy (x - mean[c])). */
typedef enum clmp__term {
  CLMP__TERM_X = 0,
  CLMP__TERM_SQDEV = 1,
  CLMP__TERM_DY_XMU = 2
} clmp__term;

/* Where partial sums lie: rows of C * sp floats, a channel's sum being that of p[(r C + c) sp + s]
 * over r (outer, in order), then s < sp (inner, in order); a pair of terms puts the second array
 * right after the first. by_planes: rows = N * chunks (row n chunks + k: chunk k of image n's
 * planes), sp = 1; else row blocks: rows = ceil(N / BLOCK_ROWS), sp = S. Folded: the rows summed
 * again in blocks of BLOCK_ROWS (cl/reduce.cl's row blocks over the partials), until at most
 * CLMP__FOLD_ROWS remain, so that a finish adds few terms per item (a GPU runs one item per
 * channel there). */
#define CLMP__FOLD_ROWS (2 * CLMP__BLOCK_ROWS)

typedef struct clmp__partials {
  size_t rows, sp, chunks;
  int by_planes;
} clmp__partials;

/* One sum over the view v: the term, its tensors (x; dy of x's shape for the pair, else NULL),
 * the f32 per-channel mean at element mean_off of mean (mean-centred terms; else NULL), per
 * plane (global pooling: plane chunks, never folded) or per channel (row blocks when S < LANES,
 * else plane chunks), and whether its rows are folded. */
typedef struct clmp__sum {
  clmp__term term;
  const clmp_tensor *x, *dy;
  cl_mem mean;
  cl_ulong mean_off;
  clmp__ncs v;
  int per_plane, fold;
} clmp__sum;

/* The layout s's partial sums end in, after their folds. */
clmp__partials clmp__sum_layout(const clmp__sum *s);
/* The floats of one array of partial sums of v in layout l: rows C sp. */
size_t clmp__partials_count(clmp__ncs v, clmp__partials l);
/* The scratch floats clmp__cl_partials uses from its offset: both arrays, and the folds' room. */
size_t clmp__sum_scratch(const clmp__sum *s);
/* The longest chain of additions a term of s goes through, the finish included: the n of the
 * textbook bound n u sum |terms| of the fp32 error, which tolerances of `clmp verify` and the
 * tests scale with. */
size_t clmp__sum_depth(const clmp__sum *s);

/* Enqueues the partial sums of s (cl/reduce.cl) into out from element out_off, then folds them;
 * *at receives the element of out where they end (in clmp__sum_layout(s)). */
clmp_status clmp__cl_partials(const clmp__sum *s, cl_mem out, cl_ulong out_off, cl_ulong *at);
/* The same into the context's scratch from element 0, grown to hold them and extra floats after
 * them (from element clmp__sum_scratch(s)); *scratch receives it. */
clmp_status clmp__cl_partials_scratch(const clmp__sum *s, size_t extra, cl_mem *scratch,
                                      cl_ulong *at);

#endif
