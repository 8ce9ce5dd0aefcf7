/* tests/test_conv.c: clmp_conv2d, clmp_conv2d_backward_data and clmp_conv2d_backward_filter on
 * every OpenCL device against the reference: dtype combinations, 1x1 kernels, odd sizes, stride
 * 2, padding, dilation 2, groups 2 and depthwise, batch 1 and batches chunked through a small
 * workspace, both GEMM paths (per image, and per chunk with a permute), views at offsets with
 * guard padding, special values; bit-identical reruns; hand-computed cases; finite-difference
 * gradients; the shape helpers; bad arguments, each with its exact status, outputs untouched.
 *
 * Tolerances, u = 2^-24 (fp32, the accumulation of every device path), M[i] the magnitude of
 * element i's terms (the reference op run on |inputs| as stored, and |beta| |dw|), L the length
 * of the reduction behind one output element:
 * - conv2d: L = C/groups kh kw products summed by the GEMM in any order (split along K too);
 *   backward_data: the GEMM's O/groups products, then at most kh kw of those sums gathered, so
 *   L = O/groups + kh kw; backward_filter: N Ho Wo products summed across chunks in fp32, plus
 *   the beta term: L = N Ho Wo + 1. The worst-case bound of such a sum in fp32 (Higham, Accuracy
 *   and Stability, 3.1) is below (L + 2) u M: mtol = (L + 2) u. The reference sums in double and
 *   rounds once, which the + 2 covers.
 * - A 16-bit output: both results are rounded once to it, so they may differ by 2 u_out / (1 -
 *   u_out) relatively (u_out 2^-11 for f16, 2^-8 for bf16) on top of the fp32 error, or 1 ulp;
 *   subnormal outputs by the subnormal spacing of the dtype (atol).
 * - Devices without fp32 subnormals (Mesa's llvmpipe reports no CL_FP_DENORM) flush a subnormal
 *   operand, product or partial sum: each of the L terms may lose less than 2^-126 times the
 *   largest other operand (every finite test value is below 2^17): atol (L + 2) 2^-109.
 * - Hand-computed cases: small integers, exact in every order: exact.
 * - Finite differences: L(x) = sum g conv(x, w) is linear in x and in w, so the central
 *   difference (L(p + h) - L(p - h)) / (p+ - p-) has no truncation error; its error is that of
 *   the forward outputs the parameter touches (each within the conv2d bound, twice, times |g|,
 *   over the step) plus the backward op's own bound; see fd_tolerance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define U32         0x1p-24
#define U_F16       0x1p-11
#define U_BF16      0x1p-8
#define SUB_F32     0x1p-149 /* subnormal spacing of each output dtype */
#define SUB_F16     0x1p-24
#define SUB_BF16    0x1p-133
#define FTZ_PER_ADD 0x1p-109 /* 2^-126 times the largest finite test value, 2^17 */
#define SEED        0xc0117000001ull
#define PAD_IN      3 /* guard elements around inputs */
#define PAD_OUT     5 /* and around outputs */
#define WS_OFFSET   3 /* the workspace starts this many bytes into its buffer (misaligned) */

#define F32  CLMP_F32
#define F16  CLMP_F16
#define BF16 CLMP_BF16

typedef enum op_kind { FWD, DATA, FILTER, N_OPS } op_kind;
static const char *const OP_NAMES[N_OPS] = {"conv2d", "backward_data", "backward_filter"};

/* The three tensors of every op: the image side x or dx [N, C, H, W], the filter w or dw
 * [O, C / groups, kh, kw], the planes y or dy [N, O, Ho, Wo]; each op writes one of them. */
enum { IMG, FLT, PLN, N_ROLES };
static const int OUT_ROLE[N_OPS] = {PLN, IMG, FLT};
static const int IN_ROLES[N_OPS][2] = {{IMG, FLT}, {PLN, FLT}, {IMG, PLN}};

/* Workspaces: none (the op allocates one), the whole batch's (at a misaligned byte offset), or
 * one image's (the op works in chunks). */
typedef enum ws_kind { WS_NULL, WS_FULL, WS_SMALL } ws_kind;

typedef struct conv_case {
  const char *name;
  size_t n, c, h, w, o, kh, kw;
  clmp_conv2d_params p;
} conv_case;

static const conv_case CASES[] = {
    {"1x1", 2, 3, 5, 7, 4, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}},
    {"3x3 pad 1", 2, 3, 7, 6, 5, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
    {"3x5 stride 2 pad 1,2", 3, 4, 9, 11, 6, 3, 5, {{2, 2}, {1, 2}, {1, 1}, 1}},
    {"dilation 2 pad 2", 2, 2, 10, 9, 3, 3, 3, {{1, 1}, {2, 2}, {2, 2}, 1}},
    {"groups 2 stride 1,2", 2, 4, 6, 6, 6, 3, 3, {{1, 2}, {1, 1}, {1, 1}, 2}},
    {"depthwise", 2, 5, 8, 7, 5, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 5}},
    {"depthwise x2 stride 2", 3, 3, 9, 9, 6, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 3}},
    {"2x3 s 2,1 p 0,1 d 1,2", 2, 3, 8, 9, 4, 2, 3, {{2, 1}, {0, 1}, {1, 2}, 1}},
    {"1x1 stride 2", 3, 6, 7, 7, 5, 1, 1, {{2, 2}, {0, 0}, {1, 1}, 1}},
    {"batch 1 16x16", 1, 8, 16, 16, 16, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
    {"5x5 pad 2 odd", 3, 3, 13, 11, 7, 5, 5, {{1, 1}, {2, 2}, {1, 1}, 1}},
    {"resnet-like", 4, 16, 14, 14, 32, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
};
#define N_CASES (sizeof CASES / sizeof *CASES)

/* Dtypes of the first input, the second input and the output (IN_ROLES, OUT_ROLE). */
static const clmp_dtype COMBOS[][3] = {{F32, F32, F32},   {F16, F16, F16},   {BF16, BF16, BF16},
                                       {F16, F16, F32},   {BF16, BF16, F32}, {F32, F16, F16},
                                       {BF16, F32, BF16}, {F16, BF16, F32}};
#define N_COMBOS (sizeof COMBOS / sizeof *COMBOS)

/* Finite test values only up to 2^17 (FTZ_PER_ADD), so that no fp32 sum overflows. */
static const float SPECIALS[] = {0.0f,  -0.0f,     1e-40f,    6e-8f, 65504,  -65504, 65520,
                                 7e4f,  INFINITY,  -INFINITY, NAN,   0.0f,   1.0f,   0x1p-14f,
                                 -1e5f, -INFINITY, 3e-5f,     NAN,   -0.25f, 1e-30f};
#define N_SPECIALS (sizeof SPECIALS / sizeof *SPECIALS)

/* --- shapes and values ------------------------------------------------------------------------ */

static void role_shape(const conv_case *cc, int role, size_t shape[4]) {
  size_t xs[4] = {cc->n, cc->c, cc->h, cc->w},
         ws[4] = {cc->o, cc->c / cc->p.groups, cc->kh, cc->kw};
  size_t ys[4] = {0, 0, 0, 0};
  CU_ASSERT_EQUAL_FATAL(clmp_conv2d_output_shape(xs, ws, &cc->p, ys), CLMP_SUCCESS);
  memcpy(shape, role == IMG ? xs : role == FLT ? ws : ys, sizeof xs);
}

static size_t role_numel(const conv_case *cc, int role) {
  size_t s[4];
  role_shape(cc, role, s);
  return s[0] * s[1] * s[2] * s[3];
}

/* n seeded values uniform in [-1, 1), the special values spread over them when specials. */
static float *make_values(size_t n, uint64_t seed, int specials) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, -1.0f, 1.0f, seed);
  size_t stride = n / N_SPECIALS > 1 ? n / N_SPECIALS : 1;
  for (size_t k = 0; specials && k < N_SPECIALS && k * stride < n; k++) v[k * stride] = SPECIALS[k];
  return v;
}

