/* tools/clmp/cmd_train.c: `clmp train`: mixed-precision training of a model on Fashion-MNIST,
 * a line per epoch (loss, test accuracy, images/s, loss scale, skipped steps), --json at the end,
 * --metrics for a CSV row per optimizer step. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BAR_WIDTH      30
#define FMNIST_SIDE    28 /* the model's input: [1, 28, 28] images */
#define FMNIST_CLASSES 10
#define PATH_BUF       4096

typedef struct train_opts {
  const char *device, *metrics, *checkpoint, *resume, *model, *hidden;
  int json, check;
  int optimizer, lr_set, wd_set; /* the optimizer's own defaults apply unless set */
  float lr, weight_decay;
  clmp_train_config cfg;
} train_opts;

typedef struct run_state {
  FILE *metrics;
  int bar;
  int epoch;
} run_state;

static void print_help(void) {
  printf(
      "usage: clmp train [options]\n\n"
      "Trains a model on Fashion-MNIST (IDX files, gzip or not) in mixed precision: 16-bit\n"
      "weights, activations and gradients, fp32 master weights, dynamic loss scaling (fp16).\n\n"
      "  --device D          the device (default: auto; see clmp devices)\n"
      "  --data DIR          the dataset folder (default %s)\n"
      "  --precision P       fp16 (default), bf16 or fp32\n"
      "  --model SPEC        mlp (default), cnn, resnet8, or a JSON file of layers (README);\n"
      "                      with --resume, the checkpoint's model unless given\n"
      "  --hidden A,B,...    the mlp's hidden widths (default 512,256)\n"
      "  --epochs N          (default 10)       --batch N   examples per step (default 128)\n"
      "  --accum N           micro-batches per step (gradient accumulation, default 1)\n"
      "  --optimizer O       adamw (default) or sgd\n"
      "  --lr X              (default 1e-3 adamw, 1e-2 sgd)   --weight-decay X   --momentum X\n"
      "  --nesterov          SGD with Nesterov momentum\n"
      "  --schedule S        cosine (default), linear or constant; --warmup N steps\n"
      "  --clip X            clip the global gradient norm to X (default off)\n"
      "  --init-scale X      initial loss scale (default 65536)\n"
      "  --growth-interval N clean steps between growths (default 2000)\n"
      "  --hysteresis N      overflows tolerated before a backoff (default 1)\n"
      "  --static-scale X    a fixed loss scale instead of dynamic scaling\n"
      "  --seed N            initialisation and shuffling (default 1)\n"
      "  --train-limit N     use the first N training examples only; --test-limit N likewise\n"
      "  --metrics FILE      a CSV row per step: step,epoch,loss,loss_scale,overflow,lr\n"
      "  --checkpoint FILE   save a checkpoint (safetensors) after every epoch, atomically\n"
      "  --resume FILE       continue a run from its checkpoint (same model and options)\n"
      "  --max-skipped N     stop (exit status 1) after N consecutive skipped steps, checked at\n"
      "                      the end of each epoch; the last checkpoint stays (default 100, 0: "
      "never)\n"
      "  --check N           train N steps on the device and on the reference side by side and\n"
      "                      compare losses and weights at every step\n"
      "  --json              end with one JSON object of the results\n"
      "  --help              this text\n",
      CLMP_DEFAULT_DATA_DIR);
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-') return -1;
  *out = (uint64_t)v;
  return 0;
}

static int parse_size(const char *s, size_t *out) {
  uint64_t v = 0;
  if (parse_u64(s, &v) != 0 || v > SIZE_MAX) return -1;
  *out = (size_t)v;
  return 0;
}

static int parse_int(const char *s, int *out) {
  size_t v = 0;
  if (parse_size(s, &v) != 0 || v > 1000000000u) return -1;
  *out = (int)v;
  return 0;
}

