/* host/nn/trainer.c: the training loop of any model: the dataset resident on the device,
 * minibatches gathered there from a shuffled index, forward, loss, backward and the fused
 * optimizer step queued with no host wait, and a per-step log (loss, scaler state) read once at
 * the end of each epoch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/error.h"
#include "../runtime/util.h"
#include "../io/dataset.h"
#include "trainer_impl.h"

#define STATE_BYTES sizeof(clmp__amp_state)
/* Backing off from 65536 to 1 takes 16 skipped steps; 100 in a row means no scale will do. */
#define DEFAULT_MAX_SKIPPED 100
#define EPOCH_SALT          0xa0761d6478bd642full
#define PI                  3.14159265358979323846

void clmp_train_config_default(clmp_train_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->data_dir = CLMP_DEFAULT_DATA_DIR;
  c->precision = CLMP_PRECISION_FP16;
  c->model = "mlp";
  c->epochs = 10, c->batch = 128, c->accum = 1;
  c->schedule = CLMP_SCHEDULE_COSINE; /* +1.3 points over constant lr at 10 epochs (README) */
  clmp_optim_config_default(&c->optim, CLMP_ADAMW);
  clmp_scaler_config_default(&c->scaler);
  c->seed = 1;
  c->max_skipped = DEFAULT_MAX_SKIPPED;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static clmp_status check_config(const clmp_train_config *c) {
  const char *bad = NULL;
  if (!c->data_dir)
    bad = "data_dir (NULL)";
  else if ((unsigned)c->precision > CLMP_PRECISION_FP32)
    bad = "precision";
  else if (c->epochs < 1)
    bad = "epochs (>= 1)";
  else if (c->accum < 1 || c->batch < (size_t)c->accum || c->batch % (size_t)c->accum)
    bad = "batch / accum (batch a positive multiple of accum)";
  else if ((unsigned)c->schedule > CLMP_SCHEDULE_LINEAR || c->warmup_steps < 0)
    bad = "schedule";
  if (bad) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_create: bad %s", bad);
  /* Before the dataset is loaded, so that a bad option fails at once. */
  clmp_status st = clmp__optim_config_check(&c->optim, "clmp_trainer_create", "optim.");
  return st ? st : clmp__scaler_config_check(&c->scaler, "clmp_trainer_create", "scaler.");
}

static clmp_dtype precision_dtype(clmp_precision p) {
  return p == CLMP_PRECISION_FP16 ? CLMP_F16 : p == CLMP_PRECISION_BF16 ? CLMP_BF16 : CLMP_F32;
}

/* The model of the spec on the source's examples, its output the classes' logits. */
static clmp_model_config model_config(const clmp_train_config *c, size_t micro,
                                      const clmp__source *s) {
  clmp_model_config mc = {c->model, precision_dtype(c->precision), micro, s->ndim, {0}, s->classes,
                          c->seed};
  for (int i = 0; i < s->ndim; i++) mc.input[i] = s->shape[i];
  return mc;
}

static clmp_status make_model(clmp_trainer *t) {
  clmp_model_config mc = model_config(&t->cfg, t->micro, t->train);
  clmp_status st = clmp_model_create(t->ctx, &mc, &t->model);
  t->cfg.model = NULL; /* the caller's text: the model keeps its canonical spec */
  return st;
}

static clmp_status make_amp(clmp_trainer *t) {
  clmp_scaler_config sc = t->cfg.scaler;
  if (t->cfg.precision != CLMP_PRECISION_FP16) sc.mode = CLMP_SCALE_OFF;
  clmp_status st = clmp_scaler_create(t->ctx, &sc, &t->scaler);
  if (st == CLMP_SUCCESS)
    st = clmp_optim_create(&t->cfg.optim, clmp_model_master(t->model), clmp_model_grads(t->model),
                           clmp_model_working(t->model), t->scaler, &t->optim);
  return st;
}

static clmp_status make_tensor(clmp_ctx *ctx, clmp_dtype d, size_t a, size_t b, clmp_tensor **o) {
  size_t shape[2] = {a, b};
  return clmp_tensor_create(ctx, d, b ? 2 : 1, shape, o);
}

/* The per-epoch buffers: index, labels, the step log, the test set's identity index. */
static clmp_status make_buffers(clmp_trainer *t) {
  size_t micro_steps = t->steps_per_epoch * (size_t)t->cfg.accum;
  clmp_status st = make_tensor(t->ctx, CLMP_I32, t->train->n, 0, &t->perm);
  if (st == CLMP_SUCCESS) st = make_tensor(t->ctx, CLMP_I32, t->micro, 1, &t->labels);
  if (st == CLMP_SUCCESS) st = make_tensor(t->ctx, CLMP_F32, 1, 0, &t->scale_eff);
  if (st == CLMP_SUCCESS) st = make_tensor(t->ctx, CLMP_F32, micro_steps, 0, &t->loss_log);
  if (st == CLMP_SUCCESS)
    st = make_tensor(t->ctx, CLMP_U8, t->steps_per_epoch * STATE_BYTES, 0, &t->state_log);
  if (st == CLMP_SUCCESS) st = make_tensor(t->ctx, CLMP_I32, 1, 0, &t->count);
  if (st == CLMP_SUCCESS) st = make_tensor(t->ctx, CLMP_I32, t->test->n, 0, &t->test_idx);
  if (st == CLMP_SUCCESS)
    st = make_tensor(t->ctx, precision_dtype(t->cfg.precision), t->micro, CLMP__CLASSES,
                     &t->dlogits);
  int32_t *ids = st == CLMP_SUCCESS ? malloc(t->test->n * sizeof *ids) : NULL;
  if (st == CLMP_SUCCESS && !ids) st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "test index");
  for (size_t i = 0; ids && i < t->test->n; i++) ids[i] = (int32_t)i;
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(t->test_idx, CLMP_I32, ids, t->test->n);
  free(ids);
  return st;
}