/* n copies of value. */
static float *make_constant(size_t n, float value) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  for (size_t i = 0; i < n; i++) v[i] = value;
  return v;
}

/* --- running an op ---------------------------------------------------------------------------- */

/* One op on one case: dtypes and values of every role (the output's are its contents before the
 * call: beta's dw, or NaN that must be overwritten), beta, the workspace. */
typedef struct run_spec {
  op_kind op;
  const conv_case *cc;
  clmp_dtype dt[N_ROLES];
  const float *vals[N_ROLES];
  float beta;
  ws_kind ws;
} run_spec;

static clmp_status call_op(op_kind op, clmp_tensor *const t[N_ROLES], const clmp_conv2d_params *p,
                           float beta, clmp_tensor *ws) {
  if (op == FWD) return clmp_conv2d(t[IMG], t[FLT], p, ws, t[PLN]);
  if (op == DATA) return clmp_conv2d_backward_data(t[PLN], t[FLT], p, ws, t[IMG]);
  return clmp_conv2d_backward_filter(t[IMG], t[PLN], p, beta, ws, t[FLT]);
}

/* The workspace of kind k for case cc on ctx (NULL for WS_NULL): a u8 view WS_OFFSET bytes into
 * its base, which *base receives. */
static clmp_tensor *make_workspace(clmp_ctx *ctx, const conv_case *cc, ws_kind k,
                                   clmp_tensor **base) {
  size_t xs[4] = {k == WS_SMALL ? 1 : cc->n, cc->c, cc->h, cc->w};
  size_t fs[4], bytes = 0;
  role_shape(cc, FLT, fs);
  *base = NULL;
  if (k == WS_NULL) return NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_conv2d_workspace_size(ctx, xs, fs, &cc->p, &bytes), CLMP_SUCCESS);
  size_t shape[1] = {bytes ? bytes : 1}, total = shape[0] + WS_OFFSET;
  clmp_tensor *view = NULL;
  *base = clmp_test_tensor(ctx, CLMP_U8, 1, &total, NULL);
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_view(*base, WS_OFFSET, CLMP_U8, 1, shape, &view), CLMP_SUCCESS);
  return view;
}

/* Runs spec on ctx with every tensor a guarded view; returns the output's view (the caller frees
 * it) after checking the status and the guards. */
static clmp_test_view run_on(clmp_ctx *ctx, const run_spec *s) {
  clmp_test_view v[N_ROLES];
  clmp_tensor *t[N_ROLES], *base = NULL;
  for (int r = 0; r < N_ROLES; r++) {
    size_t shape[4];
    role_shape(s->cc, r, shape);
    v[r] = clmp_test_view_make(ctx, s->dt[r], 4, shape, r == OUT_ROLE[s->op] ? PAD_OUT : PAD_IN,
                               s->vals[r]);
    t[r] = v[r].t;
  }
  clmp_tensor *ws = make_workspace(ctx, s->cc, s->ws, &base);
  clmp_status st = call_op(s->op, t, &s->cc->p, s->beta, ws);
  if (st != CLMP_SUCCESS) printf("\n    %s: %s", clmp_status_name(st), clmp_last_error());
  CU_ASSERT_EQUAL(st, CLMP_SUCCESS);
  clmp_test_expect_guard(OP_NAMES[s->op], &v[OUT_ROLE[s->op]]);
  clmp_tensor_free(ws), clmp_tensor_free(base);
  for (int r = 0; r < N_ROLES; r++)
    if (r != OUT_ROLE[s->op]) clmp_test_view_free(&v[r]);
  return v[OUT_ROLE[s->op]];
}

/* --- comparing with the reference ------------------------------------------------------------- */

/* The reduction length L behind one output element (see the header). */
static double reduction_length(op_kind op, const conv_case *cc) {
  size_t taps = cc->kh * cc->kw, og = cc->o / cc->p.groups, ys[4];
  role_shape(cc, PLN, ys);
  if (op == FWD) return (double)(cc->c / cc->p.groups * taps);
  if (op == DATA) return (double)(og + taps);
  return (double)(cc->n * ys[2] * ys[3]) + 1.0;
}

static clmp__tolerance out_tolerance(clmp_dtype d, double length) {
  double u = d == F16    ? U_F16
             : d == BF16 ? U_BF16
                         : 0,
         sub = d == F16    ? SUB_F16
               : d == BF16 ? SUB_BF16
                           : SUB_F32;
  return (clmp__tolerance){(length + 2) * FTZ_PER_ADD + sub, 2 * u / (1 - u), d == F32 ? 0 : 1};
}

/* The magnitude M of spec's outputs on the reference: the op on |inputs| as stored (f32), and
 * |beta| |dw|. */
static float *magnitude(const run_spec *s) {
  run_spec m = *s;
  float *abs_vals[N_ROLES] = {NULL, NULL, NULL};
  for (int r = 0; r < N_ROLES; r++) {
    size_t n = role_numel(s->cc, r), shape[4];
    role_shape(s->cc, r, shape);
    clmp_tensor *t = clmp_test_tensor(clmp_test_ref_ctx(), s->dt[r], 4, shape, s->vals[r]);
    abs_vals[r] = clmp_test_read(t);
    clmp_tensor_free(t);
    for (size_t i = 0; i < n; i++) abs_vals[r][i] = fabsf(abs_vals[r][i]);
    m.dt[r] = F32, m.vals[r] = abs_vals[r];
  }
  m.beta = fabsf(s->beta), m.ws = WS_NULL;
  clmp_test_view out = run_on(clmp_test_ref_ctx(), &m);
  float *mag = clmp_test_read(out.t);
  clmp_test_view_free(&out);
  for (int r = 0; r < N_ROLES; r++) free(abs_vals[r]);
  return mag;
}

