/* tests/test_model.c: models from specs: the presets' parameter counts and state_dict keys (as
 * torch.nn.Sequential names them), the canonical spec as a fixed point, bad specs refused with a
 * message naming the layer and the field, every layer kind's gradients against central finite
 * differences (f32, on the reference), accumulation, evaluation mode, the running statistics, and
 * every device against the reference on small models of every layer kind.
 *
 * Tolerances.
 * - Finite differences: dL/dp for L = sum(g * model(x)) against (L(p + h) - L(p - h)) / 2h with h
 *   = FD_STEP; the truncation error is O(h^2 |L'''|) and fp32 rounding of L over the outputs is
 *   about n u |terms| / h (n = 12 outputs: under 1e-5 here), so each checked derivative must
 *   agree within FD_RTOL of the largest derivative of that tensor plus FD_ATOL. ReLU and max
 *   pooling have kinks: a step that moves a unit across one breaks the difference, and a step of
 *   1e-2 did so for the first convolution (errors of 2.7x the tolerance, shrinking tenfold with
 *   h = 1e-3), so h is small enough that the random inputs put no kink within it.
 * - Device against the reference: the device sums in another order and may contract to fma, and
 *   every 16-bit storage point rounds the differing sums again, so outputs and gradients are
 *   compared as ||dev - ref|| / ||ref|| within DEV_TOL_F32 (fp32 storage) or DEV_TOL_16 (f16,
 *   bf16: a few 16-bit ulps of the stored activations, 2^-8 for bf16, propagated). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define SEED        0x30de1u
#define FD_STEP     1e-3
#define FD_RTOL     2e-2
#define FD_ATOL     1e-4
#define FD_CHECKS   6 /* elements checked per parameter tensor */
#define DEV_TOL_F32 1e-4
#define DEV_TOL_16  3e-2
#define BATCH       4
#define SIDE        8

/* --- the presets ---------------------------------------------------------------------------- */

static clmp_model_config image_config(const char *spec, clmp_dtype d, size_t batch) {
  clmp_model_config c = {spec, d, batch, 3, {1, 28, 28}, 10, SEED};
  return c;
}

static void test_preset_sizes(void) {
  static const struct {
    const char *spec;
    size_t params, layers;
  } presets[] = {
      /* 784*512 + 512 + 512*256 + 256 + 256*10 + 10; the root and its 5 children */
      {"mlp", 535818, 6},
      /* conv 1*9*32+32, bn 64, conv 32*9*64+64, bn 128, fc 3136*128+128, fc 128*10+10 */
      {"cnn", 421834, 13},
      /* stem 144 + bn 32; blocks 16: 2*(2304+32); 32: 4608+64+9216+64 + 512+64; 64: 18432+128 +
       * 36864+128 + 2048+128; fc 640+10 */
      {"resnet8",
       144 + 32 + 2 * (2304 + 32) + 4608 + 64 + 9216 + 64 + 512 + 64 + 18432 + 128 + 36864 + 128 +
           2048 + 128 + 650,
       38},
  };
  for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
    clmp_model_config c = image_config(presets[i].spec, CLMP_F16, 128);
    clmp_model_summary s;
    clmp_status st = clmp_model_check(&c, &s);
    printf("\n    %s: %s, %zu parameters, %zu layers, %zu activation bytes", presets[i].spec,
           clmp_status_name(st), s.params, s.layers, s.act_bytes);
    CU_ASSERT_EQUAL_FATAL(st, CLMP_SUCCESS);
    CU_ASSERT_EQUAL(s.params, presets[i].params);
    CU_ASSERT_EQUAL(s.layers, presets[i].layers);
    CU_ASSERT(s.out_ndim == 1 && s.out[0] == 10);
  }
}

/* Entry name == want[i] with the shape given, for the first n entries. */
typedef struct key_row {
  const char *name;
  int ndim;
  size_t shape[4];
} key_row;

