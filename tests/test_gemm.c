/* tests/test_gemm.c: clmp_gemm and clmp_gemm_ex on every OpenCL device against the reference:
 * the four transposes, alpha and beta (beta 0 with NaN in C), odd, thin and large shapes, offsets
 * and leading dimensions, dtype combinations, special values, a finite-difference check of a
 * linear layer, bad arguments, and a timing printout (no assertion on speed).
 *
 * Tolerance of a device result against the reference (which accumulates in double), with u_acc
 * the unit roundoff of the accumulation (2^-24: fp32 on every default path) and u_out that of C's
 * dtype (f32 2^-24, f16 2^-11, bf16 2^-8):
 *   atol    = (K + 2) * u_acc * S,  S = max over C of |alpha| sum_k |op(A)ik op(B)kj| + |beta Cij|
 *             (the worst-case bound of a length-K dot product plus the alpha and beta terms, in any
 *             summation order; S is computed on the host from the stored values)
 *   rtol    = 2 * u_out  (both results are rounded to C's dtype once)
 *   max_ulp = 1          (two roundings of nearby values may straddle a rounding boundary)
 * Special values are built so that every sum is exact, and must match exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define U_F32     0x1p-24 /* unit roundoff of fp32 (accumulation, f32 output) */
#define U_F16     0x1p-11
#define U_BF16    0x1p-8
#define PAD_A_B   NAN     /* A and B elements outside the matrices: reading them poisons C */
#define PAD_C     1234.5f /* C elements outside the matrix: the gemm must leave them alone */
#define SEED      0x6e33u
#define TIME_SIZE 512 /* the timing printout's M = N = K */
#define TIME_REPS 3
#define FD_BATCH  6  /* the linear layer of the gradient check: x [FD_BATCH, FD_IN] */
#define FD_IN     11 /* W [FD_OUT, FD_IN], b [FD_OUT] */
#define FD_OUT    5
#define FD_STEP   0.25  /* central-difference step (the loss is linear: no truncation error) */
#define FD_FLOOR  1e-12 /* rounding of the loss sums in double */

/* --- cases ------------------------------------------------------------------------------------ */

typedef struct gemm_case {
  clmp_transpose ta, tb;
  size_t m, n, k;
  float alpha, beta;
  clmp_dtype da, db, dc;
  size_t pad;   /* offset and ld - cols of every matrix (clmp_gemm_ex); 0: whole 2-D tensors */
  int c_nan;    /* C starts as NaN (with beta 0: must not propagate) */
  double u_acc; /* accumulation roundoff assumed by the tolerance */
} gemm_case;

/* A stored matrix: rows x cols at offset pad with ld cols + pad, contents as fp32 (exactly the
 * values of the tensor's dtype). */
typedef struct operand {
  clmp_dtype d;
  size_t rows, cols, pad;
  float *v;
} operand;

static double unit_roundoff(clmp_dtype d) {
  return d == CLMP_F16 ? U_F16 : d == CLMP_BF16 ? U_BF16 : U_F32;
}

static float quantize(clmp_dtype d, float x) {
  if (d == CLMP_F16) return clmp_f16_to_f32(clmp_f32_to_f16(x));
  if (d == CLMP_BF16) return clmp_bf16_to_f32(clmp_f32_to_bf16(x));
  return x;
}

static size_t operand_numel(const operand *o) {
  return o->pad + o->rows * (o->cols + o->pad);
}

static float *operand_at(const operand *o, size_t r, size_t c) {
  return &o->v[o->pad + r * (o->cols + o->pad) + c];
}