/* Reads a tensor in its own dtype. */
static void *read_raw(const clmp_tensor *t) {
  size_t n = clmp_tensor_numel(t);
  void *raw = malloc(n * clmp_dtype_size(clmp_tensor_dtype(t)));
  CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
  CU_ASSERT_EQUAL(clmp_tensor_read(t, clmp_tensor_dtype(t), raw, n), CLMP_SUCCESS);
  return raw;
}

/* Asserts got within the tolerance of want, element by element (mag: M). */
static void expect_sum(const char *what, const clmp_tensor *got, const clmp_tensor *want,
                       const float *mag, double length) {
  clmp_dtype d = clmp_tensor_dtype(got);
  clmp__tolerance tol = out_tolerance(d, length);
  void *g = read_raw(got), *w = read_raw(want);
  clmp__compare_result r;
  clmp__compare_sum(d, g, w, mag, (length + 2) * U32, clmp_tensor_numel(got), &tol, &r);
  size_t nonfinite = 0;
  float *wf = clmp_test_read(want);
  for (size_t i = 0; i < r.n; i++) nonfinite += !isfinite(wf[i]);
  free(wf);
  printf("\n    %s: max abs %.3g, max ulp %.0f, %zu/%zu failed, %zu inf or NaN", what, r.max_abs,
         r.max_ulp, r.failed, r.n, nonfinite);
  if (r.failed)
    printf(" (element %zu: got %.9g, want %.9g, magnitude %.3g)", r.worst, r.got_worst,
           r.want_worst, (double)mag[r.worst]);
  CU_ASSERT_EQUAL(r.failed, 0);
  free(g), free(w);
}

/* spec on the reference, then on every OpenCL device, compared. */
static void compare_spec(const run_spec *s, const char *note) {
  clmp_test_view want = run_on(clmp_test_ref_ctx(), s);
  float *mag = magnitude(s);
  double length = reduction_length(s->op, s->cc);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    clmp_test_view got = run_on(clmp_test_devs[d].ctx, s);
    char what[192];
    snprintf(what, sizeof what, "%-5.31s %s %s (%s, %s -> %s%s)%s", clmp_test_devs[d].id,
             OP_NAMES[s->op], s->cc->name, clmp_dtype_name(s->dt[IN_ROLES[s->op][0]]),
             clmp_dtype_name(s->dt[IN_ROLES[s->op][1]]), clmp_dtype_name(s->dt[OUT_ROLE[s->op]]),
             s->op == FILTER && s->beta != 0 ? s->beta > 0 ? ", beta 1" : ", beta -1/2" : "", note);
    expect_sum(what, got.t, want.t, mag, length);
    clmp_test_view_free(&got);
  }
  clmp_test_view_free(&want);
  free(mag);
}

/* The values of every role of case cc (seeded by the case), the output's NaN or random
 * (beta). */
typedef struct case_values {
  float *v[N_ROLES];
  float *nan_out;
} case_values;

static case_values values_of(const conv_case *cc, int specials) {
  case_values cv;
  uint64_t seed = SEED + 131 * (uint64_t)(cc - CASES) + (uint64_t)specials;
  for (int r = 0; r < N_ROLES; r++)
    cv.v[r] = make_values(role_numel(cc, r), seed + 7 * r, specials);
  size_t most = role_numel(cc, IMG);
  for (int r = FLT; r < N_ROLES; r++) most = role_numel(cc, r) > most ? role_numel(cc, r) : most;
  cv.nan_out = make_constant(most, NAN);
  return cv;
}

static void values_free(case_values *cv) {
  for (int r = 0; r < N_ROLES; r++) free(cv->v[r]);
  free(cv->nan_out);
}

/* spec for op, case, combo: inputs from cv, output NaN (or cv's for beta != 0). */
static run_spec spec_of(op_kind op, const conv_case *cc, const clmp_dtype combo[3],
                        const case_values *cv, float beta, ws_kind ws) {
  run_spec s = {op, cc, {F32, F32, F32}, {NULL, NULL, NULL}, beta, ws};
  for (int k = 0; k < 2; k++) s.dt[IN_ROLES[op][k]] = combo[k];
  s.dt[OUT_ROLE[op]] = combo[2];
  for (int r = 0; r < N_ROLES; r++) s.vals[r] = cv->v[r];
  if (beta == 0) s.vals[OUT_ROLE[op]] = cv->nan_out;
  return s;
}

/* Under valgrind (a test stride) every fourth dtype combination: memory, not numerics, is what
 * that run checks, and it runs the reference alone. */
static size_t combo_step(void) {
  return clmp_test_stride() > 1 ? 4 : 1;
}

static void test_vs_ref(void) {
  for (size_t c = 0; c < N_CASES; c++) {
    case_values cv = values_of(&CASES[c], 0);
    for (int op = 0; op < N_OPS; op++)
      for (size_t k = 0; k < N_COMBOS; k += combo_step()) {
        run_spec s = spec_of((op_kind)op, &CASES[c], COMBOS[k], &cv, 0.0f, WS_FULL);
        compare_spec(&s, "");
      }
    values_free(&cv);
  }
}

static const char *const WS_NOTES[] = {", workspace NULL", "", ", chunked"};

/* Chunks (a workspace of one image's share) and no workspace at all, every op and case. */
static void test_workspaces(void) {
  static const int combos[] = {0, 1, 4}; /* f32, f16, bf16 -> f32 */
  for (size_t c = 0; c < N_CASES; c++) {
    case_values cv = values_of(&CASES[c], 0);
    for (int op = 0; op < N_OPS; op++)
      for (size_t k = 0; k < sizeof combos / sizeof *combos; k++)
        for (int ws = WS_NULL; ws <= WS_SMALL; ws += WS_SMALL - WS_NULL) {
          run_spec s = spec_of((op_kind)op, &CASES[c], COMBOS[combos[k]], &cv, 0.0f, (ws_kind)ws);
          compare_spec(&s, WS_NOTES[ws]);
        }
    values_free(&cv);
  }
}

/* backward_filter's beta (1: accumulation, -1/2), straight into dw (one chunk) and through the
 * fp32 accumulator (chunks), dw of every dtype. */
static void test_filter_beta(void) {
  static const float betas[] = {1.0f, -0.5f};
  for (size_t c = 0; c < N_CASES; c++) {
    case_values cv = values_of(&CASES[c], 0);
    for (size_t k = 0; k < 3; k++)
      for (size_t b = 0; b < 2; b++)
        for (int ws = WS_FULL; ws <= WS_SMALL; ws++) {
          run_spec s = spec_of(FILTER, &CASES[c], COMBOS[k], &cv, betas[b], (ws_kind)ws);
          compare_spec(&s, WS_NOTES[ws]);
        }
    values_free(&cv);
  }
}

/* Special values in every input: inf and NaN propagate as on the reference (the padding takes
 * part as zeros: 0 * inf is NaN on both), overflow to inf in 16 bits, subnormals. */
