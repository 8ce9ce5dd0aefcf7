/* tests/test_loss.c: softmax cross-entropy (forward and backward), argmax and correct_count on
 * every OpenCL device against the reference under stated tolerances, on views with poisoned
 * surroundings; hand-computed cases, a finite-difference check of the gradient, run-to-run bit
 * equality, and the argument checks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define U         0x1p-24 /* fp32's unit roundoff: half an ulp of 1 */
#define LOGIT_LO  -8.0f   /* random logits lie in [LOGIT_LO, LOGIT_HI) */
#define LOGIT_HI  8.0f
#define PAD       3 /* poison elements before and after every view */
#define SEED      0x10557e57u
#define BIG_SCALE 65536.0f /* the scaler's initial loss scale */
#define MID_SCALE 1024.0f
/* Roundoff units of the device's exp and log (3 ulp each in OpenCL C) and of a division (2.5
 * ulp, as -cl-fp32-correctly-rounded-divide-sqrt is not asked for). */
#define EXP_LOG_U 6.0
#define DIV_U     5.0
/* Finite differences: the step, and a bound of |p (1 - p) (1 - 2p)|, the third derivative of a
 * row's loss along one logit (times rows). */
#define FD_STEP  0x1p-6
#define FD_THIRD 0.1
#define FD_ROWS  3
#define FD_CLASS 5

typedef struct shape2 {
  size_t rows, classes;
} shape2;

/* 1 row, 1 class, 10 classes, odd sizes, sizes no work-group size divides, and a large one. */
static const shape2 shapes[] = {{1, 1},    {1, 10},    {7, 1},    {3, 10},  {37, 13},
                                {257, 10}, {4096, 10}, {5, 1000}, {2, 4099}};
#define N_SHAPES (sizeof shapes / sizeof *shapes)

static const clmp_dtype float_dtypes[] = {CLMP_F32, CLMP_F16, CLMP_BF16};

/* --- tolerances ------------------------------------------------------------------------------- */

/* Roundoff units of an fp32 sum of n terms >= 0: the random-walk growth of rounding errors
 * (sqrt(n) units), doubled; the order of additions is the device's, not the reference's. */
static double sum_u(size_t n) {
  return 2 * sqrt((double)n);
}

/* The mean loss, for rows of classes logits spanning at most range. One row's loss (m - x_l) +
 * log(s), s = sum exp(x_j - m): each exp is off by EXP_LOG_U + range units relative, the sum of
 * the classes terms by sum_u(classes), which log turns into an absolute error, plus log's own
 * 6 log(classes), range units of m - x_l and range + log(classes) of the last addition:
 * atol = U (sum_u(classes) + 6 + 3 range + 7 log(classes)). The mean over rows: sum_u(rows),
 * the division and the reference's own rounding, relative. The input dtype does not enter: both
 * sides read the same stored values, and the loss is fp32. */
static clmp__tolerance xent_tol(size_t rows, size_t classes, double range) {
  double c = (double)classes;
  clmp__tolerance t = {U * (sum_u(classes) + EXP_LOG_U + 3 * range + 7 * log(c)),
                       U * (DIV_U + 1 + sum_u(rows)), 0};
  return t;
}

/* The gradient's tolerances: for each row's label element, and for the others. */
typedef struct grad_tols {
  clmp__tolerance label, other;
} grad_tols;

/* The gradient, dl = f (p - onehot), f = scale / rows. p = exp(x_j - m) / s is off relative to
 * itself by the units of s (sum_u(classes) + 6 + range), of its own exp (6 + range) and of the
 * division (DIV_U); f by DIV_U, the product by 1, the reference's rounding by 1: k = U
 * (sum_u(classes) + 24 + 2 range). Elements off the label: relative k (plus f U for results that
 * a device flushes to zero). The label's element, f (p - 1) with p <= 1: absolute f k, plus the
 * rounding of p - 1. f16 and bf16 outputs: one unit of the output dtype more, where the fp32
 * values straddle a rounding boundary of the narrower dtype. */
static grad_tols grad_tol(clmp_dtype out, size_t rows, size_t classes, double range, double scale) {
  double f = scale / (double)rows, ulps = out == CLMP_F32 ? 0 : 1;
  double k = U * (sum_u(classes) + 2 * EXP_LOG_U + 2 * DIV_U + 2 + 2 * range);
  grad_tols t = {{f * (k + U), 0, ulps}, {f * U, k, ulps}};
  return t;
}

/* A test's label: snprintf without the truncation warning (labels may be cut short). */
static void describe(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void describe(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, size, fmt, ap);
  va_end(ap);
}

/* --- tensors ---------------------------------------------------------------------------------- */

static clmp_ctx *ref_ctx(void) {
  clmp_ctx *r = clmp_test_ref_ctx();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  return r;
}