/* Uniform values in [-1, 1) inside the matrix, pad_value around it, all quantized. */
static void operand_init(operand *o, clmp_dtype d, size_t rows, size_t cols, size_t pad,
                         float pad_value, uint64_t seed) {
  *o = (operand){.d = d, .rows = rows, .cols = cols, .pad = pad};
  o->v = malloc(operand_numel(o) * sizeof *o->v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(o->v);
  for (size_t i = 0; i < operand_numel(o); i++) o->v[i] = pad_value;
  float *row = malloc(cols * sizeof *row);
  CU_ASSERT_PTR_NOT_NULL_FATAL(row);
  for (size_t r = 0; r < rows; r++) {
    clmp_test_uniform(row, cols, -1.0f, 1.0f, seed + r);
    for (size_t c = 0; c < cols; c++) *operand_at(o, r, c) = quantize(d, row[c]);
  }
  free(row);
}

/* The operand as a tensor of ctx: [rows, cols], or 1-D with the padding when pad > 0. */
static clmp_tensor *operand_tensor(clmp_ctx *ctx, const operand *o) {
  size_t shape2[2] = {o->rows, o->cols}, shape1[1] = {operand_numel(o)};
  return o->pad ? clmp_test_tensor(ctx, o->d, 1, shape1, o->v)
                : clmp_test_tensor(ctx, o->d, 2, shape2, o->v);
}

static clmp_matrix operand_matrix(const clmp_tensor *t, const operand *o) {
  return (clmp_matrix){
      .t = t, .offset = o->pad, .rows = o->rows, .cols = o->cols, .ld = o->cols + o->pad};
}

/* op(X)[i, j] of an operand. */
static float op_at(const operand *o, clmp_transpose t, size_t i, size_t j) {
  return t == CLMP_TRANS ? *operand_at(o, j, i) : *operand_at(o, i, j);
}

/* S of the tolerance: max over C of |alpha| sum_k |op(A)ik op(B)kj| + |beta Cij|. */
static double magnitude(const gemm_case *g, const operand *a, const operand *b, const operand *c) {
  double s = 0;
  for (size_t i = 0; i < g->m; i++)
    for (size_t j = 0; j < g->n; j++) {
      double sum = 0;
      for (size_t k = 0; k < g->k; k++)
        sum += fabs((double)op_at(a, g->ta, i, k) * op_at(b, g->tb, k, j));
      sum = fabs(g->alpha) * sum + (g->beta != 0 ? fabs(g->beta * *operand_at(c, i, j)) : 0);
      if (sum > s) s = sum;
    }
  return s;
}

static clmp__tolerance case_tolerance(const gemm_case *g, double s) {
  return (clmp__tolerance){
      .atol = (double)(g->k + 2) * g->u_acc * s, .rtol = 2 * unit_roundoff(g->dc), .max_ulp = 1};
}

/* Runs the case's gemm on tensors a, b, c (clmp_gemm, or clmp_gemm_ex with padding). */
static clmp_status run_gemm(const gemm_case *g, const operand *o, clmp_tensor *const t[3]) {
  if (!o[0].pad) return clmp_gemm(g->ta, g->tb, g->alpha, t[0], t[1], g->beta, t[2]);
  return clmp_gemm_ex(g->ta, g->tb, g->alpha, operand_matrix(t[0], &o[0]),
                      operand_matrix(t[1], &o[1]), g->beta, operand_matrix(t[2], &o[2]));
}

/* The case's operands A, B, C on ctx, gemm run; returns C's tensor (A and B freed). */
static clmp_tensor *gemm_on(clmp_ctx *ctx, const gemm_case *g, const operand *o) {
  clmp_tensor *t[3] = {operand_tensor(ctx, &o[0]), operand_tensor(ctx, &o[1]),
                       operand_tensor(ctx, &o[2])};
  clmp_status st = run_gemm(g, o, t);
  if (st != CLMP_SUCCESS)
    printf("\n    gemm failed: %s: %s", clmp_status_name(st), clmp_last_error());
  CU_ASSERT_EQUAL(st, CLMP_SUCCESS);
  clmp_tensor_free(t[0]), clmp_tensor_free(t[1]);
  return t[2];
}

static void case_name(const gemm_case *g, const char *dev, char *out, size_t size) {
  snprintf(out, size, "%-5.31s %c%c %-4.4s x %-4.4s -> %-4.4s %3zux%3zux%3zu a=%g b=%g%s%s", dev,
           g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', clmp_dtype_name(g->da), clmp_dtype_name(g->db),
           clmp_dtype_name(g->dc), g->m, g->n, g->k, (double)g->alpha, (double)g->beta,
           g->pad ? " ld+pad" : "", g->c_nan ? " C=NaN" : "");
}

static void make_operands(const gemm_case *g, operand o[3], uint64_t seed) {
  int ta = g->ta == CLMP_TRANS, tb = g->tb == CLMP_TRANS;
  operand_init(&o[0], g->da, ta ? g->k : g->m, ta ? g->m : g->k, g->pad, PAD_A_B, seed);
  operand_init(&o[1], g->db, tb ? g->n : g->k, tb ? g->k : g->n, g->pad, PAD_A_B, seed + 1000);
  operand_init(&o[2], g->dc, g->m, g->n, g->pad, PAD_C, seed + 2000);
  for (size_t i = 0; g->c_nan && i < g->m; i++)
    for (size_t j = 0; j < g->n; j++) *operand_at(&o[2], i, j) = NAN;
}

static int is_ref(const clmp_test_device *d) {
  return clmp_ctx_device(d->ctx)->kind == CLMP_DEVICE_REF;
}

/* One case: the reference once, then every OpenCL device compared with it, padding included. */
static void check_case(const gemm_case *g, uint64_t seed) {
  operand o[3];
  make_operands(g, o, seed);
  clmp__tolerance tol = case_tolerance(g, magnitude(g, &o[0], &o[1], &o[2]));
  clmp_tensor *want = gemm_on(clmp_test_ref_ctx(), g, o);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (is_ref(&clmp_test_devs[d])) continue;
    char name[160];
    case_name(g, clmp_test_devs[d].id, name, sizeof name);
    clmp_tensor *got = gemm_on(clmp_test_devs[d].ctx, g, o);
    clmp_test_expect_close(name, got, want, &tol);
    clmp_tensor_free(got);
  }
  clmp_tensor_free(want);
  for (int i = 0; i < 3; i++) free(o[i].v);
}

static void check_cases(const gemm_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) check_case(&cases[i], SEED + 7919 * i);
}

#define N_OF(a) (sizeof(a) / sizeof *(a))
#define NN      CLMP_NO_TRANS, CLMP_NO_TRANS
#define NT      CLMP_NO_TRANS, CLMP_TRANS
#define TN      CLMP_TRANS, CLMP_NO_TRANS
#define TT      CLMP_TRANS, CLMP_TRANS
#define F32     CLMP_F32
#define F16     CLMP_F16
#define BF16    CLMP_BF16