static void test_special_values(void) {
  for (size_t c = 0; c < N_CASES; c++) {
    case_values cv = values_of(&CASES[c], 1);
    for (int op = 0; op < N_OPS; op++)
      for (size_t k = 0; k < 3; k++)
        for (int ws = WS_FULL; ws <= WS_SMALL; ws++) {
          run_spec s = spec_of((op_kind)op, &CASES[c], COMBOS[k], &cv, 0.0f, (ws_kind)ws);
          compare_spec(&s, ws == WS_SMALL ? ", specials, chunked" : ", specials");
        }
    values_free(&cv);
  }
}

/* --- the same bits every run ------------------------------------------------------------------ */

static void determinism_case(const clmp_test_device *dev, const run_spec *s) {
  clmp_test_view a = run_on(dev->ctx, s), b = run_on(dev->ctx, s);
  size_t bytes = clmp_tensor_nbytes(a.t);
  void *ra = read_raw(a.t), *rb = read_raw(b.t);
  int same = !memcmp(ra, rb, bytes);
  printf("\n    %-5.31s %s %s (%s%s): run 2 %s run 1", dev->id, OP_NAMES[s->op], s->cc->name,
         clmp_dtype_name(s->dt[OUT_ROLE[s->op]]), WS_NOTES[s->ws], same ? "==" : "!=");
  CU_ASSERT(same);
  free(ra), free(rb);
  clmp_test_view_free(&a), clmp_test_view_free(&b);
}

static void test_deterministic(void) {
  const conv_case *cc = &CASES[N_CASES - 1];
  case_values cv = values_of(cc, 0);
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (int op = 0; op < N_OPS; op++)
      for (size_t k = 0; k < 2; k++)
        for (int ws = WS_FULL; ws <= WS_SMALL; ws++) {
          run_spec s =
              spec_of((op_kind)op, cc, COMBOS[k], &cv, op == FILTER ? 1.0f : 0.0f, (ws_kind)ws);
          determinism_case(&clmp_test_devs[d], &s);
        }
  values_free(&cv);
}

/* --- hand-computed cases, on every device and the reference --------------------------------- */

/* A case small enough to compute by hand: x, w, dy and the results, in small integers (exact in
 * every dtype and every summation order). */
typedef struct hand_case {
  const char *what;
  size_t xs[4], ws[4], ys[4];
  clmp_conv2d_params p;
  float x[9], w[9], dy[4];
  float y[4], dx[9], dw[9];
} hand_case;

static const hand_case HAND[] = {
    /* [1 2 3; 4 5 6; 7 8 9] with [1 0; 0 -1]: x[i, j] - x[i + 1, j + 1]; dy = 1 everywhere. */
    {"2x2 on 3x3",
     {1, 1, 3, 3},
     {1, 1, 2, 2},
     {1, 1, 2, 2},
     {{1, 1}, {0, 0}, {1, 1}, 1},
     {1, 2, 3, 4, 5, 6, 7, 8, 9},
     {1, 0, 0, -1},
     {1, 1, 1, 1},
     {-4, -4, -4, -4},
     {1, 1, 0, 1, 0, -1, 0, -1, -1},
     {12, 16, 24, 28}},
    /* a 3x3 box, padding 1, stride 2: the four 2x2 corners of x; each dx is the number of
     * windows that cover it; dw[i, j] sums the x that tap (i, j) meets. */
    {"3x3 box, pad 1, stride 2",
     {1, 1, 3, 3},
     {1, 1, 3, 3},
     {1, 1, 2, 2},
     {{2, 2}, {1, 1}, {1, 1}, 1},
     {1, 2, 3, 4, 5, 6, 7, 8, 9},
     {1, 1, 1, 1, 1, 1, 1, 1, 1},
     {1, 1, 1, 1},
     {12, 16, 24, 28},
     {1, 2, 1, 2, 4, 2, 1, 2, 1},
     {5, 10, 5, 10, 20, 10, 5, 10, 5}},
    /* depthwise, two channels of one pixel: y = w x per channel */
    {"depthwise 1x1",
     {1, 2, 1, 1},
     {2, 1, 1, 1},
     {1, 2, 1, 1},
     {{1, 1}, {0, 0}, {1, 1}, 2},
     {3, 5},
     {2, 10},
     {1, 1},
     {6, 50},
     {2, 10},
     {3, 5}},
    /* dilation 2 along the width: y[j] = x[j] + x[j + 2] */
    {"dilation 2",
     {1, 1, 1, 5},
     {1, 1, 1, 2},
     {1, 1, 1, 3},
     {{1, 1}, {0, 0}, {1, 2}, 1},
     {1, 2, 3, 4, 5},
     {1, 1},
     {1, 1, 1},
     {4, 6, 8},
     {1, 1, 2, 1, 1},
     {6, 12}},
};
#define N_HAND (sizeof HAND / sizeof *HAND)

/* Asserts that t holds want exactly. */
static void expect_values(const char *what, const clmp_tensor *t, const float *want) {
  float *got = clmp_test_read(t);
  size_t bad = 0;
  for (size_t i = 0; i < clmp_tensor_numel(t); i++) bad += got[i] != want[i];
  if (bad)
    printf("\n    %s: %zu elements differ (first: got %g, want %g)", what, bad, (double)got[0],
           (double)want[0]);
  CU_ASSERT_EQUAL(bad, 0);
  free(got);
}

static void hand_case_on(clmp_ctx *ctx, const hand_case *h, clmp_dtype d) {
  clmp_tensor *x = clmp_test_tensor(ctx, d, 4, h->xs, h->x);
  clmp_tensor *w = clmp_test_tensor(ctx, d, 4, h->ws, h->w);
  clmp_tensor *dy = clmp_test_tensor(ctx, d, 4, h->ys, h->dy);
  clmp_tensor *y = clmp_test_tensor(ctx, d, 4, h->ys, NULL);
  clmp_tensor *dx = clmp_test_tensor(ctx, d, 4, h->xs, NULL);
  clmp_tensor *dw = clmp_test_tensor(ctx, d, 4, h->ws, NULL);
  CU_ASSERT_EQUAL(clmp_conv2d(x, w, &h->p, NULL, y), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_conv2d_backward_data(dy, w, &h->p, NULL, dx), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_conv2d_backward_filter(x, dy, &h->p, 0.0f, NULL, dw), CLMP_SUCCESS);
  char what[96];
  snprintf(what, sizeof what, "%s %s", h->what, clmp_dtype_name(d));
  expect_values(what, y, h->y), expect_values(what, dx, h->dx), expect_values(what, dw, h->dw);
  clmp_tensor_free(x), clmp_tensor_free(w), clmp_tensor_free(dy);
  clmp_tensor_free(y), clmp_tensor_free(dx), clmp_tensor_free(dw);
}