static size_t count_of(int ndim, const size_t *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

static float poison_of(clmp_dtype d) {
  return d == CLMP_I32 ? -1.0f : NAN;
}

/* A view of shape holding values (NULL: poison), PAD elements into a buffer whose other elements
 * are poison (NaN; -1 for i32), so that a kernel reading or writing outside the view shows.
 * *base receives the buffer when base is not NULL; else only the view keeps it. */
static clmp_tensor *padded(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                           const float *values, clmp_tensor **base) {
  size_t n = count_of(ndim, shape), total = n + 2 * PAD;
  float *all = malloc(total * sizeof *all);
  CU_ASSERT_PTR_NOT_NULL_FATAL(all);
  for (size_t i = 0; i < total; i++) all[i] = poison_of(d);
  if (values) memcpy(all + PAD, values, n * sizeof *all);
  clmp_tensor *b = clmp_test_tensor(ctx, d, 1, &total, all), *v = NULL;
  free(all);
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_view(b, PAD * clmp_dtype_size(d), d, ndim, shape, &v), 0);
  if (base)
    *base = b;
  else
    clmp_tensor_free(b);
  return v;
}

/* Elements of a padded buffer outside its view of n elements that are no longer poison. */
static size_t guard_damage(const clmp_tensor *base, size_t n) {
  float *all = clmp_test_read(base), p = poison_of(clmp_tensor_dtype(base));
  size_t bad = 0, total = clmp_tensor_numel(base);
  for (size_t i = 0; i < total; i++) {
    if (i >= PAD && i < PAD + n) continue;
    bad += isnan(p) ? !isnan(all[i]) : all[i] != p;
  }
  free(all);
  return bad;
}

static float read_scalar(const clmp_tensor *t) {
  float *v = clmp_test_read(t), x = v[0];
  free(v);
  return x;
}

/* Inputs of one case: logits uniform in [lo, hi) and labels in [0, classes). */
typedef struct xent_data {
  size_t rows, classes;
  float *x, *labels;
} xent_data;

static xent_data make_data(size_t rows, size_t classes, uint64_t seed) {
  xent_data d = {rows, classes, malloc(rows * classes * sizeof(float)),
                 malloc(rows * sizeof(float))};
  CU_ASSERT_FATAL(d.x && d.labels);
  clmp_test_uniform(d.x, rows * classes, LOGIT_LO, LOGIT_HI, seed);
  for (size_t r = 0; r < rows; r++) d.labels[r] = (float)(clmp_test_rand(&seed) % classes);
  return d;
}

static void free_data(xent_data *d) {
  free(d->x), free(d->labels);
}

/* The loss of d's inputs (logits stored as dtype x) on ctx, in a padded f32 view. */
static clmp_tensor *run_xent(clmp_ctx *ctx, clmp_dtype x, const xent_data *d) {
  size_t shape[2] = {d->rows, d->classes}, one = 1;
  clmp_tensor *logits = padded(ctx, x, 2, shape, d->x, NULL);
  clmp_tensor *labels = padded(ctx, CLMP_I32, 1, shape, d->labels, NULL);
  clmp_tensor *loss = padded(ctx, CLMP_F32, 1, &one, NULL, NULL);
  CU_ASSERT_EQUAL(clmp_softmax_xent(logits, labels, loss), CLMP_SUCCESS);
  clmp_tensor_free(logits), clmp_tensor_free(labels);
  return loss;
}

/* --- softmax_xent ----------------------------------------------------------------------------- */

static void compare_xent(clmp_dtype x, const shape2 *s, uint64_t seed) {
  xent_data d = make_data(s->rows, s->classes, seed);
  clmp_tensor *want = run_xent(ref_ctx(), x, &d);
  clmp__tolerance tol = xent_tol(s->rows, s->classes, LOGIT_HI - LOGIT_LO);
  for (int i = 0; i < clmp_test_ndevs; i++) {
    if (clmp_test_devs[i].ctx == ref_ctx()) continue;
    clmp_tensor *got = run_xent(clmp_test_devs[i].ctx, x, &d);
    char what[96];
    describe(what, sizeof what, "%-5s xent %-4s %4zux%-4zu", clmp_test_devs[i].id,
             clmp_dtype_name(x), s->rows, s->classes);
    clmp_test_expect_close(what, got, want, &tol);
    clmp_tensor_free(got);
  }
  clmp_tensor_free(want);
  free_data(&d);
}

static void test_xent_vs_ref(void) {
  for (size_t k = 0; k < 3; k++)
    for (size_t s = 0; s < N_SHAPES; s++) compare_xent(float_dtypes[k], &shapes[s], SEED + s);
}