static clmp_status load_data(clmp_trainer *t) {
  const clmp_train_config *c = &t->cfg;
  clmp_status st = clmp__image_source_load(t->ctx, c->data_dir, "train", c->train_limit,
                                           CLMP__CLASSES, &t->train);
  if (st == CLMP_SUCCESS)
    st = clmp__image_source_load(t->ctx, c->data_dir, "t10k", c->test_limit, CLMP__CLASSES,
                                 &t->test);
  return st;
}

/* The batch sizes, steps and input transform of the loaded datasets. */
static clmp_status size_run(clmp_trainer *t) {
  const clmp_train_config *c = &t->cfg;
  const clmp__source *tr = t->train, *te = t->test;
  if (te->ndim != tr->ndim || memcmp(te->shape, tr->shape, sizeof te->shape) ||
      te->classes != tr->classes)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "dataset %s: test examples of %zu x %zu x %zu, training %zu x %zu x %zu",
                     c->data_dir, te->shape[0], te->shape[1], te->shape[2], tr->shape[0],
                     tr->shape[1], tr->shape[2]);
  t->micro = c->batch / (size_t)c->accum;
  t->steps_per_epoch = tr->n / c->batch; /* the last partial batch is dropped */
  if (t->steps_per_epoch == 0)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "clmp_trainer_create: batch %zu is larger than the %zu examples", c->batch,
                     tr->n);
  /* x = (pixel / 255 - mean) / std, as one multiply-add on the raw pixel. */
  t->in_scale = (float)(1.0 / (255.0 * tr->std));
  t->in_shift = (float)(-tr->mean / tr->std);
  t->train->scale = t->test->scale = t->in_scale; /* the training set's statistics, for both */
  t->train->shift = t->test->shift = t->in_shift;
  t->total_steps = t->steps_per_epoch * (uint64_t)c->epochs;
  return CLMP_SUCCESS;
}