/* --- tests ------------------------------------------------------------------------------------ */

static void test_transposes(void) {
  static const gemm_case cases[] = {
      {NN, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 0, 0, U_F32},
      {NT, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 0, 0, U_F32},
      {TN, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 0, 0, U_F32},
      {TT, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 0, 0, U_F32},
      {NN, 17, 33, 65, 1.5f, -0.5f, F16, F16, F32, 0, 0, U_F32},
      {NT, 17, 33, 65, 1.5f, -0.5f, F16, F16, F32, 0, 0, U_F32},
      {TN, 17, 33, 65, 1.5f, -0.5f, F16, F16, F32, 0, 0, U_F32},
      {TT, 17, 33, 65, 1.5f, -0.5f, F16, F16, F32, 0, 0, U_F32},
      {NT, 33, 17, 29, 1.0f, 0.0f, BF16, BF16, BF16, 0, 0, U_F32},
      {TN, 33, 17, 29, 1.0f, 0.0f, BF16, BF16, BF16, 0, 0, U_F32},
      {TT, 33, 17, 29, 1.0f, 0.0f, BF16, BF16, BF16, 0, 0, U_F32},
  };
  check_cases(cases, N_OF(cases));
}

static void test_shapes(void) {
  static const size_t shapes[][3] = {{1, 1, 1},   {1, 37, 19},  {37, 1, 19},  {1, 1, 300},
                                     {23, 29, 1}, {17, 33, 65}, {64, 64, 64}, {127, 129, 131},
                                     {3, 200, 5}, {200, 3, 70}};
  static const clmp_dtype dts[][3] = {{F32, F32, F32}, {F16, F16, F16}, {BF16, BF16, F32}};
  static const gemm_case base = {NN, 1, 1, 1, 0.75f, 0.25f, F32, F32, F32, 0, 0, U_F32};
  for (size_t s = 0; s < N_OF(shapes); s++)
    for (size_t d = 0; d < N_OF(dts); d++) {
      gemm_case g = base;
      g.ta = s % 2 ? CLMP_TRANS : CLMP_NO_TRANS, g.tb = s % 3 ? CLMP_NO_TRANS : CLMP_TRANS;
      g.m = shapes[s][0], g.n = shapes[s][1], g.k = shapes[s][2];
      g.da = dts[d][0], g.db = dts[d][1], g.dc = dts[d][2];
      check_case(&g, SEED + 31 * s + d);
    }
}

static void test_large(void) {
  static const gemm_case cases[] = {
      {NN, 512, 512, 512, 1.0f, 0.0f, F32, F32, F32, 0, 0, U_F32},
      {NN, 512, 512, 512, 1.0f, 0.0f, F16, F16, F32, 0, 0, U_F32},
      {TN, 300, 257, 520, 1.0f, 1.0f, BF16, BF16, BF16, 0, 0, U_F32},
  };
  check_cases(cases, N_OF(cases));
}

static void test_alpha_beta(void) {
  static const float ab[][2] = {{1, 0}, {-2, 0}, {0, 3}, {0.5f, 1}, {1, -1}};
  static const clmp_dtype dts[][3] = {{F32, F32, F32}, {F16, F16, F16}, {BF16, BF16, BF16}};
  static const gemm_case base = {NN, 19, 23, 45, 1, 0, F32, F32, F32, 0, 0, U_F32};
  for (size_t i = 0; i < N_OF(ab); i++)
    for (size_t d = 0; d < N_OF(dts); d++) {
      gemm_case g = base; /* f16: through clmp_gemm_ex with padding */
      g.alpha = ab[i][0], g.beta = ab[i][1], g.c_nan = ab[i][1] == 0;
      g.da = dts[d][0], g.db = dts[d][1], g.dc = dts[d][2], g.pad = d == 1 ? 2 : 0;
      check_case(&g, SEED + 97 * i + d);
    }
}

static void test_offsets_ld(void) {
  static const gemm_case cases[] = {
      {NN, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 3, 0, U_F32},
      {NT, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 3, 0, U_F32},
      {TN, 17, 33, 65, 1.5f, -0.5f, F32, F32, F32, 1, 0, U_F32},
      {TT, 17, 33, 65, 1.5f, 0.0f, F32, F32, F32, 5, 1, U_F32},
      {NN, 17, 33, 65, 1.5f, -0.5f, F16, BF16, F32, 3, 0, U_F32},
      {NT, 17, 33, 65, 1.5f, -0.5f, F16, BF16, F32, 3, 0, U_F32},
      {TN, 17, 33, 65, 1.5f, -0.5f, F16, F16, F16, 1, 0, U_F32},
      {TT, 17, 33, 65, 1.5f, 0.0f, BF16, F32, BF16, 5, 1, U_F32},
      {NN, 1, 1, 1, 2.0f, 1.0f, F16, F16, F32, 7, 0, U_F32},
  };
  check_cases(cases, N_OF(cases));
}