/* Two runs of the same inputs on one device give the same bits (fixed-order reduction). */
static void test_xent_bit_identical(void) {
  xent_data d = make_data(4096, 10, SEED);
  for (int i = 0; i < clmp_test_ndevs; i++) {
    for (size_t k = 0; k < 3; k++) {
      clmp_tensor *a = run_xent(clmp_test_devs[i].ctx, float_dtypes[k], &d);
      clmp_tensor *b = run_xent(clmp_test_devs[i].ctx, float_dtypes[k], &d);
      float fa = read_scalar(a), fb = read_scalar(b);
      printf("\n    %-5s %-4s 4096x10: %.9g, %.9g", clmp_test_devs[i].id,
             clmp_dtype_name(float_dtypes[k]), fa, fb);
      CU_ASSERT_EQUAL(memcmp(&fa, &fb, sizeof fa), 0);
      clmp_tensor_free(a), clmp_tensor_free(b);
    }
  }
  free_data(&d);
}

/* Compares a gradient with the reference's element by element, the label's elements under
 * t->label and the others under t->other; prints one line like clmp_test_expect_close. */
static void expect_grad_close(const char *what, const clmp_tensor *got, const clmp_tensor *want,
                              const float *labels, size_t classes, const grad_tols *t) {
  clmp_dtype d = clmp_tensor_dtype(got);
  size_t n = clmp_tensor_numel(got), es = clmp_dtype_size(d), failed = 0, worst = 0;
  char *g = malloc(n * es), *w = malloc(n * es);
  CU_ASSERT_FATAL(g && w);
  CU_ASSERT_EQUAL(clmp_tensor_read(got, d, g, n), 0);
  CU_ASSERT_EQUAL(clmp_tensor_read(want, d, w, n), 0);
  clmp__compare_result all = {0}, r;
  for (size_t i = 0; i < n; i++) {
    int is_label = (float)(i % classes) == labels[i / classes];
    clmp__compare(d, g + i * es, w + i * es, 1, is_label ? &t->label : &t->other, &r);
    if (r.failed && !failed++)
      worst = i, all.got_worst = r.got_worst, all.want_worst = r.want_worst;
    if (r.max_abs > all.max_abs) all.max_abs = r.max_abs;
    if (r.max_ulp > all.max_ulp) all.max_ulp = r.max_ulp;
  }
  printf("\n    %s: max abs %.3g, max ulp %.0f, %zu/%zu failed (label atol %.3g, others rtol %.3g)",
         what, all.max_abs, all.max_ulp, failed, n, t->label.atol, t->other.rtol);
  if (failed)
    printf("\n      first failure: element %zu: got %.9g, want %.9g", worst, all.got_worst,
           all.want_worst);
  CU_ASSERT_EQUAL(failed, 0);
  free(g), free(w);
}

/* --- softmax_xent_backward -------------------------------------------------------------------- */

/* The gradient of d's inputs on ctx, written as dtype out into a padded view; scale 0 means NULL.
 * The guard around the view is checked here. */
static clmp_tensor *run_grad(clmp_ctx *ctx, clmp_dtype x, clmp_dtype out, const xent_data *d,
                             float scale) {
  size_t shape[2] = {d->rows, d->classes}, one = 1, n = d->rows * d->classes;
  clmp_tensor *logits = padded(ctx, x, 2, shape, d->x, NULL), *base = NULL;
  clmp_tensor *labels = padded(ctx, CLMP_I32, 1, shape, d->labels, NULL);
  clmp_tensor *s = scale ? padded(ctx, CLMP_F32, 1, &one, &scale, NULL) : NULL;
  clmp_tensor *dl = padded(ctx, out, 2, shape, NULL, &base);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(logits, labels, s, dl), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(guard_damage(base, n), 0);
  clmp_tensor_free(logits), clmp_tensor_free(labels), clmp_tensor_free(s), clmp_tensor_free(base);
  return dl;
}

static void compare_grad(clmp_dtype x, clmp_dtype out, const shape2 *s, float scale,
                         uint64_t seed) {
  xent_data d = make_data(s->rows, s->classes, seed);
  clmp_tensor *want = run_grad(ref_ctx(), x, out, &d, scale);
  grad_tols tol = grad_tol(out, s->rows, s->classes, LOGIT_HI - LOGIT_LO, scale ? scale : 1.0);
  for (int i = 0; i < clmp_test_ndevs; i++) {
    if (clmp_test_devs[i].ctx == ref_ctx()) continue;
    clmp_tensor *got = run_grad(clmp_test_devs[i].ctx, x, out, &d, scale);
    char what[112];
    describe(what, sizeof what, "%-5s grad %-4s -> %-4s %4zux%-4zu scale %-5g",
             clmp_test_devs[i].id, clmp_dtype_name(x), clmp_dtype_name(out), s->rows, s->classes,
             scale ? scale : 1.0f);
    expect_grad_close(what, got, want, d.labels, s->classes, &tol);
    clmp_tensor_free(got);
  }
  clmp_tensor_free(want);
  free_data(&d);
}