clmp_status clmp__trainer_create(clmp_ctx *ctx, const clmp_train_config *cfg,
                                 clmp_status (*load)(clmp_trainer *t), clmp_trainer **out) {
  if (!ctx || !cfg || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_create");
  *out = NULL;
  clmp_status st = check_config(cfg);
  if (st != CLMP_SUCCESS) return st;
  clmp_trainer *t = calloc(1, sizeof *t);
  if (!t) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_trainer_create");
  t->ctx = ctx, t->cfg = *cfg;
  CLMP_TRY(load(t));
  CLMP_TRY(size_run(t));
  CLMP_TRY(make_model(t));
  CLMP_TRY(make_amp(t));
  CLMP_TRY(make_buffers(t));
  *out = t;
  t = NULL;
cleanup:
  clmp_trainer_free(t);
  return st;
}

clmp_status clmp_trainer_create(clmp_ctx *ctx, const clmp_train_config *cfg, clmp_trainer **out) {
  return clmp__trainer_create(ctx, cfg, load_data, out);
}

void clmp_trainer_free(clmp_trainer *t) {
  if (!t) return;
  clmp_tensor *bufs[] = {t->perm,     t->test_idx,  t->labels, t->scale_eff,
                         t->loss_log, t->state_log, t->count,  t->dlogits};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) clmp_tensor_free(bufs[i]);
  clmp_optim_free(t->optim);
  clmp_scaler_free(t->scaler);
  clmp_model_free(t->model);
  clmp__source_free(t->train);
  clmp__source_free(t->test);
  free(t);
}

clmp_model *clmp_trainer_model(const clmp_trainer *t) {
  return t ? t->model : NULL;
}

void clmp_trainer_transform(const clmp_trainer *t, float *scale, float *shift) {
  if (t && scale) *scale = t->in_scale;
  if (t && shift) *shift = t->in_shift;
}

/* The learning rate of a step: linear warmup, then constant, cosine or linear decay to 0. */
static float learning_rate(const clmp_trainer *t, uint64_t step) {
  double base = t->cfg.optim.lr, warm = (double)t->cfg.warmup_steps;
  if (step < (uint64_t)t->cfg.warmup_steps) return (float)(base * (double)(step + 1) / warm);
  double span = (double)t->total_steps - warm, done = ((double)step - warm) / (span > 0 ? span : 1);
  if (t->cfg.schedule == CLMP_SCHEDULE_COSINE) return (float)(base * 0.5 * (1 + cos(PI * done)));
  if (t->cfg.schedule == CLMP_SCHEDULE_LINEAR) return (float)(base * (1 - done));
  return (float)base;
}

/* The epoch's order of the training examples, from the seed and the epoch alone. */
static clmp_status shuffle(clmp_trainer *t) {
  size_t n = t->train->n;
  int32_t *p = malloc(n * sizeof *p);
  if (!p) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "shuffling %zu examples", n);
  uint64_t s = t->cfg.seed ^ (EPOCH_SALT * (uint64_t)(t->epoch + 1));
  for (size_t i = 0; i < n; i++) p[i] = (int32_t)i;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = (size_t)(clmp__splitmix64(&s) % (i + 1));
    int32_t tmp = p[i];
    p[i] = p[j], p[j] = tmp;
  }
  clmp_status st = clmp_tensor_write(t->perm, CLMP_I32, p, n);
  free(p);
  return st;
}

/* A 1-D view of n elements at element offset off. */
static clmp_status slice(clmp_tensor *t, size_t off, size_t n, clmp_tensor **out) {
  clmp_dtype d = clmp_tensor_dtype(t);
  return clmp_tensor_view(t, off * clmp_dtype_size(d), d, 1, &n, out);
}

/* The first rows of a [rows_max, cols] buffer. */
static clmp_status head(clmp_tensor *t, size_t rows, clmp_tensor **out) {
  size_t shape[2] = {rows, clmp_tensor_dim(t, 1)};
  return clmp_tensor_view(t, 0, clmp_tensor_dtype(t), 2, shape, out);
}

/* Gathers examples idx[off .. off + rows) of source d into the model's input and the labels
 * buffer; *labels receives a view of the labels (freed by the caller). */