/* A = B in every dtype with C in every dtype, then mixed inputs. */
static void test_dtypes(void) {
  static const clmp_dtype all[] = {F32, F16, BF16};
  for (size_t i = 0; i < 3; i++)
    for (size_t c = 0; c < 3; c++) {
      gemm_case g = {NT, 21, 35, 47, 1.25f, 0.5f, all[i], all[i], all[c], 0, 0, U_F32};
      check_case(&g, SEED + 13 * i + c);
    }
  static const gemm_case mixed[] = {
      {NN, 21, 35, 47, 1.0f, 0.5f, F32, F16, F32, 0, 0, U_F32},
      {TN, 21, 35, 47, 1.0f, 0.5f, F16, F32, BF16, 0, 0, U_F32},
      {NT, 21, 35, 47, 1.0f, 0.5f, BF16, F16, F16, 0, 0, U_F32},
      {NN, 21, 35, 47, 1.0f, 0.5f, F32, BF16, F16, 0, 0, U_F32},
  };
  check_cases(mixed, N_OF(mixed));
}

/* CLMP_HGEMM=1 asks for CLBlast's Hgemm (half accumulation) where the device has cl_khr_fp16;
 * elsewhere the portable kernel must still run, with fp32 accumulation. */
static void test_hgemm_opt_in(void) {
  int any_fp16 = 0;
  for (int d = 0; d < clmp_test_ndevs; d++)
    any_fp16 |= clmp_ctx_device(clmp_test_devs[d].ctx)->fp16;
  gemm_case g = {NN, 33, 17, 40, 1.0f, 0.5f, F16, F16, F16, 0, 0, any_fp16 ? U_F16 : U_F32};
  CU_ASSERT_EQUAL_FATAL(setenv("CLMP_HGEMM", "1", 1), 0);
  check_case(&g, SEED + 5);
  unsetenv("CLMP_HGEMM");
}

/* The cases again with env set to each of values in turn (then unset). */
static void check_cases_with(const char *env, const char *const *values, size_t n_values,
                             const gemm_case *cases, size_t n_cases) {
  for (size_t i = 0; i < n_values; i++) {
    CU_ASSERT_EQUAL_FATAL(setenv(env, values[i], 1), 0);
    check_cases(cases, n_cases);
  }
  unsetenv(env);
}

/* Tile sets other than the device's own choice, through CLMP_GEMM_TILES: GEMM_VEC (what GPUs
 * run: float4 local reads, the next tiles fetched during the multiply) and the small scalar set,
 * with every transpose, edges inside a tile, K below and above a tile, offsets and beta. Every
 * set here fits a device of 32 work-items (llvmpipe). */
static void test_tile_sets(void) {
  static const char *const sets[] = {"32,32,16,8,4,1", "16,32,16,4,4,1", "8,8,8,2,2,0"};
  static const gemm_case cases[] = {
      {NN, 17, 33, 65, 1.5f, -0.5f, F16, F16, F32, 0, 0, U_F32},
      {NT, 70, 45, 9, 1.0f, 0.0f, BF16, BF16, BF16, 0, 0, U_F32},
      {TN, 33, 70, 40, 1.0f, 0.5f, F16, BF16, F32, 3, 0, U_F32},
      {TT, 64, 64, 48, 0.5f, 0.0f, F16, F16, F16, 1, 1, U_F32},
      {NN, 1, 1, 1, 2.0f, 1.0f, BF16, BF16, F32, 7, 0, U_F32},
  };
  check_cases_with("CLMP_GEMM_TILES", sets, N_OF(sets), cases, N_OF(cases));
}

/* Products split along K (what GPUs do when the tiles leave compute units idle), forced with
 * CLMP_GEMM_SPLIT: depths of one tile, several and not a multiple of the tile, beta read. */
static void test_split_k(void) {
  static const char *const splits[] = {"2", "3", "16"};
  static const gemm_case cases[] = {
      {NN, 17, 33, 65, 1.5f, -0.5f, F16, F16, F32, 0, 0, U_F32},
      {NT, 70, 45, 300, 1.0f, 0.0f, BF16, BF16, BF16, 0, 0, U_F32},
      {TN, 33, 70, 16, 1.0f, 0.5f, F16, BF16, F16, 3, 0, U_F32},
      {TT, 5, 3, 1, 0.5f, 0.0f, F16, F16, F32, 1, 1, U_F32},
  };
  check_cases_with("CLMP_GEMM_SPLIT", splits, N_OF(splits), cases, N_OF(cases));
}

/* Shapes on either side of the CPUs' rule (host/ops/gemm.c): K of at most 1536, or a C that fills
 * less than half of the 128 x 128 CPU tiles, takes gemm_direct on PoCL, with a 64 x 16 block along
 * a tall C and 16 x 64 along a wide one; the others keep the tiles. Each side
 * with every transpose, edges inside a block or tile, offsets and leading dimensions, beta 0
 * over NaN and beta read; then again split along K. Other devices run their own choices. */