static int parse_float(const char *s, float *out) {
  char *end = NULL;
  errno = 0;
  float v = strtof(s, &end);
  if (errno || end == s || *end || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static int parse_choice(const char *s, const char *const *names, int n, int *out) {
  for (int i = 0; i < n; i++)
    if (!strcmp(s, names[i])) return *out = i, 0;
  return -1;
}

/* Applies one option; returns 0, or -1 when its value is bad. */
static int apply(int c, const char *v, train_opts *o) {
  static const char *const precisions[] = {"fp16", "bf16", "fp32"};
  static const char *const schedules[] = {"constant", "cosine", "linear"};
  static const char *const optimizers[] = {"sgd", "adamw"};
  clmp_train_config *k = &o->cfg;
  int i = 0;
  switch (c) {
  case 'd': o->device = v; return 0;
  case 'D': k->data_dir = v; return 0;
  case 'p': return parse_choice(v, precisions, 3, &i) ? -1 : (k->precision = i, 0);
  case 'H': o->hidden = v; return 0;
  case 'o': o->model = v; return 0;
  case 'e': return parse_int(v, &k->epochs);
  case 'b': return parse_size(v, &k->batch);
  case 'a': return parse_int(v, &k->accum);
  case 'O': return parse_choice(v, optimizers, 2, &i) ? -1 : (o->optimizer = i, 0);
  case 'l': return o->lr_set = 1, parse_float(v, &o->lr);
  case 'w': return o->wd_set = 1, parse_float(v, &o->weight_decay);
  case 'm': return parse_float(v, &k->optim.momentum);
  case 'n': k->optim.nesterov = 1; return 0;
  case 's': return parse_choice(v, schedules, 3, &i) ? -1 : (k->schedule = (clmp_schedule)i, 0);
  case 'W': return parse_int(v, &k->warmup_steps);
  case 'c': return parse_float(v, &k->optim.clip_norm);
  case 'i': return parse_float(v, &k->scaler.init_scale);
  case 'g': return parse_int(v, &k->scaler.growth_interval);
  case 'y': return parse_int(v, &k->scaler.hysteresis);
  case 'S': k->scaler.mode = CLMP_SCALE_STATIC; return parse_float(v, &k->scaler.init_scale);
  case 'r': return parse_u64(v, &k->seed);
  case 'T': return parse_size(v, &k->train_limit);
  case 't': return parse_size(v, &k->test_limit);
  case 'M': o->metrics = v; return 0;
  case 'C': o->checkpoint = v; return 0;
  case 'R': o->resume = v; return 0;
  case 'K': return parse_int(v, &o->check) || o->check < 1 ? -1 : 0;
  case 'X': return parse_int(v, &i) ? -1 : (k->max_skipped = (uint32_t)i, 0);
  case 'j': o->json = 1; return 0;
  default: return -1;
  }
}

static const struct option OPTIONS[] = {{"device", required_argument, NULL, 'd'},
                                        {"data", required_argument, NULL, 'D'},
                                        {"precision", required_argument, NULL, 'p'},
                                        {"hidden", required_argument, NULL, 'H'},
                                        {"model", required_argument, NULL, 'o'},
                                        {"epochs", required_argument, NULL, 'e'},
                                        {"batch", required_argument, NULL, 'b'},
                                        {"accum", required_argument, NULL, 'a'},
                                        {"optimizer", required_argument, NULL, 'O'},
                                        {"lr", required_argument, NULL, 'l'},
                                        {"weight-decay", required_argument, NULL, 'w'},
                                        {"momentum", required_argument, NULL, 'm'},
                                        {"nesterov", no_argument, NULL, 'n'},
                                        {"schedule", required_argument, NULL, 's'},
                                        {"warmup", required_argument, NULL, 'W'},
                                        {"clip", required_argument, NULL, 'c'},
                                        {"init-scale", required_argument, NULL, 'i'},
                                        {"growth-interval", required_argument, NULL, 'g'},
                                        {"hysteresis", required_argument, NULL, 'y'},
                                        {"static-scale", required_argument, NULL, 'S'},
                                        {"seed", required_argument, NULL, 'r'},
                                        {"train-limit", required_argument, NULL, 'T'},
                                        {"test-limit", required_argument, NULL, 't'},
                                        {"metrics", required_argument, NULL, 'M'},
                                        {"checkpoint", required_argument, NULL, 'C'},
                                        {"resume", required_argument, NULL, 'R'},
                                        {"check", required_argument, NULL, 'K'},
                                        {"max-skipped", required_argument, NULL, 'X'},
                                        {"json", no_argument, NULL, 'j'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};

static int parse(int argc, char **argv, train_opts *o) {
  int c;
  opterr = 0;
  int li = -1;
  while ((c = getopt_long(argc, argv, ":h", OPTIONS, &li)) != -1) {
    if (c == 'h') return print_help(), 1;
    if (c == ':') return cli_usage_error("train", "option '%s' needs a value", argv[optind - 1]);
    if (c == '?') return cli_usage_error("train", "unknown option '%s'", argv[optind - 1]);
    if (apply(c, optarg, o) != 0)
      return cli_usage_error("train", "bad value '%s' for --%s", optarg ? optarg : "",
                             li >= 0 ? OPTIONS[li].name : "?");
    li = -1;
  }
  if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
  clmp_optim_config base = o->cfg.optim;
  clmp_optim_config_default(&o->cfg.optim, (clmp_optimizer)o->optimizer);
  o->cfg.optim.momentum = base.momentum, o->cfg.optim.nesterov = base.nesterov;
  o->cfg.optim.clip_norm = base.clip_norm;
  if (o->lr_set) o->cfg.optim.lr = o->lr;
  if (o->wd_set) o->cfg.optim.weight_decay = o->weight_decay;
  return 0;
}

static const char *precision_name(clmp_precision p) {
  return p == CLMP_PRECISION_FP16 ? "fp16" : p == CLMP_PRECISION_BF16 ? "bf16" : "fp32";
}

/* A progress bar on a terminal, redrawn in place; nothing otherwise. */
static void progress(size_t step, size_t steps, void *user) {
  const run_state *r = user;
  if (!r->bar || (step % 8 && step != steps)) return;
  int filled = (int)(BAR_WIDTH * step / steps);
  fprintf(stderr, "\r  epoch %d [%.*s%*s] %zu/%zu", r->epoch, filled,
          "##############################", BAR_WIDTH - filled, "", step, steps);
  if (step == steps) fprintf(stderr, "\r%*s\r", BAR_WIDTH + 40, "");
  fflush(stderr);
}

static void record(const clmp_step_record *r, void *user) {
  const run_state *rs = user;
  if (rs->metrics)
    fprintf(rs->metrics, "%llu,%d,%.6g,%.9g,%d,%.9g\n", (unsigned long long)r->step, r->epoch,
            (double)r->loss, (double)r->loss_scale, r->overflow, (double)r->lr);
}

static void print_epoch(const clmp_epoch_stats *e, int epochs) {
  printf("epoch %2d/%d  loss %.4f  test accuracy %6.2f %%  %8.0f images/s  loss scale %g  "
         "skipped %u\n",
         e->epoch, epochs, e->train_loss, e->test_accuracy, e->images_per_s, (double)e->loss_scale,
         e->skipped);
  fflush(stdout);
}

static void print_json(const train_opts *o, const clmp_device_info *d, const clmp_epoch_stats *e) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "device", d->name);
  cJSON_AddStringToObject(root, "precision", precision_name(o->cfg.precision));
  cJSON_AddNumberToObject(root, "epochs", e->epoch);
  cJSON_AddNumberToObject(root, "steps", (double)e->step_total);
  cJSON_AddNumberToObject(root, "skipped_steps", e->skipped_total);
  cJSON_AddNumberToObject(root, "loss_scale", e->loss_scale);
  cJSON_AddNumberToObject(root, "train_loss", e->train_loss);
  cJSON_AddNumberToObject(root, "test_accuracy", e->test_accuracy);
  cJSON_AddNumberToObject(root, "images_per_s", e->images_per_s);
  if (o->checkpoint)
    cJSON_AddStringToObject(root, "checkpoint", o->checkpoint);
  else
    cJSON_AddNullToObject(root, "checkpoint");
  char *text = cJSON_Print(root);
  if (text) printf("%s\n", text);
  free(text);
  cJSON_Delete(root);
}

static int train_epochs(const train_opts *o, clmp_trainer *t, const clmp_device_info *d,
                        run_state *rs) {
  clmp_epoch_stats e = {0};
  for (int i = clmp_trainer_epochs_done(t); i < o->cfg.epochs; i++) {
    rs->epoch = i + 1;
    clmp_status st = clmp_trainer_epoch(t, progress, record, rs, &e);
    if (st != CLMP_SUCCESS) return cli_fail("train", st, "training");
    if (!o->json) print_epoch(&e, o->cfg.epochs);
    if (o->checkpoint && (st = clmp_trainer_save(t, o->checkpoint)) != CLMP_SUCCESS)
      return cli_fail("train", st, "writing the checkpoint");
  }
  if (o->json) print_json(o, d, &e);
  return CLI_OK;
}

/* The checkpoint's folder exists and is writable, and the checkpoint is not a folder: checked
 * before any work, so that a mistyped path does not cost an epoch. 0, or the usage status. */
static int check_checkpoint_path(const char *path) {
  const char *slash = strrchr(path, '/'), *why = NULL;
  char dir[PATH_BUF];
  struct stat sb;
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1,
           slash ? path : ".");
  if (stat(dir, &sb) != 0)
    why = strerror(errno);
  else if (!S_ISDIR(sb.st_mode))
    why = "not a folder";
  else if (access(dir, W_OK | X_OK) != 0)
    why = strerror(errno);
  if (why)
    return cli_usage_error("train", "--checkpoint %s: cannot write in the folder %s: %s", path, dir,
                           why);
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return cli_usage_error("train", "--checkpoint %s: it is a folder", path);
  return 0;
}