static clmp_status gather_batch(clmp_trainer *t, const clmp__source *d, clmp_tensor *idx,
                                size_t off, size_t rows, clmp_tensor **labels) {
  clmp_tensor *iv = NULL, *xv = NULL;
  clmp_status st = slice(idx, off, rows, &iv);
  if (st == CLMP_SUCCESS) st = head(clmp_model_input(t->model), rows, &xv);
  if (st == CLMP_SUCCESS) st = head(t->labels, rows, labels);
  if (st == CLMP_SUCCESS) st = d->ops->gather(d, iv, xv, *labels);
  clmp_tensor_free(iv), clmp_tensor_free(xv);
  return st;
}

/* One micro-batch: gather, forward, loss into the log, the loss's gradient times the scale,
 * backward (accumulating after the first). The forward's counter (dropout's masks) is the
 * micro-batch's index in the whole run, so a resumed run draws the same masks. */
static clmp_status micro_step(clmp_trainer *t, size_t off, size_t log_at, int accumulate,
                              const clmp_tensor *scale) {
  clmp_tensor *labels = NULL, *loss = NULL;
  const clmp_tensor *logits = NULL;
  uint64_t rng = t->step_total * (uint64_t)t->cfg.accum + log_at % (size_t)t->cfg.accum;
  clmp_status st = gather_batch(t, t->train, t->perm, off, t->micro, &labels);
  if (st == CLMP_SUCCESS) st = clmp_model_forward(t->model, t->micro, 1, rng, &logits);
  if (st == CLMP_SUCCESS) st = slice(t->loss_log, log_at, 1, &loss);
  if (st == CLMP_SUCCESS) st = clmp_softmax_xent(logits, labels, loss);
  if (st == CLMP_SUCCESS) st = clmp_softmax_xent_backward(logits, labels, scale, t->dlogits);
  if (st == CLMP_SUCCESS) st = clmp_model_backward(t->model, t->dlogits, accumulate);
  clmp_tensor_free(labels), clmp_tensor_free(loss);
  return st;
}

/* One optimizer step: accum micro-batches, the scaler's state logged, the fused update. */
static clmp_status train_step(clmp_trainer *t, size_t s) {
  size_t accum = (size_t)t->cfg.accum;
  const clmp_tensor *scale = clmp_scaler_scale(t->scaler);
  clmp_status st = CLMP_SUCCESS;
  if (accum > 1) {
    st = clmp_scale(1.0f / (float)accum, scale, t->scale_eff);
    scale = t->scale_eff;
  }
  for (size_t k = 0; st == CLMP_SUCCESS && k < accum; k++)
    st = micro_step(t, (s * accum + k) * t->micro, s * accum + k, k > 0, scale);
  clmp_tensor *logged = NULL;
  if (st == CLMP_SUCCESS) st = slice(t->state_log, s * STATE_BYTES, STATE_BYTES, &logged);
  if (st == CLMP_SUCCESS) st = clmp_tensor_copy(logged, t->scaler->state);
  clmp_tensor_free(logged);
  if (st == CLMP_SUCCESS) st = clmp_optim_step(t->optim, learning_rate(t, t->step_total));
  return st;
}

/* The test set's accuracy in percent: one read at the end. */
static clmp_status evaluate(clmp_trainer *t, double *accuracy) {
  clmp_status st = clmp_fill(t->count, 0.0f);
  for (size_t off = 0; st == CLMP_SUCCESS && off < t->test->n; off += t->micro) {
    size_t rows = t->test->n - off < t->micro ? t->test->n - off : t->micro;
    clmp_tensor *labels = NULL;
    const clmp_tensor *logits = NULL;
    st = gather_batch(t, t->test, t->test_idx, off, rows, &labels);
    if (st == CLMP_SUCCESS) st = clmp_model_forward(t->model, rows, 0, 0, &logits);
    if (st == CLMP_SUCCESS) st = clmp_correct_count(logits, labels, t->count);
    clmp_tensor_free(labels);
  }
  int32_t correct = 0;
  if (st == CLMP_SUCCESS) st = clmp_tensor_read(t->count, CLMP_I32, &correct, 1);
  *accuracy = 100.0 * (double)correct / (double)t->test->n;
  return st;
}