/* Every dtype pair with a scale of 1024; same-dtype pairs also without a scale and with 65536. */
static void test_grad_vs_ref(void) {
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 3; b++)
      for (size_t s = 0; s < N_SHAPES; s++) {
        compare_grad(float_dtypes[a], float_dtypes[b], &shapes[s], MID_SCALE, SEED + s);
        if (a != b) continue;
        compare_grad(float_dtypes[a], float_dtypes[b], &shapes[s], 0, SEED + s);
        compare_grad(float_dtypes[a], float_dtypes[b], &shapes[s], BIG_SCALE, SEED + s);
      }
}

/* dlogits may be logits: the gradient written over the logits equals the one written apart. */
static void test_grad_in_place(void) {
  xent_data d = make_data(257, 10, SEED);
  size_t shape[2] = {257, 10}, one = 1;
  float scale = MID_SCALE;
  for (size_t k = 0; k < 3; k++) {
    clmp_tensor *want = run_grad(ref_ctx(), float_dtypes[k], float_dtypes[k], &d, scale);
    grad_tols tol = grad_tol(float_dtypes[k], 257, 10, LOGIT_HI - LOGIT_LO, scale);
    for (int i = 0; i < clmp_test_ndevs; i++) {
      clmp_ctx *ctx = clmp_test_devs[i].ctx;
      clmp_tensor *x = padded(ctx, float_dtypes[k], 2, shape, d.x, NULL);
      clmp_tensor *lab = padded(ctx, CLMP_I32, 1, shape, d.labels, NULL);
      clmp_tensor *s = padded(ctx, CLMP_F32, 1, &one, &scale, NULL);
      CU_ASSERT_EQUAL(clmp_softmax_xent_backward(x, lab, s, x), CLMP_SUCCESS);
      char what[64];
      describe(what, sizeof what, "%-5s in place %-4s", clmp_test_devs[i].id,
               clmp_dtype_name(float_dtypes[k]));
      expect_grad_close(what, x, want, d.labels, 10, &tol);
      clmp_tensor_free(x), clmp_tensor_free(lab), clmp_tensor_free(s);
    }
    clmp_tensor_free(want);
  }
  free_data(&d);
}

/* --- hand-computed cases ---------------------------------------------------------------------- */

/* |got - want| within tol (NaN matches NaN, infinities match themselves). */
static void expect_near(const char *what, double got, double want, const clmp__tolerance *tol) {
  int ok = isnan(want)   ? isnan(got)
           : isinf(want) ? got == want
                         : fabs(got - want) <= tol->atol + tol->rtol * fabs(want) + U * fabs(want);
  printf("\n    %s: got %.9g, want %.9g", what, got, want);
  CU_ASSERT(ok);
}

/* A loss worked out by hand: rows x classes logits, labels, the exact loss. */
typedef struct hand_case {
  const char *name;
  size_t rows, classes;
  float x[6];
  float labels[2];
  double loss;
  double bf16_loss; /* where bf16 rounds the logits (0: the same) */
} hand_case;

#define LN2 0.69314718055994531
#define LN3 1.0986122886681098
static const hand_case hand_cases[] = {
    {"-1000 vs 0, both labels", 2, 2, {-1000, 0, -1000, 0}, {0, 1}, 500.0, 0},
    {"all 1000 (no overflow)", 1, 3, {1000, 1000, 1000}, {2}, LN3, 0},
    {"all -1000 (no underflow)", 1, 3, {-1000, -1000, -1000}, {1}, LN3, 0},
    {"-inf elsewhere", 1, 3, {-INFINITY, 0, 0}, {1}, LN2, 0},
    {"-inf at the label", 1, 3, {-INFINITY, 0, 0}, {0}, INFINITY, 0},
    {"+inf in the row", 1, 3, {INFINITY, 0, 0}, {0}, NAN, 0},
    {"NaN in the row", 1, 3, {NAN, 0, 0}, {1}, NAN, 0},
    {"fp16 max", 1, 2, {65504, 0}, {1}, 65504.0, 65536.0},
    {"f16 subnormals", 1, 2, {0x1p-24f, 0x1p-20f}, {0}, LN2 + (0x1p-20 - 0x1p-24) / 2, 0},
    {"label -1", 1, 2, {0, 0}, {-1}, NAN, 0},
    {"label == classes", 1, 2, {0, 0}, {2}, NAN, 0},
};
#define N_HAND (sizeof hand_cases / sizeof *hand_cases)

static void check_hand_case(const clmp_test_device *dev, clmp_dtype x, const hand_case *h) {
  xent_data d = {h->rows, h->classes, (float *)h->x, (float *)h->labels};
  clmp_tensor *loss = run_xent(dev->ctx, x, &d);
  char what[96];
  describe(what, sizeof what, "%-5s %-4s %s", dev->id, clmp_dtype_name(x), h->name);
  clmp__tolerance tol = xent_tol(h->rows, h->classes, 0); /* no rounded spread to amplify */
  expect_near(what, read_scalar(loss), x == CLMP_BF16 && h->bf16_loss ? h->bf16_loss : h->loss,
              &tol);
  clmp_tensor_free(loss);
}

