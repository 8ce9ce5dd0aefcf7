/* tools/clmp/train_check.c: `clmp train --check N`: the device and the CPU reference trained side
 * by side from the same initial weights and batches; per step, the largest relative differences
 * in loss and in the master weights, failing beyond the stated tolerances. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

/* Both sides round to 16 bits at the same points but may sum in another order, so an activation
 * can differ by one 16-bit ulp; Adam's normalised update turns any difference in a gradient near
 * zero into up to 2 lr for that weight. So weights are compared in norm, ||dev - ref|| / ||ref||
 * (the largest single difference is printed too); the tolerances bound the drift of a short
 * check, per precision. */
#define LOSS_TOL_FP32   1e-4
#define LOSS_TOL_16     2e-2
#define WEIGHT_TOL_FP32 1e-4
#define WEIGHT_TOL_16   2e-2

typedef struct side {
  clmp_ctx *ctx;
  clmp_trainer *t;
  float *w;
} side;

/* ||a - b|| / ||b|| and max |a - b|. */
static double weight_diff(const float *a, const float *b, size_t n, double *max_abs) {
  double diff = 0, norm = 0;
  *max_abs = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    diff += d * d, norm += (double)b[i] * b[i];
    *max_abs = fmax(*max_abs, fabs(d));
  }
  return norm > 0 ? sqrt(diff / norm) : sqrt(diff);
}

static clmp_status open_side(const char *device, const clmp_train_config *cfg, side *s) {
  clmp_status st = clmp_ctx_create(device, &s->ctx);
  if (st == CLMP_SUCCESS) st = clmp_trainer_create(s->ctx, cfg, &s->t);
  size_t n = st == CLMP_SUCCESS ? clmp_model_params(clmp_trainer_model(s->t)) : 0;
  if (st == CLMP_SUCCESS && !(s->w = malloc(n * sizeof *s->w))) st = CLMP_ERR_OUT_OF_HOST_MEMORY;
  return st;
}

static void close_side(side *s) {
  clmp_trainer_free(s->t);
  clmp_ctx_free(s->ctx);
  free(s->w);
}

static clmp_status step_side(side *s, float *loss) {
  clmp_status st = clmp_trainer_step(s->t, loss);
  clmp_model *m = clmp_trainer_model(s->t);
  return st ? st : clmp_tensor_read(clmp_model_master(m), CLMP_F32, s->w, clmp_model_params(m));
}

static int compare_steps(side *dev, side *ref, int steps, double loss_tol, double weight_tol) {
  int failed = 0;
  for (int k = 1; k <= steps; k++) {
    float ld = 0, lr = 0;
    clmp_status st = clmp_trainer_sync(ref->t, dev->t);
    if (st == CLMP_SUCCESS) st = step_side(dev, &ld);
    if (st == CLMP_SUCCESS) st = step_side(ref, &lr);
    if (st != CLMP_SUCCESS) return cli_fail("train", st, "--check step");
    double dl = fabs((double)ld - lr) / fmax(fabs((double)lr), 1e-12);
    double max_abs = 0;
    double dw =
        weight_diff(dev->w, ref->w, clmp_model_params(clmp_trainer_model(ref->t)), &max_abs);
    int ok = dl <= loss_tol && dw <= weight_tol && isfinite(ld) == isfinite(lr);
    failed += !ok;
    printf("step %4d  loss device %.6f  reference %.6f  rel diff %.2e  weights rel diff %.2e "
           "(max abs %.1e)  %s\n",
           k, (double)ld, (double)lr, dl, dw, max_abs, ok ? "ok" : "FAIL");
  }
  return failed;
}

int cli_train_check(const char *device, const clmp_train_config *cfg, int steps) {
  side dev = {0}, ref = {0};
  int fp32 = cfg->precision == CLMP_PRECISION_FP32;
  double loss_tol = fp32 ? LOSS_TOL_FP32 : LOSS_TOL_16;
  double weight_tol = fp32 ? WEIGHT_TOL_FP32 : WEIGHT_TOL_16;
  clmp_status st = open_side(device, cfg, &dev);
  if (st == CLMP_SUCCESS) st = open_side("ref", cfg, &ref);
  int rc = CLI_OK;
  if (st != CLMP_SUCCESS)
    rc = cli_fail("train", st, "--check setup");
  else {
    printf("clmp train --check %d: %s against the reference; tolerances: loss %.0e, weights %.0e "
           "(relative)\n",
           steps, clmp_ctx_device(dev.ctx)->name, loss_tol, weight_tol);
    int failed = compare_steps(&dev, &ref, steps, loss_tol, weight_tol);
    if (failed > 0) printf("%d of %d steps beyond tolerance\n", failed, steps);
    rc = failed ? CLI_FAILED : CLI_OK;
  }
  close_side(&dev), close_side(&ref);
  return rc;
}