static void expect_keys(clmp_model *m, const key_row *rows, size_t n, int all) {
  clmp_model_entry e;
  if (all) CU_ASSERT_EQUAL(clmp_model_entry_count(m), n);
  for (size_t i = 0; i < n; i++) {
    int found = 0;
    for (size_t k = 0; k < clmp_model_entry_count(m) && !found; k++) {
      CU_ASSERT_EQUAL_FATAL(clmp_model_entry_get(m, k, &e), CLMP_SUCCESS);
      found = !strcmp(e.name, rows[i].name);
    }
    int ok = found && e.ndim == rows[i].ndim &&
             !memcmp(e.shape, rows[i].shape, (size_t)e.ndim * sizeof *e.shape);
    if (!ok) printf("\n    key %s: %s", rows[i].name, found ? "wrong shape" : "missing");
    CU_ASSERT(ok);
  }
}

static void test_state_dict_keys(void) {
  static const key_row cnn[] = {{"0.weight", 4, {32, 1, 3, 3}},
                                {"0.bias", 1, {32}},
                                {"1.weight", 1, {32}},
                                {"1.bias", 1, {32}},
                                {"1.running_mean", 1, {32}},
                                {"1.running_var", 1, {32}},
                                {"1.num_batches_tracked", 0, {0}},
                                {"4.weight", 4, {64, 32, 3, 3}},
                                {"4.bias", 1, {64}},
                                {"5.weight", 1, {64}},
                                {"5.bias", 1, {64}},
                                {"5.running_mean", 1, {64}},
                                {"5.running_var", 1, {64}},
                                {"5.num_batches_tracked", 0, {0}},
                                {"9.weight", 2, {128, 3136}},
                                {"9.bias", 1, {128}},
                                {"11.weight", 2, {10, 128}},
                                {"11.bias", 1, {10}}};
  static const key_row resnet8[] = {{"0.weight", 4, {16, 1, 3, 3}},
                                    {"3.body.conv1.weight", 4, {16, 16, 3, 3}},
                                    {"3.body.bn1.running_var", 1, {16}},
                                    {"3.body.bn2.num_batches_tracked", 0, {0}},
                                    {"5.body.conv1.weight", 4, {32, 16, 3, 3}},
                                    {"5.shortcut.0.weight", 4, {32, 16, 1, 1}},
                                    {"5.shortcut.1.running_mean", 1, {32}},
                                    {"7.body.conv2.weight", 4, {64, 64, 3, 3}},
                                    {"11.weight", 2, {10, 64}},
                                    {"11.bias", 1, {10}}};
  clmp_model *m = NULL;
  clmp_model_config c = image_config("cnn", CLMP_F16, 2);
  CU_ASSERT_EQUAL_FATAL(clmp_model_create(clmp_test_ref_ctx(), &c, &m), CLMP_SUCCESS);
  expect_keys(m, cnn, sizeof cnn / sizeof *cnn, 1);
  clmp_model_free(m);
  c.spec = "resnet8";
  CU_ASSERT_EQUAL_FATAL(clmp_model_create(clmp_test_ref_ctx(), &c, &m), CLMP_SUCCESS);
  expect_keys(m, resnet8, sizeof resnet8 / sizeof *resnet8, 0);
  clmp_model_free(m);
}

/* A spec of every layer kind and option, on [1, SIDE, SIDE]. */
static const char ALL_KINDS[] =
    "{\"input\": [1, 8, 8], \"layers\": ["
    "{\"type\": \"conv2d\", \"out\": 4, \"kernel\": 3, \"padding\": 1, \"stride\": 1},"
    "{\"type\": \"batchnorm\", \"momentum\": 0.2}, {\"type\": \"gelu\"},"
    "{\"type\": \"conv2d\", \"name\": \"dw\", \"out\": 4, \"kernel\": 3, \"padding\": 2, "
    "\"dilation\": 2, \"groups\": 4, \"bias\": false},"
    "{\"type\": \"residual\", \"body\": [{\"type\": \"conv2d\", \"out\": 4, \"kernel\": [3, 1], "
    "\"padding\": [1, 0]}, {\"type\": \"relu\"}], \"shortcut\": []},"
    "{\"type\": \"maxpool2d\", \"kernel\": 2},"
    "{\"type\": \"residual\", \"body\": [{\"type\": \"conv2d\", \"out\": 6, \"kernel\": 3, "
    "\"stride\": 2, \"padding\": 1}], \"shortcut\": [{\"type\": \"avgpool2d\", \"kernel\": 2}, "
    "{\"type\": \"conv2d\", \"out\": 6, \"kernel\": 1}]},"
    "{\"type\": \"sequential\", \"layers\": [{\"type\": \"dropout\", \"p\": 0.25}]},"
    "{\"type\": \"globalavgpool\"}, {\"type\": \"flatten\"},"
    "{\"type\": \"linear\", \"out\": 5}, {\"type\": \"relu\"}, {\"type\": \"linear\", \"out\": "
    "3}]}";