/* Uniform logits: loss log(C), gradient (1/C - onehot) / rows * scale. */
static void check_uniform(const clmp_test_device *dev, clmp_dtype x, size_t rows, size_t c) {
  xent_data d = make_data(rows, c, SEED);
  for (size_t i = 0; i < rows * c; i++) d.x[i] = 3.25f;
  clmp_tensor *loss = run_xent(dev->ctx, x, &d);
  char what[96];
  describe(what, sizeof what, "%-5s %-4s uniform %zux%zu: log(C)", dev->id, clmp_dtype_name(x),
           rows, c);
  clmp__tolerance tol = xent_tol(rows, c, 0);
  grad_tols gtol = grad_tol(CLMP_F32, rows, c, 0, MID_SCALE);
  expect_near(what, read_scalar(loss), log((double)c), &tol);
  clmp_tensor *dl = run_grad(dev->ctx, x, CLMP_F32, &d, MID_SCALE);
  float *g = clmp_test_read(dl);
  size_t bad = 0;
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) {
      double want = (1.0 / (double)c - (j == (size_t)d.labels[r])) / (double)rows * MID_SCALE;
      int is_label = j == (size_t)d.labels[r];
      double t = is_label ? gtol.label.atol : gtol.other.atol + gtol.other.rtol * fabs(want);
      bad += !(fabs(g[r * c + j] - want) <= t);
    }
  printf("; gradient: %zu of %zu off", bad, rows * c);
  CU_ASSERT_EQUAL(bad, 0);
  free(g), clmp_tensor_free(dl), clmp_tensor_free(loss), free_data(&d);
}

static void test_hand_computed(void) {
  for (int i = 0; i < clmp_test_ndevs; i++)
    for (size_t k = 0; k < 3; k++) {
      for (size_t h = 0; h < N_HAND; h++)
        check_hand_case(&clmp_test_devs[i], float_dtypes[k], &hand_cases[h]);
      check_uniform(&clmp_test_devs[i], float_dtypes[k], 1, 1);
      check_uniform(&clmp_test_devs[i], float_dtypes[k], 3, 10);
      check_uniform(&clmp_test_devs[i], float_dtypes[k], 4, 1000);
      check_uniform(&clmp_test_devs[i], float_dtypes[k], 257, 10);
    }
}

/* The gradient of a hand case: [-1000, 0] rows give [-1/2, 1/2] (label 0) and [0, 0] (label 1);
 * a row with an out-of-range label is NaN. */
static void test_hand_gradient(void) {
  const hand_case *h = &hand_cases[0];
  const double want[4] = {-0.5, 0.5, 0, 0};
  for (int i = 0; i < clmp_test_ndevs; i++) {
    xent_data d = {2, 2, (float *)h->x, (float *)h->labels};
    clmp_tensor *dl = run_grad(clmp_test_devs[i].ctx, CLMP_F32, CLMP_F32, &d, 0);
    float *g = clmp_test_read(dl);
    for (int j = 0; j < 4; j++) CU_ASSERT(fabs(g[j] - want[j]) <= U);
    free(g), clmp_tensor_free(dl);
    float bad_labels[2] = {1, 7};
    d.labels = bad_labels;
    dl = run_grad(clmp_test_devs[i].ctx, CLMP_F32, CLMP_F16, &d, 0);
    g = clmp_test_read(dl);
    printf("\n    %-5s label 7 of 2: gradient row %g %g", clmp_test_devs[i].id, g[2], g[3]);
    CU_ASSERT(!isnan(g[0]) && !isnan(g[1]) && isnan(g[2]) && isnan(g[3]));
    free(g), clmp_tensor_free(dl);
  }
}

/* --- finite differences ----------------------------------------------------------------------- */

/* The loss with logit k set to v (the other logits as in x). */
static double loss_with(clmp_tensor *logits, float *x, size_t k, float v, const clmp_tensor *labels,
                        clmp_tensor *loss) {
  float keep = x[k];
  x[k] = v;
  CU_ASSERT_EQUAL(clmp_tensor_write(logits, CLMP_F32, x, clmp_tensor_numel(logits)), 0);
  x[k] = keep;
  CU_ASSERT_EQUAL(clmp_softmax_xent(logits, labels, loss), CLMP_SUCCESS);
  return read_scalar(loss);
}

/* The worst |dl[k] / scale - (L(x + h e_k) - L(x - h e_k)) / 2h| over every logit, divided by
 * the bound it must stay under: the loss's error over h, the truncation h^2 / 6 L''', and the
 * gradient's own error. */
