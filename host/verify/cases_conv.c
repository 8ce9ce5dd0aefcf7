/* host/verify/cases_conv.c: the convolution cases of `clmp verify`: conv2d, backward_data and
 * backward_filter (beta 0 and 1) over 1x1 and odd kernels, stride, padding, dilation, groups and
 * depthwise, f32, f16 and bf16 storage (16-bit in, f32 out too), normal and special values.
 * Tolerance of an element, L the length of the reduction behind it (C/groups kh kw products;
 * O/groups products then kh kw of those sums gathered; N Ho Wo products plus the beta term):
 * (L + 2) u32 times the magnitude of its terms (the reference op on |inputs|, and |beta| |dw|),
 * the worst-case bound of an fp32 sum in any order; for a 16-bit output also 2 u_out / (1 -
 * u_out) relatively or 1 ulp (two roundings to it); and (L + 2) 2^-109 absolutely for devices
 * that flush fp32 subnormals (each term may lose 2^-126 times a value below 2^17). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../runtime/error.h"
#include "verify_impl.h"

#define U32         0x1p-24
#define U_F16       0x1p-11
#define U_BF16      0x1p-8
#define FTZ_PER_ADD 0x1p-109
#define VALUE_MAX   1.0f /* inputs are uniform in [-VALUE_MAX, VALUE_MAX) besides the specials */

typedef struct vconv {
  size_t n, c, h, w, o, kh, kw;
  clmp_conv2d_params p;
} vconv;

static const vconv SHAPES[] = {
    {2, 3, 5, 7, 4, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}},
    {2, 8, 9, 9, 16, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
    {3, 5, 11, 13, 7, 5, 3, {{2, 2}, {2, 1}, {1, 2}, 1}},
    {2, 6, 8, 8, 4, 3, 3, {{1, 2}, {1, 1}, {1, 1}, 2}},
    {2, 8, 10, 10, 8, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 8}},
    {4, 32, 14, 14, 32, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}},
};
#define N_SHAPES (sizeof SHAPES / sizeof *SHAPES)

/* Input and output dtypes. */
static const clmp_dtype COMBOS[][2] = {{CLMP_F32, CLMP_F32},
                                       {CLMP_F16, CLMP_F16},
                                       {CLMP_BF16, CLMP_BF16},
                                       {CLMP_F16, CLMP_F32},
                                       {CLMP_BF16, CLMP_F32}};
#define N_COMBOS (sizeof COMBOS / sizeof *COMBOS)

/* The ops and the tensors of each: the image side x or dx, the filter w or dw, the planes y or
 * dy; each op writes one of them. */
typedef enum vop { V_FWD, V_DATA, V_FILTER } vop;
enum { R_IMG, R_FLT, R_PLN, N_ROLES };
static const int OUT_ROLE[] = {R_PLN, R_IMG, R_FLT};
static const char *const OP_NAMES[] = {"conv2d", "conv2d_backward_data", "conv2d_backward_filter"};

static void role_shape(const vconv *s, int role, size_t out[4]) {
  size_t xs[4] = {s->n, s->c, s->h, s->w}, ws[4] = {s->o, s->c / s->p.groups, s->kh, s->kw};
  size_t ys[4] = {0, 0, 0, 0};
  clmp_conv2d_output_shape(xs, ws, &s->p, ys);
  const size_t *src = role == R_IMG ? xs : role == R_FLT ? ws : ys;
  for (int i = 0; i < 4; i++) out[i] = src[i];
}

static double reduction_length(vop op, const vconv *s) {
  size_t ys[4], taps = s->kh * s->kw;
  role_shape(s, R_PLN, ys);
  if (op == V_FWD) return (double)(s->c / s->p.groups * taps);
  if (op == V_DATA) return (double)(s->o / s->p.groups + taps);
  return (double)(s->n * ys[2] * ys[3]) + 1.0;
}

static clmp_status run_op(vop op, clmp_tensor *const t[N_ROLES], const clmp_conv2d_params *p,
                          float beta) {
  if (op == V_FWD) return clmp_conv2d(t[R_IMG], t[R_FLT], p, NULL, t[R_PLN]);
  if (op == V_DATA) return clmp_conv2d_backward_data(t[R_PLN], t[R_FLT], p, NULL, t[R_IMG]);
  return clmp_conv2d_backward_filter(t[R_IMG], t[R_PLN], p, beta, NULL, t[R_FLT]);
}

/* The magnitude of the output's terms: the op on the reference with |inputs| (and |dw| with
 * |beta|), in f32. */
static clmp_status magnitude(venv *e, vop op, const vconv *s, const pair t[N_ROLES], float beta,
                             clmp_tensor **mag) {
  clmp_tensor *a[N_ROLES] = {NULL, NULL, NULL};
  clmp_status st = CLMP_SUCCESS;
  for (int r = 0; r < N_ROLES && st == CLMP_SUCCESS; r++)
    st = clmp__verify_abs(e->ref, t[r].r, &a[r]);
  if (st == CLMP_SUCCESS) st = run_op(op, a, &s->p, fabsf(beta));
  *mag = st == CLMP_SUCCESS ? a[OUT_ROLE[op]] : NULL;
  for (int r = 0; r < N_ROLES; r++)
    if (r != OUT_ROLE[op] || st != CLMP_SUCCESS) clmp_tensor_free(a[r]);
  return st;
}