static clmp_model_config small_config(const char *spec, clmp_dtype d) {
  clmp_model_config c = {spec, d, BATCH, 3, {1, SIDE, SIDE}, 3, SEED};
  return c;
}

/* The canonical spec of a model plans to a model whose canonical spec is the same text. */
static void test_canonical_fixed_point(void) {
  const char *specs[] = {"mlp", "cnn", "resnet8", ALL_KINDS};
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
    clmp_model *a = NULL, *b = NULL;
    clmp_model_config c =
        i < 3 ? image_config(specs[i], CLMP_F32, 2) : small_config(specs[i], CLMP_F32);
    CU_ASSERT_EQUAL_FATAL(clmp_model_create(clmp_test_ref_ctx(), &c, &a), CLMP_SUCCESS);
    c.spec = clmp_model_spec(a);
    CU_ASSERT_EQUAL_FATAL(clmp_model_create(clmp_test_ref_ctx(), &c, &b), CLMP_SUCCESS);
    CU_ASSERT_STRING_EQUAL(clmp_model_spec(a), clmp_model_spec(b));
    CU_ASSERT_EQUAL(clmp_model_params(a), clmp_model_params(b));
    clmp_model_free(a), clmp_model_free(b);
  }
}

/* --- bad specs ------------------------------------------------------------------------------ */