static double fd_worst(clmp_ctx *ctx, const xent_data *d, float scale) {
  size_t shape[2] = {d->rows, d->classes}, one = 1, n = d->rows * d->classes;
  clmp_tensor *logits = clmp_test_tensor(ctx, CLMP_F32, 2, shape, d->x);
  clmp_tensor *labels = clmp_test_tensor(ctx, CLMP_I32, 1, shape, d->labels);
  clmp_tensor *loss = clmp_test_tensor(ctx, CLMP_F32, 1, &one, NULL);
  clmp_tensor *dl = run_grad(ctx, CLMP_F32, CLMP_F32, d, scale);
  float *g = clmp_test_read(dl);
  double range = LOGIT_HI - LOGIT_LO, l0 = loss_with(logits, d->x, 0, d->x[0], labels, loss);
  clmp__tolerance lt = xent_tol(d->rows, d->classes, range);
  grad_tols gt = grad_tol(CLMP_F32, d->rows, d->classes, range, 1.0); /* label: the largest */
  double bound = (lt.atol + lt.rtol * l0 + U * l0) / FD_STEP +
                 FD_STEP * FD_STEP / 6 * FD_THIRD / (double)d->rows + gt.label.atol;
  double worst = 0;
  for (size_t k = 0; k < n; k++) {
    float xp = d->x[k] + (float)FD_STEP, xm = d->x[k] - (float)FD_STEP;
    double lp = loss_with(logits, d->x, k, xp, labels, loss);
    double lm = loss_with(logits, d->x, k, xm, labels, loss);
    double fd = (lp - lm) / ((double)xp - (double)xm), err = fabs(g[k] / (scale ? scale : 1) - fd);
    if (!(err / bound <= worst)) worst = err / bound;
  }
  free(g);
  clmp_tensor_free(logits), clmp_tensor_free(labels), clmp_tensor_free(loss), clmp_tensor_free(dl);
  return worst;
}

/* Central differences of the loss (in double, of f32 losses) agree with the gradient divided by
 * the scale, for scale 1 (NULL) and 1024, on every device and the reference. */
static void test_finite_differences(void) {
  xent_data d = make_data(FD_ROWS, FD_CLASS, SEED);
  for (size_t i = 0; i < FD_ROWS * FD_CLASS; i++) d.x[i] /= 4; /* logits in [-2, 2) */
  for (int i = 0; i < clmp_test_ndevs; i++) {
    double w1 = fd_worst(clmp_test_devs[i].ctx, &d, 0);
    double w2 = fd_worst(clmp_test_devs[i].ctx, &d, MID_SCALE);
    printf("\n    %-5s worst error / bound: scale 1 %.3f, scale 1024 %.3f", clmp_test_devs[i].id,
           w1, w2);
    CU_ASSERT(w1 <= 1.0);
    CU_ASSERT(w2 <= 1.0);
  }
  free_data(&d);
}

/* --- argmax and correct_count ----------------------------------------------------------------- */

/* Rows with ties, NaN and infinities where the shape has room for them. */
static void add_special_rows(float *x, size_t rows, size_t c) {
  if (rows > 0)
    for (size_t j = 0; j < c; j++) x[j] = 1.5f;         /* all equal: index 0 */
  if (rows > 1) x[c + c / 2] = NAN, x[2 * c - 1] = NAN; /* the first NaN wins */
  if (rows > 2)
    for (size_t j = 0; j < c; j++) x[2 * c + j] = -INFINITY;
  if (rows > 3) x[3 * c + c - 1] = INFINITY, x[3 * c + c / 3] = INFINITY;
  if (rows > 4) x[4 * c] = NAN;
}

/* The index each special row must give (-1: not special). */
static long special_want(size_t r, size_t c) {
  switch (r) {
  case 0:
  case 2:
    return 0;
  case 1:
    return (long)(c / 2);
  case 3:
    return (long)(c / 3 < c - 1 ? c / 3 : c - 1);
  case 4:
    return 0;
  default:
    return -1;
  }
}

/* Logits: uniform for even seeds, small integers (ties everywhere) for odd ones. */
static float *argmax_inputs(size_t rows, size_t c, uint64_t seed) {
  float *x = malloc(rows * c * sizeof *x);
  CU_ASSERT_PTR_NOT_NULL_FATAL(x);
  clmp_test_uniform(x, rows * c, LOGIT_LO, LOGIT_HI, seed);
  if (seed & 1)
    for (size_t i = 0; i < rows * c; i++) x[i] = floorf(x[i] / 4);
  add_special_rows(x, rows, c);
  return x;
}

