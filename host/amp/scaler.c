/* host/amp/scaler.c: the loss scaler: configuration, device state, the check pass and the
 * update, all queued through the op table (host/ops/amp.c, host/ref/amp.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "amp_impl.h"

#define DEFAULT_INIT_SCALE      65536.0f
#define DEFAULT_GROWTH_FACTOR   2.0f
#define DEFAULT_BACKOFF_FACTOR  0.5f
#define DEFAULT_GROWTH_INTERVAL 2000
#define DEFAULT_HYSTERESIS      1
#define DEFAULT_MIN_SCALE       1.0f
#define DEFAULT_MAX_SCALE       16777216.0f /* 2^24 */

void clmp_scaler_config_default(clmp_scaler_config *cfg) {
  if (!cfg) return;
  *cfg = (clmp_scaler_config){
      CLMP_SCALE_DYNAMIC,      DEFAULT_INIT_SCALE, DEFAULT_GROWTH_FACTOR, DEFAULT_BACKOFF_FACTOR,
      DEFAULT_GROWTH_INTERVAL, DEFAULT_HYSTERESIS, DEFAULT_MIN_SCALE,     DEFAULT_MAX_SCALE};
}

static int positive(float x) {
  return isfinite(x) && x > 0.0f;
}

clmp_status clmp__scaler_config_check(const clmp_scaler_config *c, const char *op,
                                      const char *prefix) {
  const char *bad = NULL;
  if ((unsigned)c->mode > CLMP_SCALE_OFF)
    bad = "mode";
  else if (!positive(c->init_scale))
    bad = "init_scale (finite, > 0)";
  else if (!(c->growth_factor >= 1.0f) || !isfinite(c->growth_factor))
    bad = "growth_factor (>= 1)";
  else if (!(c->backoff_factor > 0.0f && c->backoff_factor <= 1.0f))
    bad = "backoff_factor (0, 1]";
  else if (c->growth_interval < 1)
    bad = "growth_interval (>= 1)";
  else if (c->hysteresis < 1)
    bad = "hysteresis (>= 1)";
  else if (!positive(c->min_scale) || !positive(c->max_scale) || c->min_scale > c->max_scale)
    bad = "min_scale / max_scale (finite, 0 < min <= max)";
  if (!bad) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: bad %s%s", op, prefix, bad);
}

static clmp__scaler_params params_of(const clmp_scaler_config *c) {
  return (clmp__scaler_params){(int32_t)c->mode, c->growth_factor, c->backoff_factor,
                               c->min_scale,     c->max_scale,     c->growth_interval,
                               c->hysteresis};
}

static clmp_status write_state(clmp_scaler *s, const clmp__amp_state *st) {
  return clmp_tensor_write(s->state, CLMP_U8, st, sizeof *st);
}

clmp_status clmp_scaler_create(clmp_ctx *ctx, const clmp_scaler_config *cfg, clmp_scaler **out) {
  if (!ctx || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_scaler_create: NULL");
  *out = NULL;
  clmp_scaler_config c;
  if (cfg)
    c = *cfg;
  else
    clmp_scaler_config_default(&c);
  clmp_status st = clmp__scaler_config_check(&c, "clmp_scaler_create", "");
  if (st != CLMP_SUCCESS) return st;
  clmp_scaler *s = calloc(1, sizeof *s);
  if (!s) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_scaler_create");
  s->ctx = ctx;
  s->cfg = c;
  s->params = params_of(&c);
  size_t bytes[1] = {sizeof(clmp__amp_state)}, one[1] = {1};
  clmp__amp_state init = {
      c.mode == CLMP_SCALE_OFF ? 1.0f : c.init_scale, 0, c.hysteresis, 0, 0, 0, 0.0f, 0};
  CLMP_TRY(clmp_tensor_create(ctx, CLMP_U8, 1, bytes, &s->state));
  CLMP_TRY(clmp_tensor_view(s->state, 0, CLMP_F32, 1, one, &s->scale));
  CLMP_TRY(write_state(s, &init));
  *out = s;
  s = NULL;
cleanup:
  clmp_scaler_free(s);
  return st;
}

void clmp_scaler_free(clmp_scaler *s) {
  if (!s) return;
  clmp_tensor_free(s->scale);
  clmp_tensor_free(s->state);
  free(s);
}

const clmp_tensor *clmp_scaler_scale(const clmp_scaler *s) {
  return s ? s->scale : NULL;
}

clmp_status clmp_scaler_check(clmp_scaler *s, const clmp_tensor *grads, int want_sumsq) {
  if (!s) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_scaler_check: NULL scaler");
  clmp_status st = clmp__check_float(grads, "clmp_scaler_check", "grads");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(grads, s->state, "clmp_scaler_check");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(s->ctx)->amp_check(grads, want_sumsq != 0, s->state);
}

clmp_status clmp_scaler_update(clmp_scaler *s) {
  if (!s) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_scaler_update: NULL scaler");
  return clmp__ops_of(s->ctx)->amp_update(&s->params, s->state);
}

clmp_status clmp_scaler_read(const clmp_scaler *s, clmp_scaler_state *out) {
  if (!s || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_scaler_read: NULL");
  clmp__amp_state st;
  clmp_status rc = clmp_tensor_read(s->state, CLMP_U8, &st, sizeof st);
  if (rc != CLMP_SUCCESS) return rc;
  *out = (clmp_scaler_state){st.scale,     st.growth_tracker, st.hysteresis_left,
                             st.found_inf, st.steps,          st.skipped};
  return CLMP_SUCCESS;
}

clmp_status clmp_scaler_restore(clmp_scaler *s, const clmp_scaler_state *in) {
  if (!s || !in) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_scaler_restore: NULL");
  if (!positive(in->scale) || in->skipped > in->steps || in->growth_tracker < 0)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "clmp_scaler_restore: scale %g, %u skipped of %u steps, tracker %d",
                     (double)in->scale, in->skipped, in->steps, in->growth_tracker);
  clmp__amp_state st = {in->scale,
                        in->growth_tracker,
                        in->hysteresis_left,
                        in->found_inf,
                        in->steps,
                        in->skipped,
                        0.0f,
                        0};
  return write_state(s, &st);
}