static const struct {
  const char *what, *spec;
  clmp_status want;
  const char *needle;
} BAD[] = {
    {"not JSON", "{\"layers\": [", CLMP_ERR_INVALID_ARGUMENT, "nor valid JSON"},
    {"no layers", "{\"input\": [1, 8, 8]}", CLMP_ERR_INVALID_ARGUMENT, "\"layers\""},
    {"an empty list", "[]", CLMP_ERR_INVALID_ARGUMENT, "non-empty"},
    {"an unknown top-level field", "{\"layers\": [{\"type\": \"relu\"}], \"lr\": 1}",
     CLMP_ERR_INVALID_ARGUMENT, "unknown field \"lr\""},
    {"a layer that is no object", "[3]", CLMP_ERR_INVALID_ARGUMENT, "layer 0: not an object"},
    {"a layer without a type", "[{\"out\": 3}]", CLMP_ERR_INVALID_ARGUMENT, "no \"type\""},
    {"an unknown type", "[{\"type\": \"lstm\"}]", CLMP_ERR_INVALID_ARGUMENT,
     "unknown type \"lstm\""},
    {"an unknown field",
     "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 3, \"bais\": "
     "true}]",
     CLMP_ERR_INVALID_ARGUMENT, "layer 1 (linear): unknown field \"bais\""},
    {"a missing field", "[{\"type\": \"flatten\"}, {\"type\": \"linear\"}]",
     CLMP_ERR_INVALID_ARGUMENT, "layer 1 (linear): no field \"out\""},
    {"a negative size", "[{\"type\": \"conv2d\", \"out\": 3, \"kernel\": -1}]",
     CLMP_ERR_INVALID_ARGUMENT, "layer 0 (conv2d): field \"kernel\""},
    {"a fractional size", "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 2.5}]",
     CLMP_ERR_INVALID_ARGUMENT, "layer 1 (linear): field \"out\""},
    {"a string size", "[{\"type\": \"conv2d\", \"out\": \"8\", \"kernel\": 3}]",
     CLMP_ERR_INVALID_ARGUMENT, "layer 0 (conv2d): field \"out\""},
    {"a stride of 0", "[{\"type\": \"conv2d\", \"out\": 3, \"kernel\": 3, \"stride\": 0}]",
     CLMP_ERR_INVALID_ARGUMENT, "field \"stride\""},
    {"a pair of three", "[{\"type\": \"conv2d\", \"out\": 3, \"kernel\": [3, 3, 3]}]",
     CLMP_ERR_INVALID_ARGUMENT, "field \"kernel\""},
    {"a bool that is a number", "[{\"type\": \"conv2d\", \"out\": 3, \"kernel\": 3, \"bias\": 1}]",
     CLMP_ERR_INVALID_ARGUMENT, "field \"bias\""},
    {"dropout p 1", "[{\"type\": \"dropout\", \"p\": 1}]", CLMP_ERR_INVALID_ARGUMENT,
     "layer 0 (dropout): field \"p\""},
    {"batchnorm momentum 2", "[{\"type\": \"batchnorm\", \"momentum\": 2}]",
     CLMP_ERR_INVALID_ARGUMENT, "layer 0 (batchnorm): field \"momentum\""},
    {"a bad input", "{\"input\": [0, 8, 8], \"layers\": [{\"type\": \"relu\"}]}",
     CLMP_ERR_INVALID_ARGUMENT, "field \"input\""},
    {"an input of other size", "{\"input\": [100], \"layers\": [{\"type\": \"relu\"}]}",
     CLMP_ERR_INVALID_SHAPE, "has not the 64 elements"},
    {"linear on an image", "[{\"type\": \"linear\", \"out\": 3}]", CLMP_ERR_INVALID_SHAPE,
     "layer 0 (linear): input [1, 8, 8] is not flat"},
    {"conv on a flat input",
     "[{\"type\": \"flatten\"}, {\"type\": \"conv2d\", \"out\": 3, "
     "\"kernel\": 3}]",
     CLMP_ERR_INVALID_SHAPE, "layer 1 (conv2d): input [64] is not [C, H, W]"},
    {"a kernel larger than the input", "[{\"type\": \"conv2d\", \"out\": 3, \"kernel\": 9}]",
     CLMP_ERR_INVALID_SHAPE, "layer 0 (conv2d)"},
    {"a pool larger than the input", "[{\"type\": \"maxpool2d\", \"kernel\": 9}]",
     CLMP_ERR_INVALID_SHAPE, "layer 0 (maxpool2d)"},
    {"groups that do not divide",
     "[{\"type\": \"conv2d\", \"out\": 3, \"kernel\": 3, "
     "\"groups\": 2}]",
     CLMP_ERR_INVALID_SHAPE, "groups 2 must divide"},
    {"branches of two shapes",
     "[{\"type\": \"residual\", \"body\": [{\"type\": \"conv2d\", "
     "\"out\": 2, \"kernel\": 1}]}]",
     CLMP_ERR_INVALID_SHAPE,
     "layer 0 (residual): the body gives [2, 8, 8], the shortcut [1, 8, 8]"},
    {"a residual without a body", "[{\"type\": \"residual\"}]", CLMP_ERR_INVALID_ARGUMENT,
     "no \"body\""},
    {"two layers of one name",
     "[{\"type\": \"conv2d\", \"name\": \"a\", \"out\": 1, \"kernel\": "
     "1}, {\"type\": \"conv2d\", \"name\": \"a\", \"out\": 1, "
     "\"kernel\": 1}]",
     CLMP_ERR_INVALID_ARGUMENT, "a.weight is taken"},
    {"a name with a dot", "[{\"type\": \"relu\", \"name\": \"a.b\"}]", CLMP_ERR_INVALID_ARGUMENT,
     "field \"name\""},
    {"an output that is not the classes",
     "[{\"type\": \"flatten\"}, {\"type\": \"linear\", "
     "\"out\": 4}]",
     CLMP_ERR_INVALID_SHAPE, "the loss needs [3]"},
    {"parameters beyond any device",
     "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": "
     "16777216}, {\"type\": \"linear\", \"out\": 16777216}, "
     "{\"type\": \"linear\", \"out\": 3}]",
     CLMP_ERR_TOO_LARGE, "1 TiB"},

};