/* The device, the trainer and the resumed state; on failure an exit status in *rc (a value the
 * trainer refuses is a usage error, like an option the parser refuses). */
static clmp_trainer *set_up(const train_opts *o, clmp_ctx **ctx, int *rc) {
  clmp_trainer *t = NULL;
  clmp_status st = clmp_ctx_create(o->device, ctx);
  if (st != CLMP_SUCCESS) return *rc = cli_fail("train", st, "opening the device"), NULL;
  st = clmp_trainer_create(*ctx, &o->cfg, &t);
  if (st == CLMP_ERR_INVALID_ARGUMENT)
    return cli_fail("train", st, "setting up"), *rc = CLI_USAGE, NULL;
  if (st == CLMP_SUCCESS && o->resume) st = clmp_trainer_resume(t, o->resume);
  if (st == CLMP_SUCCESS) return t;
  clmp_trainer_free(t);
  *rc = cli_fail("train", st, "setting up");
  return NULL;
}

/* Opens the metrics file, only once the run is set up: a run that fails to start leaves none. */
static int open_metrics(const train_opts *o, run_state *rs) {
  if (!o->metrics) return CLI_OK;
  if (!(rs->metrics = fopen(o->metrics, "w"))) {
    fprintf(stderr, "clmp train: cannot write %s: %s\n", o->metrics, strerror(errno));
    return CLI_FAILED;
  }
  fprintf(rs->metrics, "step,epoch,loss,loss_scale,overflow,lr\n");
  return CLI_OK;
}