static void test_cpu_direct(void) {
  static const gemm_case cases[] = {
      /* direct, tall: fc3 forward; M across three blocks, N across two */
      {NT, 128, 10, 256, 1.0f, 0.0f, F16, F16, F16, 0, 1, U_F32},
      {NN, 150, 21, 37, 1.5f, -0.5f, BF16, BF16, F32, 3, 0, U_F32},
      {TT, 70, 16, 9, 0.5f, 0.0f, F16, BF16, BF16, 1, 1, U_F32},
      /* direct, wide: fc3 dW; N across three blocks, M across two */
      {TN, 10, 256, 128, 1.0f, 0.0f, BF16, BF16, BF16, 0, 0, U_F32},
      {TN, 21, 150, 40, 1.0f, 0.5f, F16, F16, F32, 2, 0, U_F32},
      {NT, 1, 65, 300, 2.0f, 1.0f, F16, F16, F16, 5, 0, U_F32},
      /* direct: C fills its tiles, K is at most 1536 (fc3 dX; up to the limit) */
      {TN, 128, 128, 9, 1.0f, -1.0f, F16, F16, F16, 2, 0, U_F32},
      {NN, 128, 256, 10, 1.0f, 0.0f, BF16, BF16, BF16, 0, 1, U_F32},
      {NN, 120, 120, 1536, 1.0f, 0.5f, F16, F16, F32, 3, 0, U_F32},
      /* tiles: C fills half of them or more and K is deeper, with edges inside */
      {NN, 120, 120, 1537, 1.0f, 0.5f, F16, F16, F32, 3, 0, U_F32},
      {TT, 129, 128, 1553, 1.0f, 0.0f, BF16, BF16, BF16, 1, 1, U_F32},
  };
  static const char *const splits[] = {"3"};
  check_cases(cases, N_OF(cases));
  check_cases_with("CLMP_GEMM_SPLIT", splits, N_OF(splits), cases, N_OF(cases));
}

/* --- special values --------------------------------------------------------------------------- */

#define SV_M    6
#define SV_N    5
#define SV_K    4
#define F16_MAX 65504.0f

/* Rows of A: fp16 overflow of a sum, cancellation of two maxima, +inf, NaN, the maximum itself,
 * inf - inf. B is ones but for a column of halves, a -1 and a 0 (inf * 0 = NaN). Every product
 * and sum is exact in fp32 and in double. */
static void special_operands(clmp_dtype d, float *a, float *b) {
  static const float rows[SV_M][SV_K] = {{F16_MAX, F16_MAX, 0, 0}, {F16_MAX, -F16_MAX, 1, 0},
                                         {INFINITY, 1, 0, 0},      {NAN, 0, 0, 0},
                                         {F16_MAX, 0, 0, 0},       {-INFINITY, INFINITY, 0, 0}};
  for (int i = 0; i < SV_M * SV_K; i++) a[i] = quantize(d, rows[i / SV_K][i % SV_K]);
  for (int i = 0; i < SV_K * SV_N; i++) b[i] = i % SV_N == 1 ? 0.5f : 1.0f;
  b[2] = -1.0f;
  b[4] = 0.0f;
}

/* The special-value gemm on ctx, C NaN-filled and beta 0; returns C. */
static clmp_tensor *special_on(clmp_ctx *ctx, clmp_dtype din, clmp_dtype dc, const float *a,
                               const float *b) {
  float c[SV_M * SV_N];
  for (int i = 0; i < SV_M * SV_N; i++) c[i] = NAN;
  size_t sa[2] = {SV_M, SV_K}, sb[2] = {SV_K, SV_N}, sc[2] = {SV_M, SV_N};
  clmp_tensor *ta = clmp_test_tensor(ctx, din, 2, sa, a),
              *tb = clmp_test_tensor(ctx, din, 2, sb, b);
  clmp_tensor *tc = clmp_test_tensor(ctx, dc, 2, sc, c);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1.0f, ta, tb, 0.0f, tc), CLMP_SUCCESS);
  clmp_tensor_free(ta), clmp_tensor_free(tb);
  return tc;
}

/* The reference itself: row 0 overflows in f16 only, row 1 cancels to 1, row 2 is +inf, -inf
 * and inf * 0, row 3 NaN, row 4 the maximum, row 5 inf - inf. */
static void check_special_reference(const clmp_tensor *want, clmp_dtype dc, float top) {
  float *w = clmp_test_read(want);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  CU_ASSERT(dc == F16 ? isinf(w[0]) : w[0] == 2 * top);
  CU_ASSERT(w[1 * SV_N] == 1.0f && w[4 * SV_N] == quantize(dc, top));
  CU_ASSERT(isinf(w[2 * SV_N]) && w[2 * SV_N] > 0 && isinf(w[2 * SV_N + 2]) && w[2 * SV_N + 2] < 0);
  CU_ASSERT(isnan(w[2 * SV_N + 4]) && isnan(w[3 * SV_N]) && isnan(w[5 * SV_N]));
  free(w);
}

/* Every device against the reference, exactly: every value and sum here is exact. */
static void check_special(clmp_dtype din, clmp_dtype dc) {
  float a[SV_M * SV_K], b[SV_K * SV_N];
  special_operands(din, a, b);
  clmp__tolerance exact = {.atol = 0};
  clmp_tensor *want = special_on(clmp_test_ref_ctx(), din, dc, a, b);
  check_special_reference(want, dc, a[0]); /* a[0]: f16's maximum as din stores it */
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (is_ref(&clmp_test_devs[d])) continue;
    char name[96];
    snprintf(name, sizeof name, "%-5.31s special values %s -> %s", clmp_test_devs[d].id,
             clmp_dtype_name(din), clmp_dtype_name(dc));
    clmp_tensor *got = special_on(clmp_test_devs[d].ctx, din, dc, a, b);
    clmp_test_expect_close(name, got, want, &exact);
    clmp_tensor_free(got);
  }
  clmp_tensor_free(want);
}