static clmp_tensor *run_argmax(clmp_ctx *ctx, clmp_dtype d, const float *x, size_t rows, size_t c) {
  size_t shape[2] = {rows, c};
  clmp_tensor *t = padded(ctx, d, 2, shape, x, NULL), *base = NULL;
  clmp_tensor *out = padded(ctx, CLMP_I32, 1, shape, NULL, &base);
  CU_ASSERT_EQUAL(clmp_argmax(t, out), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(guard_damage(base, rows), 0);
  clmp_tensor_free(t), clmp_tensor_free(base);
  return out;
}

static void compare_argmax(clmp_dtype d, const shape2 *s, uint64_t seed) {
  float *x = argmax_inputs(s->rows, s->classes, seed);
  clmp_tensor *want = run_argmax(ref_ctx(), d, x, s->rows, s->classes);
  float *w = clmp_test_read(want);
  for (size_t r = 0; r < s->rows && r < 5; r++)
    if (special_want(r, s->classes) >= 0) CU_ASSERT_EQUAL((long)w[r], special_want(r, s->classes));
  clmp__tolerance exact = {0, 0, 0};
  for (int i = 0; i < clmp_test_ndevs; i++) {
    if (clmp_test_devs[i].ctx == ref_ctx()) continue;
    clmp_tensor *got = run_argmax(clmp_test_devs[i].ctx, d, x, s->rows, s->classes);
    char what[96];
    describe(what, sizeof what, "%-5s argmax %-4s %4zux%-4zu%s", clmp_test_devs[i].id,
             clmp_dtype_name(d), s->rows, s->classes, seed & 1 ? " ties" : "");
    clmp_test_expect_close(what, got, want, &exact);
    clmp_tensor_free(got);
  }
  free(w), free(x), clmp_tensor_free(want);
}

static void test_argmax_vs_ref(void) {
  for (size_t k = 0; k < 3; k++)
    for (size_t s = 0; s < N_SHAPES; s++) {
      compare_argmax(float_dtypes[k], &shapes[s], 2 * s);
      compare_argmax(float_dtypes[k], &shapes[s], 2 * s + 1);
    }
}

/* Labels: the argmax for even rows, another class for odd rows (out of range every 7th);
 * returns how many rows are correct. */
static size_t count_labels(const float *argmax, size_t rows, size_t c, float *labels) {
  size_t correct = 0;
  for (size_t r = 0; r < rows; r++) {
    labels[r] = r % 2 == 0 ? argmax[r] : (float)(((size_t)argmax[r] + 1) % c);
    if (r % 7 == 3) labels[r] = r % 2 ? -1.0f : (float)c;
    correct += labels[r] == argmax[r];
  }
  return correct;
}

/* count += correct rows, twice, starting from 7. */
static void check_count(clmp_dtype d, const shape2 *s, uint64_t seed) {
  float *x = argmax_inputs(s->rows, s->classes, seed), *lab = malloc(s->rows * sizeof *lab);
  clmp_tensor *am = run_argmax(ref_ctx(), d, x, s->rows, s->classes);
  float *a = clmp_test_read(am), start = 7;
  size_t correct = count_labels(a, s->rows, s->classes, lab), shape[2] = {s->rows, s->classes};
  size_t one = 1;
  for (int i = 0; i < clmp_test_ndevs; i++) {
    clmp_ctx *ctx = clmp_test_devs[i].ctx;
    clmp_tensor *t = padded(ctx, d, 2, shape, x, NULL);
    clmp_tensor *l = padded(ctx, CLMP_I32, 1, shape, lab, NULL);
    clmp_tensor *count = padded(ctx, CLMP_I32, 1, &one, &start, NULL);
    CU_ASSERT_EQUAL(clmp_correct_count(t, l, count), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_correct_count(t, l, count), CLMP_SUCCESS);
    float got = read_scalar(count);
    if (got != start + 2.0f * (float)correct)
      printf("\n    %-5s count %-4s %zux%zu: got %g, want %g", clmp_test_devs[i].id,
             clmp_dtype_name(d), s->rows, s->classes, got, start + 2.0f * (float)correct);
    CU_ASSERT_EQUAL(got, start + 2.0f * (float)correct);
    clmp_tensor_free(t), clmp_tensor_free(l), clmp_tensor_free(count);
  }
  free(x), free(lab), free(a), clmp_tensor_free(am);
}

static void test_correct_count(void) {
  for (size_t k = 0; k < 3; k++)
    for (size_t s = 0; s < N_SHAPES; s++) {
      check_count(float_dtypes[k], &shapes[s], 2 * s);
      check_count(float_dtypes[k], &shapes[s], 2 * s + 1);
    }
}

/* --- argument checks -------------------------------------------------------------------------- */

typedef struct bad_args {
  clmp_tensor *x, *x1d, *xi32, *lab, *lab_f32, *lab_short, *f32_1, *f32_2, *f16_1, *i32_1, *i32_2,
      *dl_short;
} bad_args;

static bad_args make_bad_args(clmp_ctx *ctx) {
  size_t m[2] = {3, 4}, three = 3, two = 2, one = 1, eleven = 11;
  bad_args b = {
      clmp_test_tensor(ctx, CLMP_F32, 2, m, NULL),
      clmp_test_tensor(ctx, CLMP_F32, 1, &eleven, NULL),
      clmp_test_tensor(ctx, CLMP_I32, 2, m, NULL),
      clmp_test_tensor(ctx, CLMP_I32, 1, &three, (const float[]){0, 1, 2}),
      clmp_test_tensor(ctx, CLMP_F32, 1, &three, NULL),
      clmp_test_tensor(ctx, CLMP_I32, 1, &two, (const float[]){0, 1}),
      clmp_test_tensor(ctx, CLMP_F32, 1, &one, (const float[]){42}),
      clmp_test_tensor(ctx, CLMP_F32, 1, &two, NULL),
      clmp_test_tensor(ctx, CLMP_F16, 1, &one, NULL),
      clmp_test_tensor(ctx, CLMP_I32, 1, &one, NULL),
      clmp_test_tensor(ctx, CLMP_I32, 1, &two, NULL),
      clmp_test_tensor(ctx, CLMP_F16, 1, &eleven, NULL),
  };
  return b;
}

static void free_bad_args(bad_args *b) {
  clmp_tensor *all[] = {b->x,     b->x1d,   b->xi32,  b->lab,   b->lab_f32, b->lab_short,
                        b->f32_1, b->f32_2, b->f16_1, b->i32_1, b->i32_2,   b->dl_short};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_tensor_free(all[i]);
}

static void bad_xent(const bad_args *b) {
  CU_ASSERT_EQUAL(clmp_softmax_xent(NULL, b->lab, b->f32_1), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x, NULL, b->f32_1), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x, b->lab, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x1d, b->lab, b->f32_1), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->xi32, b->lab, b->f32_1), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x, b->lab_f32, b->f32_1), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x, b->lab_short, b->f32_1), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x, b->lab, b->f16_1), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent(b->x, b->lab, b->f32_2), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(read_scalar(b->f32_1), 42.0f); /* failed calls touch nothing */
}