/* Nested sequentials deeper than a state_dict name can hold. */
static char *deep_spec(int depth) {
  size_t n = (size_t)depth * 48 + 64;
  char *s = malloc(n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int k = 0;
  for (int i = 0; i < depth; i++)
    k += snprintf(s + k, n - (size_t)k, "[{\"type\": \"sequential\", \"layers\": ");
  k += snprintf(s + k, n - (size_t)k, "[{\"type\": \"relu\"}]");
  for (int i = 0; i < depth; i++) k += snprintf(s + k, n - (size_t)k, "}]");
  return s;
}

static void expect_refused(const char *what, const char *spec, clmp_status want,
                           const char *needle) {
  clmp_model_config c = small_config(spec, CLMP_F16);
  clmp_status got = clmp_model_check(&c, NULL);
  int named = strstr(clmp_last_error(), needle) != NULL;
  printf("\n    %s: %s", what, clmp_last_error());
  if (got != want || !named)
    printf("\n      got %s, want %s naming \"%s\"", clmp_status_name(got), clmp_status_name(want),
           needle);
  CU_ASSERT_EQUAL(got, want);
  CU_ASSERT(named);
}

static void test_bad_specs(void) {
  for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++)
    expect_refused(BAD[i].what, BAD[i].spec, BAD[i].want, BAD[i].needle);
  clmp_model_config big =
      small_config("[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 3}]", CLMP_F16);
  big.max_batch = (size_t)1 << 39; /* 2^39 images of 64 f16 elements: 64 TiB of input */
  CU_ASSERT_EQUAL(clmp_model_check(&big, NULL), CLMP_ERR_TOO_LARGE);
  printf("\n    activations beyond any device: %s", clmp_last_error());
  CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "1 TiB"));
  char *deep = deep_spec(80);
  expect_refused("nested too deep", deep, CLMP_ERR_INVALID_ARGUMENT, "nested too deep");
  char *long_name = malloc(400);
  CU_ASSERT_PTR_NOT_NULL_FATAL(long_name);
  snprintf(long_name, 400, "[{\"type\": \"relu\", \"name\": \"%0300d\"}]", 7);
  expect_refused("a name too long", long_name, CLMP_ERR_INVALID_ARGUMENT, "a long name");
  free(long_name);
  free(deep);
  clmp_model_config c = small_config(NULL, CLMP_F16);
  CU_ASSERT_EQUAL(clmp_model_check(NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  c.input_ndim = 0, c.classes = 10;
  CU_ASSERT_EQUAL(clmp_model_check(&c, NULL), CLMP_SUCCESS); /* the mlp preset has an input */
}

/* --- gradients ------------------------------------------------------------------------------ */

/* A model on ctx with deterministic inputs x and output weights g (L = sum g * out). */
typedef struct rig {
  clmp_model *m;
  clmp_tensor *g;
  size_t out_n;
} rig;

static void rig_open(rig *r, clmp_ctx *ctx, const char *spec, clmp_dtype d) {
  clmp_model_config c = small_config(spec, d);
  memset(r, 0, sizeof *r);
  CU_ASSERT_EQUAL_FATAL(clmp_model_create(ctx, &c, &r->m), CLMP_SUCCESS);
  size_t in_n = clmp_tensor_numel(clmp_model_input(r->m)), oshape[2] = {BATCH, 3};
  float *x = malloc(in_n * sizeof *x), g[BATCH * 3];
  CU_ASSERT_PTR_NOT_NULL_FATAL(x);
  clmp_test_uniform(x, in_n, -1.0f, 1.0f, SEED + 1);
  clmp_test_uniform(g, BATCH * 3, -1.0f, 1.0f, SEED + 2);
  CU_ASSERT_EQUAL(clmp_tensor_write(clmp_model_input(r->m), CLMP_F32, x, in_n), CLMP_SUCCESS);
  r->g = clmp_test_tensor(ctx, d, 2, oshape, g);
  r->out_n = BATCH * 3;
  free(x);
}

static void rig_close(rig *r) {
  clmp_tensor_free(r->g);
  clmp_model_free(r->m);
}

/* L = sum g * out of a training forward with counter 7 (dropout's masks fixed), in double. */
static double loss_of(rig *r) {
  const clmp_tensor *out = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r->m, BATCH, 1, 7, &out), CLMP_SUCCESS);
  float *o = clmp_test_read(out), *g = clmp_test_read(r->g);
  double l = 0;
  for (size_t i = 0; i < r->out_n; i++) l += (double)o[i] * g[i];
  free(o), free(g);
  return l;
}

/* Sets master[i] to v and refreshes the working copy. */
static void set_master(rig *r, float *master, size_t i, float v) {
  master[i] = v;
  CU_ASSERT_EQUAL(
      clmp_tensor_write(clmp_model_master(r->m), CLMP_F32, master, clmp_model_params(r->m)),
      CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_model_sync_working(r->m), CLMP_SUCCESS);
}

