/* host/ref/norm.c: the reference of the batch-norm rows, channel by channel in plain loops: the
 * statistics in double (the mean, then the squared deviations from it), y and dx in double from
 * them, each output rounded once. */
#include <math.h>

#include "../ops/table.h"

/* The mean and the sum of squared deviations of channel c of x. */
static void channel_moments(const clmp_tensor *x, clmp__ncs v, size_t c, double *mean, double *m2) {
  const void *xp = clmp__tensor_host(x);
  size_t m = v.n * v.s;
  double sum = 0.0, sq = 0.0;
  for (size_t j = 0; j < m; j++) sum += clmp__load_f32(x->dtype, xp, clmp__ncs_index(v, c, j));
  *mean = sum / (double)m;
  for (size_t j = 0; j < m; j++) {
    double d = clmp__load_f32(x->dtype, xp, clmp__ncs_index(v, c, j)) - *mean;
    sq += d * d;
  }
  *m2 = sq;
}

/* y = (x - mean) * invstd * gamma + beta over channel c (x may be y). */
static void channel_normalise(const clmp_tensor *x, clmp__ncs v, size_t c, double mean,
                              double invstd, double gamma, double beta, clmp_tensor *y) {
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  for (size_t j = 0; j < v.n * v.s; j++) {
    size_t i = clmp__ncs_index(v, c, j);
    double xhat = (clmp__load_f32(x->dtype, xp, i) - mean) * invstd;
    clmp__store_f32(y->dtype, yp, i, (float)(xhat * gamma + beta));
  }
}

static double channel_value(const clmp_tensor *t, size_t c) {
  return clmp__load_f32(t->dtype, clmp__tensor_host(t), c);
}

static void channel_store(clmp_tensor *t, size_t c, double value) {
  clmp__store_f32(t->dtype, clmp__tensor_host(t), c, (float)value);
}

clmp_status clmp__ref_batch_norm_train(const clmp_tensor *x, const clmp_tensor *gamma,
                                       const clmp_tensor *beta, float momentum, float eps,
                                       clmp_tensor *running_mean, clmp_tensor *running_var,
                                       clmp_tensor *save_mean, clmp_tensor *save_invstd,
                                       clmp_tensor *y) {
  clmp__ncs v = clmp__ncs_of(x);
  double m = (double)(v.n * v.s);
  for (size_t c = 0; c < v.c; c++) {
    double mean = 0.0, m2 = 0.0;
    channel_moments(x, v, c, &mean, &m2);
    double invstd = 1.0 / sqrt(m2 / m + (double)eps);
    channel_store(save_mean, c, mean);
    channel_store(save_invstd, c, invstd);
    if (running_mean) {
      double keep = 1.0 - (double)momentum;
      channel_store(running_mean, c, keep * channel_value(running_mean, c) + momentum * mean);
      channel_store(running_var, c,
                    keep * channel_value(running_var, c) + momentum * (m2 / (m - 1.0)));
    }
    channel_normalise(x, v, c, mean, invstd, channel_value(gamma, c), channel_value(beta, c), y);
  }
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,
                                      const clmp_tensor *beta, const clmp_tensor *running_mean,
                                      const clmp_tensor *running_var, float eps, clmp_tensor *y) {
  clmp__ncs v = clmp__ncs_of(x);
  for (size_t c = 0; c < v.c; c++) {
    double invstd = 1.0 / sqrt(channel_value(running_var, c) + (double)eps);
    channel_normalise(x, v, c, channel_value(running_mean, c), invstd, channel_value(gamma, c),
                      channel_value(beta, c), y);
  }
  return CLMP_SUCCESS;
}

/* From the forward's saves: sum dy and sum dy (x - mean) over channel c, then dx over it:
 * gamma invstd (dy - sum dy / M - (x - mean) invstd^2 sum dy (x - mean) / M). dx may be dy. */
clmp_status clmp__ref_batch_norm_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                          const clmp_tensor *gamma, const clmp_tensor *save_mean,
                                          const clmp_tensor *save_invstd, float acc,
                                          clmp_tensor *dgamma, clmp_tensor *dbeta,
                                          clmp_tensor *dx) {
  clmp__ncs v = clmp__ncs_of(x);
  const void *xp = clmp__tensor_host(x), *gp = clmp__tensor_host(dy);
  void *dxp = clmp__tensor_host(dx);
  size_t m = v.n * v.s;
  for (size_t c = 0; c < v.c; c++) {
    double mean = channel_value(save_mean, c), invstd = channel_value(save_invstd, c);
    double s_dy = 0.0, s_dxm = 0.0;
    for (size_t j = 0; j < m; j++) {
      size_t i = clmp__ncs_index(v, c, j);
      double g = clmp__load_f32(dy->dtype, gp, i);
      s_dy += g;
      s_dxm += g * (clmp__load_f32(x->dtype, xp, i) - mean);
    }
    double db = s_dy, dg = s_dxm * invstd;
    if (acc != 0.0f) db += acc * channel_value(dbeta, c), dg += acc * channel_value(dgamma, c);
    channel_store(dbeta, c, db);
    channel_store(dgamma, c, dg);
    double scale = invstd * channel_value(gamma, c), proj = s_dxm / (double)m * invstd * invstd;
    for (size_t j = 0; j < m; j++) {
      size_t i = clmp__ncs_index(v, c, j);
      double xm = clmp__load_f32(x->dtype, xp, i) - mean, g = clmp__load_f32(dy->dtype, gp, i);
      clmp__store_f32(dx->dtype, dxp, i, (float)((g - s_dy / (double)m - xm * proj) * scale));
    }
  }
  return CLMP_SUCCESS;
}
