/* tools/clmp/bench_train.c: the train section: images per second of clmp's trainer (the mlp and
 * cnn presets, batch 128, AdamW lr 1e-3 constant, data on the device) in fp16, bf16 and fp32, on
 * synthetic images of Fashion-MNIST's shape written as IDX files (or the real data with --data):
 * a warm-up, then whole chunks of steps until TRAIN_SECONDS have passed, each chunk ended by
 * clmp_ctx_finish. With --torch, PyTorch's rate for the same model and precision is the
 * reference (its fp32 rate where it has no such mode). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench.h"

#define SIDE               28
#define CLASSES            10
#define TRAIN_IMAGES       8192 /* 64 steps an epoch */
#define BATCH              128
#define TRAIN_IMAGES_QUICK 512
#define TEST_IMAGES        128
#define WARMUP_STEPS       10
#define CHUNK_STEPS        16
#define QUICK_STEPS        2  /* --quick: one warm-up step, then one chunk of this many */
#define QUICK_BATCH        16 /* --quick: a smoke run, whose figures mean nothing */
#define TRAIN_SECONDS      3.0
#define TRAIN_SEED         0x5eedull
#define PATH_MAX_LEN       4400

static const struct {
  clmp_precision p;
  const char *name;
} precisions[] = {
    {CLMP_PRECISION_FP16, "fp16"}, {CLMP_PRECISION_BF16, "bf16"}, {CLMP_PRECISION_FP32, "fp32"}};
#define N_PREC (sizeof precisions / sizeof *precisions)

/* The models, and the list of bench_torch.py's document that holds PyTorch's rows for each. */
static const struct {
  const char *spec, *torch_list, *description;
} models[] = {{"mlp", "train", "MLP 784-512-256-10, batch 128, AdamW lr 1e-3"},
              {"cnn", "train_cnn",
               "CNN conv32-bn-relu-pool-conv64-bn-relu-pool-fc128-fc10, batch 128, AdamW lr 1e-3"}};
#define N_MODELS (sizeof models / sizeof *models)

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* An IDX file of unsigned bytes: magic, dims (big-endian), data. */
static int write_idx(const char *path, const uint8_t *data, int ndim, const uint32_t *dims) {
  uint8_t head[16] = {0, 0, 0x08, (uint8_t)ndim};
  size_t n = 1;
  for (int i = 0; i < ndim; i++) put_u32(head + 4 + 4 * i, dims[i]), n *= dims[i];
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(head, 1, 4 + 4 * (size_t)ndim, f) == 4 + 4 * (size_t)ndim &&
           fwrite(data, 1, n, f) == n;
  return f && fclose(f) == 0 && ok ? 0 : -1;
}

/* n random images and labels as dir/<prefix>-images-idx3-ubyte and -labels-idx1-ubyte. */
static int write_split(const char *dir, const char *prefix, uint32_t n) {
  uint8_t *img = malloc((size_t)n * SIDE * SIDE), *lab = malloc(n);
  uint64_t s = TRAIN_SEED ^ n;
  for (size_t i = 0; img && lab && i < (size_t)n * SIDE * SIDE; i++) {
    img[i] = (uint8_t)(bench_random(&s) >> 56);
    if (i % (SIDE * SIDE) == 0) lab[i / (SIDE * SIDE)] = (uint8_t)((s >> 33) % CLASSES);
  }
  char path[PATH_MAX_LEN];
  uint32_t idims[3] = {n, SIDE, SIDE};
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
  int rc = img && lab ? write_idx(path, img, 3, idims) : -1;
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
  if (rc == 0) rc = write_idx(path, lab, 1, &n);
  free(img), free(lab);
  return rc;
}

typedef struct train_rate {
  double images_per_s, seconds;
  int steps;
} train_rate;

/* Steps until the clock says stop (one chunk with --quick); the rate is timed to the finish. */
static clmp_status timed_steps(bench_run *r, clmp_trainer *t, size_t batch, train_rate *out) {
  int chunk = r->opts.quick ? QUICK_STEPS : CHUNK_STEPS, steps = 0;
  double t0 = bench_now(), dt = 0;
  clmp_status st = CLMP_SUCCESS;
  do {
    for (int i = 0; st == CLMP_SUCCESS && i < chunk; i++, steps++) st = clmp_trainer_step(t, NULL);
    if (st == CLMP_SUCCESS) st = clmp_ctx_finish(r->ctx);
    dt = bench_now() - t0;
  } while (st == CLMP_SUCCESS && !r->opts.quick && dt < TRAIN_SECONDS);
  *out = (train_rate){(double)steps * (double)batch / dt, dt, steps};
  return st;
}