/* Central differences of FD_CHECKS elements of one parameter tensor against grads. */
static void check_entry(rig *r, const clmp_model_entry *e, float *master, const float *grads) {
  double worst = 0, scale = 0;
  for (size_t k = 0; k < e->numel; k++) scale = fmax(scale, fabs(grads[e->offset + k]));
  for (int c = 0; c < FD_CHECKS; c++) {
    size_t i = e->offset + (size_t)c * 7919 % e->numel;
    float p = master[i];
    set_master(r, master, i, p + (float)FD_STEP);
    double up = loss_of(r);
    set_master(r, master, i, p - (float)FD_STEP);
    double down = loss_of(r);
    set_master(r, master, i, p);
    double fd = (up - down) / (2 * FD_STEP), err = fabs(fd - grads[i]);
    worst = fmax(worst, err / (FD_RTOL * scale + FD_ATOL));
  }
  printf("\n    %-24s worst error / tolerance %.3f (largest gradient %.3g)", e->name, worst, scale);
  CU_ASSERT(worst <= 1.0);
}

static void test_gradients_finite_differences(void) {
  rig r;
  rig_open(&r, clmp_test_ref_ctx(), ALL_KINDS, CLMP_F32);
  const clmp_tensor *out = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 1, 7, &out), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_model_backward(r.m, r.g, 0), CLMP_SUCCESS);
  float *grads = clmp_test_read(clmp_model_grads(r.m));
  float *master = clmp_test_read(clmp_model_master(r.m));
  for (size_t i = 0; i < clmp_model_entry_count(r.m); i++) {
    clmp_model_entry e;
    CU_ASSERT_EQUAL_FATAL(clmp_model_entry_get(r.m, i, &e), CLMP_SUCCESS);
    if (e.kind == CLMP_ENTRY_PARAM) check_entry(&r, &e, master, grads);
  }
  free(grads), free(master);
  rig_close(&r);
}

/* Two backwards of one forward, the second accumulating, give twice the gradients (exactly:
 * every sum is the same, doubled once). */
static void test_accumulation(void) {
  rig r;
  rig_open(&r, clmp_test_ref_ctx(), ALL_KINDS, CLMP_F32);
  const clmp_tensor *out = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 1, 7, &out), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_model_backward(r.m, r.g, 0), CLMP_SUCCESS);
  float *once = clmp_test_read(clmp_model_grads(r.m));
  CU_ASSERT_EQUAL(clmp_model_backward(r.m, r.g, 1), CLMP_SUCCESS);
  float *twice = clmp_test_read(clmp_model_grads(r.m));
  size_t bad = 0;
  for (size_t i = 0; i < clmp_model_params(r.m); i++) bad += twice[i] != 2 * once[i];
  printf("\n    %zu of %zu gradients not doubled", bad, clmp_model_params(r.m));
  CU_ASSERT_EQUAL(bad, 0);
  free(once), free(twice);
  rig_close(&r);
}

/* Evaluation: dropout is the identity and batch norm uses the running statistics, so two
 * evaluations agree to the bit; training forwards differ with the dropout counter; a training
 * forward moves the running statistics and counts the batch; backward after an evaluation is
 * refused. */
static void test_modes(void) {
  rig r;
  rig_open(&r, clmp_test_ref_ctx(), ALL_KINDS, CLMP_F32);
  const clmp_tensor *out = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 0, 1, &out), CLMP_SUCCESS);
  float *e1 = clmp_test_read(out);
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 0, 2, &out), CLMP_SUCCESS);
  float *e2 = clmp_test_read(out);
  CU_ASSERT_EQUAL(memcmp(e1, e2, r.out_n * sizeof *e1), 0);
  CU_ASSERT_EQUAL(clmp_model_backward(r.m, r.g, 0), CLMP_ERR_INVALID_ARGUMENT);
  float *b0 = clmp_test_read(clmp_model_buffers(r.m));
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 1, 1, &out), CLMP_SUCCESS);
  float *t1 = clmp_test_read(out), *b1 = clmp_test_read(clmp_model_buffers(r.m));
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 1, 2, &out), CLMP_SUCCESS);
  float *t2 = clmp_test_read(out);
  CU_ASSERT_NOT_EQUAL(memcmp(t1, t2, r.out_n * sizeof *t1), 0);
  CU_ASSERT_NOT_EQUAL(memcmp(b0, b1, clmp_model_buffer_count(r.m) * sizeof *b0), 0);
  clmp_model_entry e;
  for (size_t i = 0; i < clmp_model_entry_count(r.m); i++) {
    CU_ASSERT_EQUAL(clmp_model_entry_get(r.m, i, &e), CLMP_SUCCESS);
    if (e.kind == CLMP_ENTRY_COUNTER) CU_ASSERT_EQUAL(e.value, 2);
  }
  free(e1), free(e2), free(t1), free(t2), free(b0), free(b1);
  rig_close(&r);
}