static void test_special_values(void) {
  check_special(F32, F32);
  check_special(F16, F16);
  check_special(F16, F32);
  check_special(BF16, F32);
}

/* --- finite-difference check of a linear layer ------------------------------------------------ */

/* y = x W^T + b and its backward dX = dY W, dW = dY^T X, with the loss L = sum(y * g), so that
 * dY = g. The loss is linear in every parameter, so the central difference has no truncation
 * error; its error is the fp32 rounding of the outputs that the parameter touches. */
typedef struct linear {
  clmp_ctx *ctx;
  clmp_dtype dx, dy; /* dtype of x, W, g (the stored values) and of y, dX, dW */
  float x[FD_BATCH * FD_IN], w[FD_OUT * FD_IN], b[FD_OUT], g[FD_BATCH * FD_OUT];
} linear;

static void linear_init(linear *l, clmp_ctx *ctx, clmp_dtype dx, clmp_dtype dy) {
  l->ctx = ctx, l->dx = dx, l->dy = dy;
  clmp_test_uniform(l->x, FD_BATCH * FD_IN, -1, 1, SEED + 1);
  clmp_test_uniform(l->w, FD_OUT * FD_IN, -1, 1, SEED + 2);
  clmp_test_uniform(l->b, FD_OUT, -1, 1, SEED + 3);
  clmp_test_uniform(l->g, FD_BATCH * FD_OUT, -1, 1, SEED + 4);
  for (int i = 0; i < FD_BATCH * FD_IN; i++) l->x[i] = quantize(dx, l->x[i]);
  for (int i = 0; i < FD_OUT * FD_IN; i++) l->w[i] = quantize(dx, l->w[i]);
  for (int i = 0; i < FD_OUT; i++) l->b[i] = quantize(dy, l->b[i]);
  for (int i = 0; i < FD_BATCH * FD_OUT; i++) l->g[i] = quantize(dx, l->g[i]);
}

/* The loss of the forward pass on the device: y = b broadcast, then y = x W^T + 1 * y. */
static double linear_loss(const linear *l) {
  size_t sx[2] = {FD_BATCH, FD_IN}, sw[2] = {FD_OUT, FD_IN}, sy[2] = {FD_BATCH, FD_OUT};
  float y0[FD_BATCH * FD_OUT];
  for (int i = 0; i < FD_BATCH * FD_OUT; i++) y0[i] = l->b[i % FD_OUT];
  clmp_tensor *x = clmp_test_tensor(l->ctx, l->dx, 2, sx, l->x);
  clmp_tensor *w = clmp_test_tensor(l->ctx, l->dx, 2, sw, l->w);
  clmp_tensor *y = clmp_test_tensor(l->ctx, l->dy, 2, sy, y0);
  CU_ASSERT_EQUAL(clmp_gemm(NT, 1.0f, x, w, 1.0f, y), CLMP_SUCCESS);
  float *yv = clmp_test_read(y);
  double loss = 0;
  for (int i = 0; yv && i < FD_BATCH * FD_OUT; i++) loss += (double)yv[i] * l->g[i];
  free(yv);
  clmp_tensor_free(x), clmp_tensor_free(w), clmp_tensor_free(y);
  return loss;
}

/* (L(p + h) - L(p - h)) / (p+ - p-), with p+ and p- the stored (quantized) values. */
static double central_difference(linear *l, float *p, clmp_dtype d, double *step) {
  float p0 = *p, hi = quantize(d, (float)(p0 + FD_STEP)), lo = quantize(d, (float)(p0 - FD_STEP));
  *p = hi;
  double l_hi = linear_loss(l);
  *p = lo;
  double l_lo = linear_loss(l);
  *p = p0;
  *step = (double)hi - lo;
  return (l_hi - l_lo) / *step;
}

/* The backward gemms on the device: dX = g W [FD_BATCH, FD_IN], dW = g^T x [FD_OUT, FD_IN]. */
static void linear_backward(const linear *l, float *dx, float *dw) {
  size_t sx[2] = {FD_BATCH, FD_IN}, sw[2] = {FD_OUT, FD_IN}, sg[2] = {FD_BATCH, FD_OUT};
  clmp_tensor *x = clmp_test_tensor(l->ctx, l->dx, 2, sx, l->x);
  clmp_tensor *w = clmp_test_tensor(l->ctx, l->dx, 2, sw, l->w);
  clmp_tensor *g = clmp_test_tensor(l->ctx, l->dx, 2, sg, l->g);
  clmp_tensor *tdx = clmp_test_tensor(l->ctx, l->dy, 2, sx, NULL);
  clmp_tensor *tdw = clmp_test_tensor(l->ctx, l->dy, 2, sw, NULL);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1.0f, g, w, 0.0f, tdx), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_gemm(TN, 1.0f, g, x, 0.0f, tdw), CLMP_SUCCESS);
  float *vx = clmp_test_read(tdx), *vw = clmp_test_read(tdw);
  memcpy(dx, vx, sizeof(float) * FD_BATCH * FD_IN);
  memcpy(dw, vw, sizeof(float) * FD_OUT * FD_IN);
  free(vx), free(vw);
  clmp_tensor_free(x), clmp_tensor_free(w), clmp_tensor_free(g), clmp_tensor_free(tdx),
      clmp_tensor_free(tdw);
}