static clmp_status measure(bench_run *r, const char *data_dir, const char *spec, clmp_precision p,
                           train_rate *out) {
  clmp_train_config cfg;
  clmp_train_config_default(&cfg);
  cfg.data_dir = data_dir, cfg.precision = p, cfg.schedule = CLMP_SCHEDULE_CONSTANT;
  cfg.model = spec;
  cfg.batch = r->opts.quick ? QUICK_BATCH : BATCH;
  clmp_trainer *t = NULL;
  clmp_status st = clmp_trainer_create(r->ctx, &cfg, &t);
  for (int i = 0; st == CLMP_SUCCESS && i < (r->opts.quick ? 1 : WARMUP_STEPS); i++)
    st = clmp_trainer_step(t, NULL);
  if (st == CLMP_SUCCESS) st = clmp_ctx_finish(r->ctx);
  if (st == CLMP_SUCCESS) st = timed_steps(r, t, cfg.batch, out);
  clmp_trainer_free(t);
  return st;
}

/* PyTorch's row of the same model and precision, else its fp32 row. */
static const cJSON *torch_reference(const bench_run *r, const char *list, const char *precision) {
  const cJSON *t = bench_torch_row(r, list, "precision", precision, 0);
  return t ? t : bench_torch_row(r, list, "precision", "fp32", 0);
}

static void add_row(bench_run *r, cJSON *rows, size_t model, const char *name,
                    const train_rate *m) {
  const cJSON *t = torch_reference(r, models[model].torch_list, name);
  const char *label = t ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "label")) : "";
  double ref = t ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "images_per_s")) : NAN;
  double x = bench_ratio(m->images_per_s, ref);
  char ratio[16], ref_text[24];
  bench_print(r, "%-5s %-9s %6d %8.2f %12.0f   %-36s %12s %8s\n", models[model].spec, name,
              m->steps, m->seconds, m->images_per_s, label ? label : "-",
              bench_value_text(ref, 0, ref_text, sizeof ref_text),
              bench_ratio_text(x, ratio, sizeof ratio));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "model", models[model].spec);
  cJSON_AddStringToObject(o, "description", models[model].description);
  cJSON_AddNumberToObject(o, "batch", r->opts.quick ? QUICK_BATCH : BATCH);
  cJSON_AddStringToObject(o, "precision", name);
  cJSON_AddNumberToObject(o, "steps", m->steps);
  cJSON_AddNumberToObject(o, "seconds", m->seconds);
  cJSON_AddNumberToObject(o, "images_per_s", m->images_per_s);
  if (t) cJSON_AddStringToObject(o, "torch_reference", label ? label : "");
  bench_json_number(o, "torch_images_per_s", ref);
  bench_json_number(o, "ratio", x);
  cJSON_AddItemToArray(rows, o);
}

static clmp_status train_rows(bench_run *r, const char *data_dir, cJSON *out) {
  cJSON_AddStringToObject(out, "data", r->opts.data ? r->opts.data : "synthetic");
  bench_print(r, "%-5s %-9s %6s %8s %12s   %-36s %12s %8s\n", "model", "precision", "steps",
              "seconds", "images/s", "torch reference", "images/s", "ratio");
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  for (size_t k = 0; k < N_MODELS; k++)
    for (size_t i = 0; i < N_PREC; i++) {
      train_rate m;
      clmp_status st = measure(r, data_dir, models[k].spec, precisions[i].p, &m);
      if (st != CLMP_SUCCESS) return st;
      add_row(r, rows, k, precisions[i].name, &m);
    }
  return CLMP_SUCCESS;
}

clmp_status bench_train(bench_run *r, cJSON *out) {
  if (r->opts.data) return train_rows(r, r->opts.data, out);
  char dir[4096];
  uint32_t n = r->opts.quick ? TRAIN_IMAGES_QUICK : TRAIN_IMAGES;
  if (bench_temp_dir("data", dir, sizeof dir) != 0 || write_split(dir, "train", n) != 0 ||
      write_split(dir, "t10k", TEST_IMAGES) != 0) {
    fprintf(stderr, "clmp bench: cannot write the synthetic dataset under %s\n", dir);
    bench_remove_dir(dir);
    return CLMP_ERR_IO;
  }
  clmp_status st = train_rows(r, dir, out);
  bench_remove_dir(dir);
  return st;
}