/* The spec of the run, checked on the host before anything is allocated; 0 or an exit status. */
static int resolve_model(train_opts *o, char **spec, clmp_model_summary *sum) {
  int rc = cli_model_spec(o->model, o->hidden, o->resume, spec);
  if (rc) return rc;
  o->cfg.model = *spec;
  clmp_dtype d = o->cfg.precision == CLMP_PRECISION_FP16   ? CLMP_F16
                 : o->cfg.precision == CLMP_PRECISION_BF16 ? CLMP_BF16
                                                           : CLMP_F32;
  clmp_model_config mc = {
      *spec, d, o->cfg.batch, 3, {1, FMNIST_SIDE, FMNIST_SIDE}, FMNIST_CLASSES, o->cfg.seed};
  clmp_status st = clmp_model_check(&mc, sum);
  if (st == CLMP_SUCCESS) return CLI_OK;
  fprintf(stderr, "clmp train: bad model: %s\n", clmp_last_error());
  return CLI_USAGE;
}

/* How the banner names the model. */
static const char *model_name(const train_opts *o) {
  if (o->hidden) return "mlp (--hidden)";
  if (!o->model) return o->resume ? "of the checkpoint" : "mlp";
  return o->model[0] == '{' || o->model[0] == '[' ? "(JSON)" : o->model;
}

static int run(train_opts *o, const clmp_model_summary *sum) {
  run_state rs = {NULL, isatty(STDERR_FILENO) && !o->json, 0};
  clmp_ctx *ctx = NULL;
  int rc = CLI_OK;
  clmp_trainer *t = set_up(o, &ctx, &rc);
  if (t && (rc = open_metrics(o, &rs)) == CLI_OK) {
    const clmp_device_info *d = clmp_ctx_device(ctx);
    if (!o->json)
      printf("clmp train on %s (%s): %s, batch %zu, %d epochs, model %s (%zu layers, %zu "
             "parameters)\n",
             d->name, d->platform, precision_name(o->cfg.precision), o->cfg.batch, o->cfg.epochs,
             model_name(o), sum->layers, sum->params);
    rc = train_epochs(o, t, d, &rs);
  }
  if (rs.metrics && fclose(rs.metrics) != 0 && rc == CLI_OK)
    rc = cli_fail("train", CLMP_ERR_IO, "writing the metrics file");
  clmp_trainer_free(t);
  clmp_ctx_free(ctx);
  return rc;
}

int cmd_train(int argc, char **argv) {
  train_opts o = {0};
  clmp_train_config_default(&o.cfg);
  o.optimizer = CLMP_ADAMW;
  int rc = parse(argc, argv, &o);
  if (rc) return rc == 1 ? CLI_OK : rc;
  char *spec = NULL;
  clmp_model_summary sum;
  if ((rc = resolve_model(&o, &spec, &sum)) != CLI_OK) return free(spec), rc;
  if (o.check)
    rc = cli_train_check(o.device, &o.cfg, o.check);
  else if (!o.checkpoint || (rc = check_checkpoint_path(o.checkpoint)) == 0)
    rc = run(&o, &sum);
  free(spec);
  return rc;
}