/* The pairs of the op's tensors: the inputs hold seeded values (special ones when special),
 * the output dw holds ordinary ones for beta, the others do not matter (every element is
 * written). */
static clmp_status make_pairs(venv *e, vop op, const vconv *s, clmp_dtype in, clmp_dtype out,
                              int special, pair t[N_ROLES]) {
  clmp_status st = CLMP_SUCCESS;
  for (int r = 0; r < N_ROLES && st == CLMP_SUCCESS; r++) {
    size_t shape[4];
    role_shape(s, r, shape);
    size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *v = malloc(n * sizeof *v);
    if (!v) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu conv values", n);
    clmp__verify_values(e, v, n, -VALUE_MAX, VALUE_MAX, special && r != OUT_ROLE[op]);
    st = clmp__verify_pair(e, r == OUT_ROLE[op] ? out : in, 4, shape, v, &t[r]);
    free(v);
  }
  return st;
}

static clmp__tolerance conv_tolerance(clmp_dtype out, double length) {
  double u = out == CLMP_F16 ? U_F16 : out == CLMP_BF16 ? U_BF16 : 0;
  return (clmp__tolerance){(length + 2) * FTZ_PER_ADD, 2 * u / (1 - u), out == CLMP_F32 ? 0 : 1};
}

/* "N x C x H x W kKHxKW oO", then the stride, padding, dilation and groups that are not the
 * defaults. */
static const char *shape_text(const vconv *s, char *buf, size_t size) {
  const clmp_conv2d_params *p = &s->p;
  int n = snprintf(buf, size, "%zux%zux%zux%zu k%zux%zu o%zu", s->n, s->c, s->h, s->w, s->kh, s->kw,
                   s->o);
  if (n > 0 && (size_t)n < size && (p->stride[0] != 1 || p->stride[1] != 1))
    n += snprintf(buf + n, size - (size_t)n, " s%zu,%zu", p->stride[0], p->stride[1]);
  if (n > 0 && (size_t)n < size && (p->padding[0] || p->padding[1]))
    n += snprintf(buf + n, size - (size_t)n, " p%zu,%zu", p->padding[0], p->padding[1]);
  if (n > 0 && (size_t)n < size && (p->dilation[0] != 1 || p->dilation[1] != 1))
    n += snprintf(buf + n, size - (size_t)n, " d%zu,%zu", p->dilation[0], p->dilation[1]);
  if (n > 0 && (size_t)n < size && p->groups != 1)
    snprintf(buf + n, size - (size_t)n, " g%zu", p->groups);
  return buf;
}

static void conv_row(venv *e, vop op, const vconv *s, clmp_dtype in, clmp_dtype out, float beta,
                     int special) {
  pair t[N_ROLES] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
  clmp_tensor *mag = NULL, *td[N_ROLES], *tr[N_ROLES];
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s -> %s%s", clmp_dtype_name(in), clmp_dtype_name(out),
           op == V_FILTER ? beta != 0 ? ", beta 1" : ", beta 0" : "");
  double length = reduction_length(op, s);
  clmp__verify_row row;
  clmp__verify_row_init(&row, OP_NAMES[op], dt, shape_text(s, sh, sizeof sh), special,
                        conv_tolerance(out, length));
  row.mtol = (length + 2) * U32;
  clmp_status st = make_pairs(e, op, s, in, out, special, t);
  if (st == CLMP_SUCCESS) st = magnitude(e, op, s, t, beta, &mag);
  for (int r = 0; r < N_ROLES; r++) td[r] = t[r].d, tr[r] = t[r].r;
  clmp_status sd = st ? st : run_op(op, td, &s->p, beta);
  clmp_status sr = st ? st : run_op(op, tr, &s->p, beta);
  clmp__verify_finish_mag(e, &row, sd, sr, &t[OUT_ROLE[op]], mag);
  clmp_tensor_free(mag);
  for (int r = 0; r < N_ROLES; r++) clmp__verify_pair_free(&t[r]);
}

/* Every shape, dtype combination and value kind of one op (backward_filter: beta 0 and 1). */
static void op_rows(venv *e, vop op) {
  for (size_t s = 0; s < N_SHAPES; s++)
    for (size_t k = 0; k < N_COMBOS; k++)
      for (int special = 0; special < 2; special++) {
        conv_row(e, op, &SHAPES[s], COMBOS[k][0], COMBOS[k][1], 0.0f, special);
        if (op == V_FILTER) conv_row(e, op, &SHAPES[s], COMBOS[k][0], COMBOS[k][1], 1.0f, special);
      }
}

static void forward_rows(venv *e) {
  op_rows(e, V_FWD);
}
static void data_rows(venv *e) {
  op_rows(e, V_DATA);
}
static void filter_rows(venv *e) {
  op_rows(e, V_FILTER);
}

const clmp__verify_case clmp__verify_cases_conv[] = {{"conv2d", forward_rows},
                                                     {"conv2d_backward_data", data_rows},
                                                     {"conv2d_backward_filter", filter_rows},
                                                     {NULL, NULL}};