static void test_hand_values(void) {
  static const clmp_dtype dts[] = {F32, F16, BF16};
  for (int k = 0; k < clmp_test_ndevs; k++)
    for (size_t h = 0; h < N_HAND; h++)
      for (size_t d = 0; d < 3; d++) hand_case_on(clmp_test_devs[k].ctx, &HAND[h], dts[d]);
}

/* --- finite differences, f32, on every device and the reference ----------------------------- */

#define FD_STEP   0.25f /* central-difference step (L is linear: no truncation error) */
#define FD_POINTS 24    /* elements of x and of w checked */
#define FD_FLOOR  1e-10 /* the double rounding of the two loss sums, over the step */
#define FD_GROWTH 1.25  /* |x| and |w| after a step, at most */
#define FD_SEED   0xfd00c0117ull

static const conv_case FD_CASE = {"groups 2 stride 2,1 pad 1", 2, 4, 6, 5, 6, 3, 3,
                                  {{2, 1}, {1, 1}, {1, 1}, 2}};

/* The parameters and the functional's weights g, f32 in [-1, 1). */
typedef struct fd_problem {
  clmp_ctx *ctx;
  float *v[N_ROLES]; /* x, w, g */
} fd_problem;

/* The op's output on the device from f's values, as f32 (dy = g). */
static float *fd_run(const fd_problem *f, op_kind op) {
  run_spec s = {op, &FD_CASE, {F32, F32, F32}, {f->v[IMG], f->v[FLT], f->v[PLN]}, 0.0f, WS_NULL};
  clmp_test_view out = run_on(f->ctx, &s);
  float *v = clmp_test_read(out.t);
  clmp_test_view_free(&out);
  return v;
}

/* L(x, w) = sum of g * conv(x, w), in double from the device's f32 outputs. */
static double fd_loss(const fd_problem *f) {
  float *y = fd_run(f, FWD);
  double loss = 0;
  for (size_t i = 0; i < role_numel(&FD_CASE, PLN); i++) loss += (double)y[i] * f->v[PLN][i];
  free(y);
  return loss;
}

/* (L(p+) - L(p-)) / (p+ - p-) at p +- FD_STEP as stored in f32; *step receives p+ - p-. */
static double fd_central(const fd_problem *f, float *p, double *step) {
  float p0 = *p, hi = p0 + FD_STEP, lo = p0 - FD_STEP;
  *p = hi;
  double l_hi = fd_loss(f);
  *p = lo;
  double l_lo = fd_loss(f);
  *p = p0;
  *step = (double)hi - lo;
  return (l_hi - l_lo) / *step;
}

/* The tolerance of one gradient element of role r: the backward op's bound (L_b + 2) u M_b with
 * M_b <= its term count (|w|, |x|, |g| <= 1), plus the forward outputs it touches (og kh kw for
 * an x, N Ho Wo for a w), each off by at most (L_f + 2) u L_f FD_GROWTH (and the flushed
 * subnormals), twice, over the step. */
static double fd_tolerance(int r, double step) {
  const conv_case *cc = &FD_CASE;
  double taps = (double)(cc->kh * cc->kw), og = (double)(cc->o / cc->p.groups);
  double lf = reduction_length(FWD, cc), touched = og * taps;
  double backward = (reduction_length(DATA, cc) + 2) * U32 * og * taps;
  if (r == FLT) {
    touched = reduction_length(FILTER, cc) - 1;
    backward = (touched + 3) * U32 * touched;
  }
  double forward = (lf + 2) * (U32 * lf * FD_GROWTH + FTZ_PER_ADD);
  return backward + 2 * touched * forward / step + FD_FLOOR;
}

/* FD_POINTS elements of role r (x or w) against grad, the device's backward output. */
static void fd_check_role(const clmp_test_device *dev, fd_problem *f, int r, const float *grad) {
  size_t n = role_numel(&FD_CASE, r), failed = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t k = 0; k < FD_POINTS; k++) {
    size_t i = k * n / FD_POINTS;
    double step = 0, fd = fd_central(f, &f->v[r][i], &step), tol = fd_tolerance(r, step);
    double ratio = fabs(fd - grad[i]) / tol;
    if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
    failed += !(ratio <= 1);
  }
  printf("\n    %-5.31s %s vs central differences (%s, %d points): worst error/tolerance %.3g, "
         "%zu failed",
         dev->id, r == IMG ? "backward_data" : "backward_filter", FD_CASE.name, FD_POINTS,
         worst_ratio, failed);
  if (failed) printf(" (element %zu: backward %.9g)", worst, (double)grad[worst]);
  CU_ASSERT_EQUAL(failed, 0);
}

static void test_finite_differences(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    fd_problem f = {clmp_test_devs[d].ctx, {NULL, NULL, NULL}};
    for (int r = 0; r < N_ROLES; r++) {
      f.v[r] = make_values(role_numel(&FD_CASE, r), FD_SEED + (uint64_t)r, 0);
    }
    float *dx = fd_run(&f, DATA), *dw = fd_run(&f, FILTER);
    fd_check_role(&clmp_test_devs[d], &f, IMG, dx);
    fd_check_role(&clmp_test_devs[d], &f, FLT, dw);
    free(dx), free(dw);
    for (int r = 0; r < N_ROLES; r++) free(f.v[r]);
  }
}

/* --- the shape helpers ------------------------------------------------------------------------ */

#define SHAPE_FILL  7 /* y_shape's contents before a call that must not write it */
#define HALF_INDEX  ((size_t)1 << 30)
#define INDEX_LIMIT ((size_t)1 << 31) /* one more than the largest size the ops index */

typedef struct shape_row {
  const char *what;
  size_t xs[4], ws[4];
  clmp_conv2d_params p;
  clmp_status want;
  size_t ys[4]; /* on success */
} shape_row;

#define P_DEFAULT \
  { {1, 1}, {0, 0}, {1, 1}, 1 }
#define NO_SHAPE \
  { 0, 0, 0, 0 } /* the rows that fail */