/* Bound of the error of one forward output: (FD_IN + 2) u S_y + u_out |y|, with S_y <= FD_IN + 1
 * since every stored value lies in [-1, 1]. */
static double output_error(const linear *l) {
  double u = unit_roundoff(l->dy), s_y = FD_IN + 1;
  return (FD_IN + 2) * U_F32 * s_y + u * s_y;
}

/* Tolerance of one gradient: the backward gemm's bound (length k, values in [-1, 1]) plus the
 * central difference's (n_touched outputs, |g| <= 1, each off by output_error, twice, / step). */
static double grad_tolerance(const linear *l, int k, int n_touched, double step) {
  double gemm = (k + 2) * U_F32 * k + 2 * unit_roundoff(l->dy) * k;
  return gemm + 2.0 * n_touched * output_error(l) / step + FD_FLOOR;
}

typedef struct fd_stats {
  double max_err, max_ratio; /* largest |device - fd| and its ratio to the tolerance */
  int failed;
} fd_stats;

static void fd_compare(fd_stats *s, double device, double fd, double tol) {
  double err = fabs(device - fd);
  if (err > s->max_err) s->max_err = err;
  if (err / tol > s->max_ratio) s->max_ratio = err / tol;
  s->failed += !(err <= tol);
}

static void check_linear(clmp_ctx *ctx, const char *dev, clmp_dtype dx, clmp_dtype dy) {
  linear l;
  float gx[FD_BATCH * FD_IN], gw[FD_OUT * FD_IN];
  fd_stats s = {0, 0, 0};
  double step = 0;
  linear_init(&l, ctx, dx, dy);
  linear_backward(&l, gx, gw);
  for (int i = 0; i < FD_BATCH * FD_IN; i++) {
    double fd = central_difference(&l, &l.x[i], dx, &step);
    fd_compare(&s, gx[i], fd, grad_tolerance(&l, FD_OUT, FD_OUT, step));
  }
  for (int i = 0; i < FD_OUT * FD_IN; i++) {
    double fd = central_difference(&l, &l.w[i], dx, &step);
    fd_compare(&s, gw[i], fd, grad_tolerance(&l, FD_BATCH, FD_BATCH, step));
  }
  for (int c = 0; c < FD_OUT; c++) { /* db: a column sum of g on the host */
    double db = 0;
    for (int r = 0; r < FD_BATCH; r++) db += l.g[r * FD_OUT + c];
    double fd = central_difference(&l, &l.b[c], dy, &step);
    fd_compare(&s, db, fd, grad_tolerance(&l, 0, FD_BATCH, step));
  }
  printf("\n    %-5s linear %s -> %s: max |grad - central difference| %.3g (%.2g of the tolerance)",
         dev, clmp_dtype_name(dx), clmp_dtype_name(dy), s.max_err, s.max_ratio);
  CU_ASSERT_EQUAL(s.failed, 0);
}

static void test_linear_gradients(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    check_linear(clmp_test_devs[d].ctx, clmp_test_devs[d].id, F32, F32);
    check_linear(clmp_test_devs[d].ctx, clmp_test_devs[d].id, F16, F32);
    check_linear(clmp_test_devs[d].ctx, clmp_test_devs[d].id, BF16, F32);
  }
}

/* --- bad arguments ---------------------------------------------------------------------------- */

static void check_bad_matrices(clmp_tensor *a, clmp_tensor *b, clmp_tensor *c) {
  clmp_matrix ma = {a, 0, 4, 6, 6}, mb = {b, 0, 6, 5, 5}, mc = {c, 0, 4, 5, 5};
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, ma, mb, 0, mc), CLMP_SUCCESS);
  clmp_matrix bad = ma;
  bad.ld = 5; /* ld < cols */
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, bad, mb, 0, mc), CLMP_ERR_INVALID_SHAPE);
  bad = ma, bad.rows = 0;
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, bad, mb, 0, mc), CLMP_ERR_INVALID_SHAPE);
  bad = ma, bad.offset = 1; /* one element past the end */
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, bad, mb, 0, mc), CLMP_ERR_OUT_OF_BOUNDS);
  bad = ma, bad.ld = SIZE_MAX / 2; /* (rows - 1) * ld overflows */
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, bad, mb, 0, mc), CLMP_ERR_OUT_OF_BOUNDS);
  bad = ma, bad.offset = SIZE_MAX - 2; /* offset + extent overflows */
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, bad, mb, 0, mc), CLMP_ERR_OUT_OF_BOUNDS);
  bad = ma, bad.t = NULL;
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, bad, mb, 0, mc), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_gemm_ex(TN, 1, ma, mb, 0, mc), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_gemm_ex((clmp_transpose)2, CLMP_NO_TRANS, 1, ma, mb, 0, mc),
                  CLMP_ERR_INVALID_ARGUMENT);
  clmp_matrix over = {c, 0, 4, 5, 5}; /* C as its own A: overlapping */
  clmp_matrix mb5 = {b, 0, 5, 5, 5};
  CU_ASSERT_EQUAL(clmp_gemm_ex(NN, 1, over, mb5, 0, mc), CLMP_ERR_INVALID_ARGUMENT);
}