/* --- every device against the reference ---------------------------------------------------- */

/* ||a - b|| / ||b|| over n values. */
static double rel_diff(const float *a, const float *b, size_t n) {
  double d = 0, s = 0;
  for (size_t i = 0; i < n; i++)
    d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), s += (double)b[i] * b[i];
  return s > 0 ? sqrt(d / s) : sqrt(d);
}

/* One forward and backward: the output and the gradients, read. */
static void run_once(clmp_ctx *ctx, const char *spec, clmp_dtype d, float **out, float **grads,
                     size_t *n) {
  rig r;
  rig_open(&r, ctx, spec, d);
  const clmp_tensor *o = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_model_forward(r.m, BATCH, 1, 3, &o), CLMP_SUCCESS);
  *out = clmp_test_read(o);
  CU_ASSERT_EQUAL_FATAL(clmp_model_backward(r.m, r.g, 0), CLMP_SUCCESS);
  *grads = clmp_test_read(clmp_model_grads(r.m));
  *n = clmp_model_params(r.m);
  rig_close(&r);
}

static void test_devices_match_reference(void) {
  const clmp_dtype dts[] = {CLMP_F32, CLMP_F16, CLMP_BF16};
  for (int k = 0; k < 3; k++) {
    float *ro = NULL, *rg = NULL;
    size_t n = 0;
    run_once(clmp_test_ref_ctx(), ALL_KINDS, dts[k], &ro, &rg, &n);
    double tol = dts[k] == CLMP_F32 ? DEV_TOL_F32 : DEV_TOL_16;
    for (int dv = 0; dv < clmp_test_ndevs; dv++) {
      if (clmp_test_is_ref(&clmp_test_devs[dv])) continue;
      float *o = NULL, *g = NULL;
      size_t m = 0;
      run_once(clmp_test_devs[dv].ctx, ALL_KINDS, dts[k], &o, &g, &m);
      double eo = rel_diff(o, ro, BATCH * 3), eg = rel_diff(g, rg, n);
      printf("\n    %s %s: output rel diff %.2e, gradients %.2e (tolerance %.0e)",
             clmp_test_devs[dv].id, clmp_dtype_name(dts[k]), eo, eg, tol);
      CU_ASSERT(m == n && eo <= tol && eg <= tol);
      free(o), free(g);
    }
    free(ro), free(rg);
  }
}

/* Two runs on one device give the same bits. */
static void test_bit_identical_reruns(void) {
  for (int dv = 0; dv < clmp_test_ndevs; dv++) {
    float *o1, *g1, *o2, *g2;
    size_t n;
    run_once(clmp_test_devs[dv].ctx, ALL_KINDS, CLMP_F16, &o1, &g1, &n);
    run_once(clmp_test_devs[dv].ctx, ALL_KINDS, CLMP_F16, &o2, &g2, &n);
    CU_ASSERT_EQUAL(memcmp(o1, o2, BATCH * 3 * sizeof *o1), 0);
    CU_ASSERT_EQUAL(memcmp(g1, g2, n * sizeof *g1), 0);
    free(o1), free(g1), free(o2), free(g2);
  }
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"the presets' sizes", test_preset_sizes},
      {"state_dict keys and shapes", test_state_dict_keys},
      {"the canonical spec is a fixed point", test_canonical_fixed_point},
      {"bad specs name the layer and the field", test_bad_specs},
      {"gradients against finite differences", test_gradients_finite_differences},
      {"accumulated gradients", test_accumulation},
      {"training and evaluation modes", test_modes},
      {"every device matches the reference", test_devices_match_reference},
      {"bit-identical reruns", test_bit_identical_reruns},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"model", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