static const shape_row SHAPE_ROWS[] = {
    {"3x3 on 7x6", {2, 3, 7, 6}, {5, 3, 3, 3}, P_DEFAULT, CLMP_SUCCESS, {2, 5, 5, 4}},
    {"stride 2, pad 1, dilation 2",
     {1, 2, 9, 8},
     {4, 1, 3, 3},
     {{2, 2}, {1, 1}, {2, 2}, 2},
     CLMP_SUCCESS,
     {1, 4, 4, 3}},
    {"N = SIZE_MAX",
     {SIZE_MAX, 1, 3, 3},
     {1, 1, 3, 3},
     P_DEFAULT,
     CLMP_SUCCESS,
     {SIZE_MAX, 1, 1, 1}},
    {"stride 0",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{0, 1}, {0, 0}, {1, 1}, 1},
     CLMP_ERR_INVALID_ARGUMENT,
     NO_SHAPE},
    {"dilation 0",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{1, 1}, {0, 0}, {1, 0}, 1},
     CLMP_ERR_INVALID_ARGUMENT,
     NO_SHAPE},
    {"groups 0",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{1, 1}, {0, 0}, {1, 1}, 0},
     CLMP_ERR_INVALID_ARGUMENT,
     NO_SHAPE},
    {"a 0 dimension", {1, 0, 3, 3}, {1, 1, 1, 1}, P_DEFAULT, CLMP_ERR_INVALID_SHAPE, NO_SHAPE},
    {"groups 2 of 3 channels",
     {1, 3, 3, 3},
     {2, 1, 1, 1},
     {{1, 1}, {0, 0}, {1, 1}, 2},
     CLMP_ERR_INVALID_SHAPE,
     NO_SHAPE},
    {"w's channels not C / groups",
     {1, 4, 3, 3},
     {2, 4, 1, 1},
     {{1, 1}, {0, 0}, {1, 1}, 2},
     CLMP_ERR_INVALID_SHAPE,
     NO_SHAPE},
    {"kernel wider than the padded input",
     {1, 1, 3, 3},
     {1, 1, 3, 4},
     {{1, 1}, {0, 0}, {1, 1}, 1},
     CLMP_ERR_INVALID_SHAPE,
     NO_SHAPE},
    {"dilated kernel beyond the input",
     {1, 1, 5, 5},
     {1, 1, 3, 3},
     {{1, 1}, {0, 0}, {3, 1}, 1},
     CLMP_ERR_INVALID_SHAPE,
     NO_SHAPE},
    {"H = SIZE_MAX",
     {1, 1, SIZE_MAX, 3},
     {1, 1, 1, 1},
     P_DEFAULT,
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"kw = SIZE_MAX",
     {1, 1, 3, 3},
     {1, 1, 1, SIZE_MAX},
     P_DEFAULT,
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"padding SIZE_MAX",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{1, 1}, {SIZE_MAX, 0}, {1, 1}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"padding SIZE_MAX / 2 + 1",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{1, 1}, {0, SIZE_MAX / 2 + 1}, {1, 1}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"padding 2^30: the padded height passes 2^31",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{1, 1}, {HALF_INDEX, 0}, {1, 1}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"dilation SIZE_MAX",
     {1, 1, 3, 3},
     {1, 1, 2, 2},
     {{1, 1}, {0, 0}, {SIZE_MAX, SIZE_MAX}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"dilation 2^30 of 3 taps",
     {1, 1, 3, 3},
     {1, 1, 3, 1},
     {{1, 1}, {0, 0}, {HALF_INDEX, 1}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"stride 2^31",
     {1, 1, 3, 3},
     {1, 1, 1, 1},
     {{INDEX_LIMIT, 1}, {0, 0}, {1, 1}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"C = SIZE_MAX",
     {1, SIZE_MAX, 3, 3},
     {1, SIZE_MAX, 1, 1},
     P_DEFAULT,
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
    {"C kh kw beyond 2^31",
     {1, HALF_INDEX, 3, 3},
     {1, HALF_INDEX, 2, 1},
     {{1, 1}, {1, 0}, {1, 1}, 1},
     CLMP_ERR_SIZE_OVERFLOW,
     NO_SHAPE},
};
#define N_SHAPE_ROWS (sizeof SHAPE_ROWS / sizeof *SHAPE_ROWS)

/* Asserts that a failure's message names the function. */
static void expect_message(const char *fn, const char *what) {
  int named = strstr(clmp_last_error(), fn) != NULL;
  if (!named) printf("\n    %s: %s: the message does not name it: %s", fn, what, clmp_last_error());
  CU_ASSERT(named);
}

static void test_output_shape(void) {
  for (size_t r = 0; r < N_SHAPE_ROWS; r++) {
    const shape_row *row = &SHAPE_ROWS[r];
    size_t ys[4] = {SHAPE_FILL, SHAPE_FILL, SHAPE_FILL, SHAPE_FILL};
    clmp_status st = clmp_conv2d_output_shape(row->xs, row->ws, &row->p, ys);
    printf("\n    %s: %s (%s expected)", row->what, clmp_status_name(st),
           clmp_status_name(row->want));
    CU_ASSERT_EQUAL(st, row->want);
    for (int i = 0; i < 4; i++)
      CU_ASSERT_EQUAL(ys[i], row->want == CLMP_SUCCESS ? row->ys[i] : (size_t)SHAPE_FILL);
    if (st != CLMP_SUCCESS) expect_message("clmp_conv2d_output_shape", row->what);
  }
  size_t xs[4] = {1, 1, 3, 3}, ws[4] = {1, 1, 1, 1}, ys[4];
  clmp_conv2d_params p;
  clmp_conv2d_params_default(&p);
  clmp_conv2d_params_default(NULL); /* a no-op */
  CU_ASSERT_EQUAL(clmp_conv2d_output_shape(NULL, ws, &p, ys), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_conv2d_output_shape(xs, NULL, &p, ys), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_conv2d_output_shape(xs, ws, NULL, ys), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_conv2d_output_shape(xs, ws, &p, NULL), CLMP_ERR_INVALID_ARGUMENT);
}

/* 0 bytes on the reference; on OpenCL devices more for a larger batch; hostile values fail. */
static void test_workspace_size(void) {
  size_t xs[4] = {2, 3, 7, 6}, big[4] = {SIZE_MAX, 3, 7, 6}, ws[4] = {5, 3, 3, 3};
  clmp_conv2d_params p;
  clmp_conv2d_params_default(&p);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    int ref = clmp_test_is_ref(&clmp_test_devs[d]);
    size_t two = SHAPE_FILL, one = SHAPE_FILL, huge = SHAPE_FILL;
    size_t x1[4] = {1, 3, 7, 6};
    CU_ASSERT_EQUAL(clmp_conv2d_workspace_size(ctx, xs, ws, &p, &two), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_conv2d_workspace_size(ctx, x1, ws, &p, &one), CLMP_SUCCESS);
    CU_ASSERT(ref ? two == 0 && one == 0 : two > one && one > 0);
    clmp_status st = clmp_conv2d_workspace_size(ctx, big, ws, &p, &huge);
    CU_ASSERT_EQUAL(st, ref ? CLMP_SUCCESS : CLMP_ERR_SIZE_OVERFLOW);
    CU_ASSERT_EQUAL(huge, ref ? 0 : (size_t)SHAPE_FILL);
    CU_ASSERT_EQUAL(clmp_conv2d_workspace_size(NULL, xs, ws, &p, &two), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_conv2d_workspace_size(ctx, xs, ws, &p, NULL), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_conv2d_workspace_size(ctx, xs, ws, NULL, &two), CLMP_ERR_INVALID_ARGUMENT);
    expect_message("clmp_conv2d_workspace_size", "NULL p");
  }
}

/* --- bad arguments ---------------------------------------------------------------------------- */

/* Every row starts from this valid call and spoils one thing; every tensor holds BAD_FILL, and a
 * refused call must leave it there. */
static const conv_case BAD_CASE = {"bad", 2, 4, 5, 5, 6, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 2}};
#define BAD_FILL 3.0f

/* What a row spoils: the tensor of `role` (NULL, i32, u8, 3-D, one row too many, on another
 * context, or the output placed over it), p (NULL, or `p`), the workspace (1 byte, on another
 * context, or over the tensor of `role`). */
typedef enum bad_kind {
  B_NULL,
  B_I32,
  B_U8,
  B_3D,
  B_SHAPE,
  B_CTX,
  B_OVERLAP,
  B_P_NULL,
  B_P,
  B_WS_TINY,
  B_WS_CTX,
  B_WS_OVERLAP
} bad_kind;

typedef struct bad_row {
  op_kind op;
  const char *what;
  bad_kind kind;
  int role;
  clmp_status want;
  int ref_runs; /* the reference takes the call (it needs no workspace) */
  clmp_conv2d_params p;
} bad_row;

#define E_ARG   CLMP_ERR_INVALID_ARGUMENT
#define E_SHAPE CLMP_ERR_INVALID_SHAPE
#define E_DTYPE CLMP_ERR_INVALID_DTYPE
#define E_CTX   CLMP_ERR_CONTEXT_MISMATCH
#define E_OVF   CLMP_ERR_SIZE_OVERFLOW
#define P_OF(s0, pad0, d1, g) \
  { {(s0), 1}, {(pad0), 1}, {1, (d1)}, (g) }

static const bad_row BAD_ROWS[] = {
    {FWD, "NULL x", B_NULL, .role = IMG, .want = E_ARG},
    {FWD, "NULL w", B_NULL, .role = FLT, .want = E_ARG},
    {FWD, "NULL y", B_NULL, .role = PLN, .want = E_ARG},
    {FWD, "NULL p", B_P_NULL, .want = E_ARG},
    {FWD, "i32 x", B_I32, .role = IMG, .want = E_DTYPE},
    {FWD, "u8 y", B_U8, .role = PLN, .want = E_DTYPE},
    {FWD, "3-D x", B_3D, .role = IMG, .want = E_SHAPE},
    {FWD, "y one row too tall", B_SHAPE, .role = PLN, .want = E_SHAPE},
    {FWD, "w one row too tall", B_SHAPE, .role = FLT, .want = E_SHAPE},
    {FWD, "w on another context", B_CTX, .role = FLT, .want = E_CTX},
    {FWD, "y over x", B_OVERLAP, .role = IMG, .want = E_ARG},
    {FWD, "y over w", B_OVERLAP, .role = FLT, .want = E_ARG},
    {FWD, "stride 0", B_P, .want = E_ARG, .p = P_OF(0, 1, 1, 2)},
    {FWD, "dilation 0", B_P, .want = E_ARG, .p = P_OF(1, 1, 0, 2)},
    {FWD, "groups 0", B_P, .want = E_ARG, .p = P_OF(1, 1, 1, 0)},
    {FWD, "groups 3 of 4 channels", B_P, .want = E_SHAPE, .p = P_OF(1, 1, 1, 3)},
    {FWD, "groups 4: w's channels are not C / groups", B_P, .want = E_SHAPE, .p = P_OF(1, 1, 1, 4)},
    {FWD, "padding SIZE_MAX", B_P, .want = E_OVF, .p = P_OF(1, SIZE_MAX, 1, 2)},
    {FWD, "stride SIZE_MAX", B_P, .want = E_OVF, .p = P_OF(SIZE_MAX, 1, 1, 2)},
    {FWD, "dilation SIZE_MAX", B_P, .want = E_OVF, .p = P_OF(1, 1, SIZE_MAX, 2)},
    {FWD, "dilation 4: the kernel outgrows the padded input", B_P, .want = E_SHAPE,
     .p = P_OF(1, 1, 4, 2)},
    {FWD, "stride 2: y's shape no longer fits", B_P, .want = E_SHAPE, .p = P_OF(2, 1, 1, 2)},
    {FWD, "a 1-byte workspace", B_WS_TINY, .want = E_SHAPE, .ref_runs = 1},
    {FWD, "the workspace on another context", B_WS_CTX, .want = E_CTX},
    {FWD, "the workspace over x", B_WS_OVERLAP, .role = IMG, .want = E_ARG},
    {FWD, "the workspace over y", B_WS_OVERLAP, .role = PLN, .want = E_ARG},
    {DATA, "NULL dy", B_NULL, .role = PLN, .want = E_ARG},
    {DATA, "NULL w", B_NULL, .role = FLT, .want = E_ARG},
    {DATA, "NULL dx", B_NULL, .role = IMG, .want = E_ARG},
    {DATA, "NULL p", B_P_NULL, .want = E_ARG},
    {DATA, "u8 w", B_U8, .role = FLT, .want = E_DTYPE},
    {DATA, "i32 dx", B_I32, .role = IMG, .want = E_DTYPE},
    {DATA, "3-D dy", B_3D, .role = PLN, .want = E_SHAPE},
    {DATA, "dx one row too tall", B_SHAPE, .role = IMG, .want = E_SHAPE},
    {DATA, "dx on another context", B_CTX, .role = IMG, .want = E_CTX},
    {DATA, "dx over dy", B_OVERLAP, .role = PLN, .want = E_ARG},
    {DATA, "groups 3 of 4 channels", B_P, .want = E_SHAPE, .p = P_OF(1, 1, 1, 3)},
    {DATA, "padding 2^31", B_P, 0, E_OVF, 0, P_OF(1, (size_t)1 << 31, 1, 2)},
    {DATA, "a 1-byte workspace", B_WS_TINY, .want = E_SHAPE, .ref_runs = 1},
    {DATA, "the workspace over w", B_WS_OVERLAP, .role = FLT, .want = E_ARG},
    {FILTER, "NULL x", B_NULL, .role = IMG, .want = E_ARG},
    {FILTER, "NULL dy", B_NULL, .role = PLN, .want = E_ARG},
    {FILTER, "NULL dw", B_NULL, .role = FLT, .want = E_ARG},
    {FILTER, "NULL p", B_P_NULL, .want = E_ARG},
    {FILTER, "i32 dy", B_I32, .role = PLN, .want = E_DTYPE},
    {FILTER, "u8 dw", B_U8, .role = FLT, .want = E_DTYPE},
    {FILTER, "3-D dw", B_3D, .role = FLT, .want = E_SHAPE},
    {FILTER, "dy one row too tall", B_SHAPE, .role = PLN, .want = E_SHAPE},
    {FILTER, "x on another context", B_CTX, .role = IMG, .want = E_CTX},
    {FILTER, "dw over x", B_OVERLAP, .role = IMG, .want = E_ARG},
    {FILTER, "dw over dy", B_OVERLAP, .role = PLN, .want = E_ARG},
    {FILTER, "stride 0", B_P, .want = E_ARG, .p = P_OF(0, 1, 1, 2)},
    {FILTER, "a 1-byte workspace", B_WS_TINY, .want = E_SHAPE, .ref_runs = 1},
    {FILTER, "the workspace over dw", B_WS_OVERLAP, .role = FLT, .want = E_ARG},
};
#define N_BAD_ROWS (sizeof BAD_ROWS / sizeof *BAD_ROWS)

/* The tensors of a row: base holds the views' storage where two share it. */
typedef struct bad_call {
  clmp_tensor *t[N_ROLES], *base, *ws, *ws_base;
  clmp_conv2d_params p;
} bad_call;

/* A context other than ctx, or NULL when there is none. */
static clmp_ctx *other_ctx(const clmp_ctx *ctx) {
  for (int d = 0; d < clmp_test_ndevs; d++)
    if (clmp_test_devs[d].ctx != ctx) return clmp_test_devs[d].ctx;
  return NULL;
}

/* The tensor of role r for row b: spoilt if the row says so. */
static clmp_tensor *bad_tensor(clmp_ctx *ctx, const bad_row *b, int r) {
  size_t shape[4], flat[3];
  role_shape(&BAD_CASE, r, shape);
  clmp_dtype d = F32;
  int ndim = 4, spoilt = b->role == r;
  if (spoilt && b->kind == B_I32) d = CLMP_I32;
  if (spoilt && b->kind == B_U8) d = CLMP_U8;
  if (spoilt && b->kind == B_SHAPE) shape[2]++;
  if (spoilt && b->kind == B_3D)
    flat[0] = shape[0], flat[1] = shape[1], flat[2] = shape[2] * shape[3], ndim = 3;
  if (spoilt && b->kind == B_CTX && other_ctx(ctx)) ctx = other_ctx(ctx);
  float *v = make_constant(shape[0] * shape[1] * shape[2] * shape[3], BAD_FILL);
  clmp_tensor *t = clmp_test_tensor(ctx, d, ndim, ndim == 3 ? flat : shape, v);
  free(v);
  return t;
}

/* The output and the tensor of b->role as views that overlap by one element. */
static void bad_overlap(clmp_ctx *ctx, const bad_row *b, bad_call *c) {
  int out = OUT_ROLE[b->op];
  size_t total = role_numel(&BAD_CASE, out) + role_numel(&BAD_CASE, b->role), so[4], si[4];
  float *v = make_constant(total, BAD_FILL);
  role_shape(&BAD_CASE, out, so), role_shape(&BAD_CASE, b->role, si);
  clmp_tensor_free(c->t[out]), clmp_tensor_free(c->t[b->role]);
  c->base = clmp_test_tensor(ctx, F32, 1, &total, v);
  size_t at = (role_numel(&BAD_CASE, out) - 1) * sizeof(float);
  CU_ASSERT_EQUAL(clmp_tensor_view(c->base, 0, F32, 4, so, &c->t[out]), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_view(c->base, at, F32, 4, si, &c->t[b->role]), CLMP_SUCCESS);
  free(v);
}

/* The workspace of row b (NULL unless the row spoils it). */
static void bad_workspace(clmp_ctx *ctx, const bad_row *b, bad_call *c) {
  size_t one = 1, bytes = clmp_tensor_nbytes(c->t[b->role]);
  if (b->kind == B_WS_TINY) c->ws = clmp_test_tensor(ctx, CLMP_U8, 1, &one, NULL);
  if (b->kind == B_WS_CTX && other_ctx(ctx))
    c->ws = clmp_test_tensor(other_ctx(ctx), CLMP_U8, 1, &one, NULL);
  if (b->kind == B_WS_OVERLAP)
    CU_ASSERT_EQUAL(clmp_tensor_view(c->t[b->role], 0, CLMP_U8, 1, &bytes, &c->ws), CLMP_SUCCESS);
}

static bad_call bad_make(clmp_ctx *ctx, const bad_row *b) {
  bad_call c = {{NULL, NULL, NULL}, NULL, NULL, NULL, BAD_CASE.p};
  for (int r = 0; r < N_ROLES; r++)
    c.t[r] = b->role == r && b->kind == B_NULL ? NULL : bad_tensor(ctx, b, r);
  if (b->kind == B_OVERLAP) bad_overlap(ctx, b, &c);
  bad_workspace(ctx, b, &c);
  if (b->kind == B_P) c.p = b->p;
  return c;
}

static void bad_free(bad_call *c) {
  for (int r = 0; r < N_ROLES; r++) clmp_tensor_free(c->t[r]);
  clmp_tensor_free(c->base), clmp_tensor_free(c->ws);
}

static const char *const OP_FUNCTIONS[N_OPS] = {"clmp_conv2d", "clmp_conv2d_backward_data",
                                                "clmp_conv2d_backward_filter"};

/* One row on ctx: the exact status, the message naming the function, nothing written. */
static void bad_row_on(clmp_ctx *ctx, const bad_row *b) {
  int ref = clmp_ctx_device(ctx)->kind == CLMP_DEVICE_REF;
  if ((b->kind == B_CTX || b->kind == B_WS_CTX) && !other_ctx(ctx)) return;
  bad_call c = bad_make(ctx, b);
  clmp_status want = ref && b->ref_runs ? CLMP_SUCCESS : b->want;
  clmp_status st = call_op(b->op, c.t, b->kind == B_P_NULL ? NULL : &c.p, 1.0f, c.ws);
  if (st != want)
    printf("\n    %-5.31s %s: %s: %s, %s expected (%s)", clmp_ctx_device(ctx)->name,
           OP_FUNCTIONS[b->op], b->what, clmp_status_name(st), clmp_status_name(want),
           clmp_last_error());
  CU_ASSERT_EQUAL(st, want);
  if (st != CLMP_SUCCESS) expect_message(OP_FUNCTIONS[b->op], b->what);
  for (int r = 0; r < N_ROLES && st != CLMP_SUCCESS; r++)
    if (c.t[r] && clmp_tensor_dtype(c.t[r]) == F32) clmp_test_expect_all(c.t[r], BAD_FILL);
  bad_free(&c);
}

static void test_bad_arguments(void) {
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (size_t r = 0; r < N_BAD_ROWS; r++) bad_row_on(clmp_test_devs[d].ctx, &BAD_ROWS[r]);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 && clmp_test_ref_ctx() ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"devices vs reference, every op, case and dtype combination", test_vs_ref},
      {"devices vs reference: chunks, and no workspace", test_workspaces},
      {"devices vs reference: backward_filter's beta", test_filter_beta},
      {"devices vs reference: special values", test_special_values},
      {"the same bits every run", test_deterministic},
      {"hand-computed values", test_hand_values},
      {"backward passes vs central differences", test_finite_differences},
      {"clmp_conv2d_output_shape, hostile values included", test_output_shape},
      {"clmp_conv2d_workspace_size", test_workspace_size},
      {"bad arguments: the exact status, nothing written", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"conv", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