typedef struct epoch_log {
  float *loss;
  clmp__amp_state *state;
} epoch_log;

static clmp_status read_log(clmp_trainer *t, epoch_log *log) {
  size_t micro_steps = t->steps_per_epoch * (size_t)t->cfg.accum;
  log->loss = malloc(micro_steps * sizeof *log->loss);
  log->state = malloc(t->steps_per_epoch * STATE_BYTES);
  if (!log->loss || !log->state) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "epoch log");
  clmp_status st = clmp_tensor_read(t->loss_log, CLMP_F32, log->loss, micro_steps);
  if (st == CLMP_SUCCESS)
    st = clmp_tensor_read(t->state_log, CLMP_U8, log->state, t->steps_per_epoch * STATE_BYTES);
  return st;
}

/* The epoch's per-step records and its mean loss; after is the state at the epoch's end. */
static double summarise(const clmp_trainer *t, const epoch_log *log, const clmp_scaler_state *after,
                        uint64_t first_step, void (*record)(const clmp_step_record *, void *),
                        void *user) {
  size_t accum = (size_t)t->cfg.accum;
  double total = 0;
  for (size_t s = 0; s < t->steps_per_epoch; s++) {
    double loss = 0;
    for (size_t k = 0; k < accum; k++) loss += log->loss[s * accum + k];
    total += loss;
    uint32_t next_skipped = s + 1 < t->steps_per_epoch ? log->state[s + 1].skipped : after->skipped;
    clmp_step_record r = {first_step + s,
                          t->epoch + 1,
                          (float)(loss / (double)accum),
                          log->state[s].scale,
                          learning_rate(t, first_step + s),
                          next_skipped != log->state[s].skipped};
    if (record) record(&r, user);
  }
  return total / (double)(t->steps_per_epoch * accum);
}

/* The longest run of consecutive skipped steps, continuing the run the last epoch ended with. */
static uint32_t longest_skip_run(clmp_trainer *t, const epoch_log *log,
                                 const clmp_scaler_state *after) {
  uint32_t run = t->skip_run, longest = run;
  for (size_t s = 0; s < t->steps_per_epoch; s++) {
    uint32_t next = s + 1 < t->steps_per_epoch ? log->state[s + 1].skipped : after->skipped;
    run = next != log->state[s].skipped ? run + 1 : 0;
    longest = run > longest ? run : longest;
  }
  t->skip_run = run;
  return longest;
}

/* Whether the master weights, their working copy and the buffers are all finite. An update can
 * overflow them (a learning rate far too large) from finite gradients, which the scaler never
 * sees; every later step would then be skipped. One read. */
static clmp_status weights_finite(clmp_trainer *t, int *finite) {
  int32_t flag = 0;
  clmp_tensor *buffers = clmp_model_buffers(t->model);
  clmp_status st = clmp_fill(t->count, 0.0f);
  if (st == CLMP_SUCCESS) st = clmp_nonfinite_check(clmp_model_master(t->model), t->count);
  if (st == CLMP_SUCCESS) st = clmp_nonfinite_check(clmp_model_working(t->model), t->count);
  if (st == CLMP_SUCCESS && buffers) st = clmp_nonfinite_check(buffers, t->count);
  if (st == CLMP_SUCCESS) st = clmp_tensor_read(t->count, CLMP_I32, &flag, 1);
  *finite = flag == 0;
  return st;
}

/* The end of an epoch: training stops when the weights are no longer finite, or after
 * max_skipped consecutive skipped steps; else the test set is evaluated. */