/* A failing call returns its status before touching C. */
static void check_bad_tensors(clmp_ctx *ctx) {
  size_t s46[2] = {4, 6}, s65[2] = {6, 5}, s45[2] = {4, 5}, s55[2] = {5, 5}, s3[3] = {4, 6, 1};
  float ones[30];
  for (int i = 0; i < 30; i++) ones[i] = 1;
  clmp_tensor *a = clmp_test_tensor(ctx, F16, 2, s46, ones),
              *b = clmp_test_tensor(ctx, F32, 2, s65, ones);
  clmp_tensor *c = clmp_test_tensor(ctx, BF16, 2, s45, ones);
  clmp_tensor *i32 = clmp_test_tensor(ctx, CLMP_I32, 2, s65, ones);
  clmp_tensor *b55 = clmp_test_tensor(ctx, F32, 2, s55, ones),
              *a3 = clmp_test_tensor(ctx, F16, 3, s3, ones);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, NULL, b, 0, c), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, NULL, 0, c), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, b, 0, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, i32, 0, c), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, b55, 0, c), CLMP_ERR_INVALID_SHAPE); /* K: 6 vs 5 */
  CU_ASSERT_EQUAL(clmp_gemm(NT, 1, a, b, 0, c), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a3, b, 0, c), CLMP_ERR_INVALID_SHAPE);  /* not a matrix */
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, b, 0, b55), CLMP_ERR_INVALID_SHAPE); /* C [5, 5] */
  float *cv = clmp_test_read(c);
  for (int i = 0; cv && i < 20; i++) CU_ASSERT_EQUAL(cv[i], 1.0f);
  free(cv);
  check_bad_matrices(a, b, c);
  clmp_tensor_free(a), clmp_tensor_free(b), clmp_tensor_free(c), clmp_tensor_free(i32),
      clmp_tensor_free(b55), clmp_tensor_free(a3);
}

static void test_bad_arguments(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) check_bad_tensors(clmp_test_devs[d].ctx);
}

/* Tensors of two contexts never mix. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  size_t s[2] = {3, 3};
  clmp_tensor *a = clmp_test_tensor(clmp_test_devs[0].ctx, F32, 2, s, NULL);
  clmp_tensor *b = clmp_test_tensor(clmp_test_devs[1].ctx, F32, 2, s, NULL);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, b, 0, a), CLMP_ERR_CONTEXT_MISMATCH);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, a, 0, b), CLMP_ERR_CONTEXT_MISMATCH);
  clmp_tensor_free(a), clmp_tensor_free(b);
}

/* --- timing ----------------------------------------------------------------------------------- */

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of TIME_REPS gemms of TIME_SIZE^3 after one warm-up run (builds, CLBlast's compile). */
static double gflops(clmp_ctx *ctx, clmp_dtype din, clmp_dtype dc, const float *values) {
  size_t s[2] = {TIME_SIZE, TIME_SIZE};
  clmp_tensor *a = clmp_test_tensor(ctx, din, 2, s, values);
  clmp_tensor *b = clmp_test_tensor(ctx, din, 2, s, values);
  clmp_tensor *c = clmp_test_tensor(ctx, dc, 2, s, NULL);
  CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, b, 0, c), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_ctx_finish(ctx), CLMP_SUCCESS);
  double t0 = seconds();
  for (int i = 0; i < TIME_REPS; i++) CU_ASSERT_EQUAL(clmp_gemm(NN, 1, a, b, 0, c), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_ctx_finish(ctx), CLMP_SUCCESS);
  double t = seconds() - t0;
  clmp_tensor_free(a), clmp_tensor_free(b), clmp_tensor_free(c);
  return 2.0 * TIME_SIZE * TIME_SIZE * TIME_SIZE * TIME_REPS / t * 1e-9;
}

static void test_timing(void) {
  float *values = malloc(sizeof(float) * TIME_SIZE * TIME_SIZE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(values);
  clmp_test_uniform(values, TIME_SIZE * TIME_SIZE, -1, 1, SEED);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    if (is_ref(&clmp_test_devs[d])) continue;
    printf("\n    %-5s %d^3: portable f16 x f16 -> f32 %.1f GFLOP/s, bf16 -> bf16 %.1f GFLOP/s, "
           "CLBlast Sgemm %.1f GFLOP/s",
           clmp_test_devs[d].id, TIME_SIZE, gflops(ctx, F16, F32, values),
           gflops(ctx, BF16, BF16, values), gflops(ctx, F32, F32, values));
  }
  free(values);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {{"four transposes", test_transposes},
                         {"shapes: 1, thin, odd, tile multiples", test_shapes},
                         {"large", test_large},
                         {"alpha and beta (beta 0: C not read)", test_alpha_beta},
                         {"offsets and leading dimensions", test_offsets_ld},
                         {"dtype combinations", test_dtypes},
                         {"CLMP_HGEMM opt-in", test_hgemm_opt_in},
                         {"tile sets through CLMP_GEMM_TILES", test_tile_sets},
                         {"split along K (CLMP_GEMM_SPLIT)", test_split_k},
                         {"CPU rule: direct blocks and tiles", test_cpu_direct},
                         {"special values", test_special_values},
                         {"linear layer: finite differences", test_linear_gradients},
                         {"bad arguments", test_bad_arguments},
                         {"tensors of two contexts", test_context_mismatch},
                         {"timing (printout only)", test_timing},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"gemm", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