static void bad_grad(const bad_args *b) {
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(NULL, b->lab, NULL, b->x), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, NULL, NULL, b->x), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, b->lab, NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x1d, b->lab, NULL, b->x1d), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, b->lab_short, NULL, b->x),
                  CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, b->lab, b->f16_1, b->x), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, b->lab, b->f32_2, b->x), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, b->lab, NULL, b->xi32), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(b->x, b->lab, NULL, b->dl_short),
                  CLMP_ERR_INVALID_SHAPE);
}

static void bad_argmax_count(const bad_args *b) {
  CU_ASSERT_EQUAL(clmp_argmax(NULL, b->lab), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_argmax(b->x, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_argmax(b->x1d, b->lab), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_argmax(b->xi32, b->lab), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_argmax(b->x, b->lab_f32), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_argmax(b->x, b->lab_short), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_correct_count(NULL, b->lab, b->i32_1), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_correct_count(b->x, b->lab, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_correct_count(b->x, b->lab_f32, b->i32_1), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_correct_count(b->x, b->lab_short, b->i32_1), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_correct_count(b->x, b->lab, b->f32_1), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_correct_count(b->x, b->lab, b->i32_2), CLMP_ERR_INVALID_SHAPE);
}

static void test_bad_arguments(void) {
  for (int i = 0; i < clmp_test_ndevs; i++) {
    bad_args b = make_bad_args(clmp_test_devs[i].ctx);
    bad_xent(&b);
    bad_grad(&b);
    bad_argmax_count(&b);
    free_bad_args(&b);
  }
}

/* Tensors of two contexts never mix: each argument in turn comes from the other context. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  bad_args a = make_bad_args(clmp_test_devs[0].ctx), b = make_bad_args(clmp_test_devs[1].ctx);
  int e = CLMP_ERR_CONTEXT_MISMATCH;
  CU_ASSERT_EQUAL(clmp_softmax_xent(a.x, b.lab, a.f32_1), e);
  CU_ASSERT_EQUAL(clmp_softmax_xent(a.x, a.lab, b.f32_1), e);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(a.x, b.lab, NULL, a.x), e);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(a.x, a.lab, b.f32_1, a.x), e);
  CU_ASSERT_EQUAL(clmp_softmax_xent_backward(a.x, a.lab, NULL, b.x), e);
  CU_ASSERT_EQUAL(clmp_argmax(a.x, b.lab), e);
  CU_ASSERT_EQUAL(clmp_correct_count(a.x, b.lab, a.i32_1), e);
  CU_ASSERT_EQUAL(clmp_correct_count(a.x, a.lab, b.i32_1), e);
  free_bad_args(&a), free_bad_args(&b);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 && clmp_test_ref_ctx() ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"softmax_xent: devices vs reference", test_xent_vs_ref},
      {"softmax_xent: two runs, the same bits", test_xent_bit_identical},
      {"softmax_xent_backward: devices vs reference", test_grad_vs_ref},
      {"softmax_xent_backward: dlogits is logits", test_grad_in_place},
      {"hand-computed losses and special values", test_hand_computed},
      {"hand-computed gradients", test_hand_gradient},
      {"finite differences of the loss vs the gradient", test_finite_differences},
      {"argmax: devices vs reference, ties, NaN, inf", test_argmax_vs_ref},
      {"correct_count: counts and accumulates", test_correct_count},
      {"bad arguments", test_bad_arguments},
      {"tensors of two contexts", test_context_mismatch},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"loss", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