static clmp_status end_epoch(clmp_trainer *t, const epoch_log *log, const clmp_scaler_state *after,
                             clmp_epoch_stats *out) {
  int finite = 1;
  uint32_t run = longest_skip_run(t, log, after);
  clmp_status st = weights_finite(t, &finite);
  if (st != CLMP_SUCCESS) return st;
  if (!finite)
    return CLMP_FAIL(CLMP_ERR_NON_FINITE,
                     "training stopped in epoch %d: an update made the weights inf or NaN (is the "
                     "learning rate too large?); %u consecutive steps skipped, loss scale now %g",
                     t->epoch + 1, t->skip_run, (double)after->scale);
  if (t->cfg.max_skipped && run >= t->cfg.max_skipped)
    return CLMP_FAIL(CLMP_ERR_NON_FINITE,
                     "training stopped in epoch %d: %u consecutive steps skipped for non-finite "
                     "gradients (loss scale now %g)",
                     t->epoch + 1, run, (double)after->scale);
  return evaluate(t, &out->test_accuracy);
}

static clmp_status run_steps(clmp_trainer *t, void (*progress)(size_t, size_t, void *),
                             void *user) {
  clmp_status st = shuffle(t);
  for (size_t s = 0; st == CLMP_SUCCESS && s < t->steps_per_epoch; s++) {
    st = train_step(t, s);
    t->step_total++;
    if (progress) progress(s + 1, t->steps_per_epoch, user);
  }
  return st;
}

clmp_status clmp_trainer_epoch(clmp_trainer *t, void (*progress)(size_t, size_t, void *),
                               void (*record)(const clmp_step_record *, void *), void *user,
                               clmp_epoch_stats *out) {
  if (!t || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_epoch: NULL");
  if (t->step_in_epoch)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_epoch: %zu steps into an epoch",
                     t->step_in_epoch);
  uint64_t first_step = t->step_total;
  double t0 = now();
  epoch_log log = {NULL, NULL};
  clmp_scaler_state after;
  clmp_status st = run_steps(t, progress, user);
  if (st == CLMP_SUCCESS) st = read_log(t, &log);
  if (st == CLMP_SUCCESS) st = clmp_scaler_read(t->scaler, &after);
  double t1 = now();
  if (st == CLMP_SUCCESS) {
    *out = (clmp_epoch_stats){.epoch = t->epoch + 1,
                              .steps = t->steps_per_epoch,
                              .step_total = t->step_total,
                              .seconds = t1 - t0,
                              .loss_scale = after.scale,
                              .skipped_total = after.skipped};
    out->train_loss = summarise(t, &log, &after, first_step, record, user);
    out->images_per_s = (double)(t->steps_per_epoch * t->cfg.batch) / (t1 - t0);
    out->skipped = after.skipped - t->skipped_total;
    t->skipped_total = after.skipped;
    st = end_epoch(t, &log, &after, out);
  }
  t->epoch++;
  free(log.loss), free(log.state);
  return st;
}

/* The mean loss of step s's micro-batches (a blocking read). */
static clmp_status step_loss(clmp_trainer *t, size_t s, float *loss) {
  size_t n = (size_t)t->cfg.accum;
  float *v = malloc(n * sizeof *v);
  clmp_tensor *view = NULL;
  clmp_status st =
      v ? slice(t->loss_log, s * n, n, &view) : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "step loss");
  if (st == CLMP_SUCCESS) st = clmp_tensor_read(view, CLMP_F32, v, n);
  double sum = 0;
  for (size_t k = 0; st == CLMP_SUCCESS && k < n; k++) sum += v[k];
  *loss = (float)(sum / (double)n);
  clmp_tensor_free(view);
  free(v);
  return st;
}

clmp_status clmp_trainer_step(clmp_trainer *t, float *loss) {
  if (!t) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_step: NULL trainer");
  size_t s = t->step_in_epoch;
  clmp_status st = s == 0 ? shuffle(t) : CLMP_SUCCESS;
  if (st == CLMP_SUCCESS) st = train_step(t, s);
  if (st != CLMP_SUCCESS) return st;
  t->step_total++;
  if (loss) st = step_loss(t, s, loss);
  if (++t->step_in_epoch == t->steps_per_epoch) t->step_in_epoch = 0, t->epoch++;
  return st;
}
