/* tests/test_hostile_api.c: hostile input to clmp/device.h, amp.h, nn.h, train.h and io.h, one
 * table row per case, on the reference device (these checks are host-side): NULLs, objects and
 * tensors of another context, mismatched shapes and dtypes, bad configuration fields, missing
 * files and folders. Each row states the exact status; the message must name the refusing
 * function (or the file) and the status; out-parameters stay NULL; and the scaler, optimizer,
 * model and trainer the rows share, the tensors a row was given and the work folder's files are
 * what they were. NULL accessors and frees are checked too. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset.h"
#include "devices.h"
#include "harness.h"
#include "hostile.h"

#define E_ARG    CLMP_ERR_INVALID_ARGUMENT
#define E_SHAPE  CLMP_ERR_INVALID_SHAPE
#define E_DTYPE  CLMP_ERR_INVALID_DTYPE
#define E_CTX    CLMP_ERR_CONTEXT_MISMATCH
#define E_OVF    CLMP_ERR_SIZE_OVERFLOW
#define E_BIG    CLMP_ERR_TOO_LARGE
#define E_NODEV  CLMP_ERR_NO_DEVICE
#define E_IO     CLMP_ERR_IO
#define E_FORMAT CLMP_ERR_FORMAT

#define TRAIN_N    64
#define TEST_N     32
#define SEED       0x4057113u
#define PATH_SIZE  4400
#define WORK_SIZE  4096
#define HOST_BYTES 64
#define BATCH      2 /* the shared model's forward batch and max_batch */

/* Which pointer arguments a row passes as NULL, and which shared object it uses. */
enum {
  F_NULL_OBJ = 1, /* the object (context, scaler, model, trainer, writer) */
  F_NULL_ARG = 2, /* the second pointer: a config, state, count, list, source, path, buffer */
  F_NULL_OUT = 4, /* the out-parameter */
  F_OTHER = 8,    /* the object of another context or configuration */
  F_FRESH = 16,   /* the model that has not run forward */
  F_NULL_SHAPE = 32,
  F_NULL_DATA = 64,
};

enum call {
  CTX_CREATE,
  DEVICES_LIST,
  DEVICE_SELECT,
  CTX_FINISH,
  SCALER_CREATE,
  SCALER_CHECK,
  SCALER_UPDATE,
  SCALER_READ,
  SCALER_RESTORE,
  OPTIM_CREATE,
  OPTIM_STEP,
  MODEL_CREATE,
  MODEL_INIT,
  MODEL_SYNC,
  MODEL_FORWARD,
  MODEL_BACKWARD,
  TRAINER_CREATE,
  TRAINER_EPOCH,
  TRAINER_STEP,
  TRAINER_SYNC,
  TRAINER_SAVE,
  TRAINER_RESUME,
  IDX_PARSE,
  IDX_READ,
  ST_PARSE,
  ST_READ,
  WRITER_CREATE,
  WRITER_ADD,
  WRITER_META,
  WRITER_SAVE
};

typedef struct row {
  const char *fn, *what;
  int call;
  clmp_status want;
  int a, b, c; /* palette slots */
  int flags;
  float x;            /* a scalar argument (lr) */
  size_t n;           /* a count, length or batch */
  const char *s, *s2; /* strings: a device, a path ("@..." below), a name, a key and value */
  clmp_dtype dt;      /* a writer tensor's dtype */
  int nd;             /* its ndim */
  uint64_t shape[4];  /* its shape */
  const char *names;  /* what the message names when not fn: an inner function, or a path */
} row;

/* What the rows share, on the reference device. */
static struct {
  hostile_palette p;
  clmp_ctx *ctx, *other;
  clmp_scaler *scaler, *other_scaler;
  clmp_tensor *master, *grads, *working;
  clmp_optim *optim;
  clmp_model *mlp, *fresh;
  clmp_tensor *labels;
  clmp_trainer *trainer, *narrow;
  clmp_st_writer *writer;
  char work[WORK_SIZE], data[PATH_SIZE];
} fx;

/* "@work", "@data", "@dir" (a folder in work), "@missing" (a file in a missing folder), or a
 * "@work/..." or "@data/..." path: the real path in buf. Other strings are themselves. */
static const char *path_of(const char *s, char *buf) {
  static const struct {
    const char *token, *suffix;
  } tokens[] = {{"@missing", "/nosuch/file"}, {"@dir", "/adir"}, {"@data", "/data"}, {"@work", ""}};
  if (!s || s[0] != '@') return s;
  for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++) {
    size_t n = strlen(tokens[i].token);
    if (strncmp(s, tokens[i].token, n)) continue;
    snprintf(buf, PATH_SIZE, "%s%s%s", fx.work, tokens[i].suffix, s + n);
    return buf;
  }
  return s;
}

/* --- device.h ------------------------------------------------------------------------------- */

static const row device_rows[] = {
    {"clmp_ctx_create", "NULL out", CTX_CREATE, E_ARG, .s = "ref", .flags = F_NULL_OUT},
    {"clmp_ctx_create", "no device of that name", CTX_CREATE, E_NODEV, .s = "nosuchdevice",
     .names = "clmp_device_select"},
    {"clmp_ctx_create", "cl:99", CTX_CREATE, E_NODEV, .s = "cl:99", .names = "clmp_device_select"},
    {"clmp_ctx_create", "cl: and no number", CTX_CREATE, E_NODEV,
     .s = "cl:", .names = "clmp_device_select"},
    {"clmp_ctx_create", "cl:-1", CTX_CREATE, E_NODEV, .s = "cl:-1", .names = "clmp_device_select"},
    {"clmp_ctx_create", "cl:0x", CTX_CREATE, E_NODEV, .s = "cl:0x", .names = "clmp_device_select"},
    {"clmp_ctx_create", "cl: and 20 digits", CTX_CREATE, E_NODEV, .s = "cl:99999999999999999999",
     .names = "clmp_device_select"},
    {"clmp_devices_list", "NULL out", DEVICES_LIST, E_ARG, .flags = F_NULL_OUT},
    {"clmp_devices_list", "NULL count", DEVICES_LIST, E_ARG, .flags = F_NULL_ARG},
    {"clmp_device_select", "NULL index", DEVICE_SELECT, E_ARG, .s = "ref", .flags = F_NULL_OUT},
    {"clmp_device_select", "a NULL list of 2", DEVICE_SELECT, E_ARG, .s = "ref", .n = 2,
     .flags = F_NULL_ARG},
    {"clmp_device_select", "a name in an empty list", DEVICE_SELECT, E_NODEV, .s = "gpu"},
    {"clmp_device_select", "cl:0 of an empty list", DEVICE_SELECT, E_NODEV, .s = "cl:0"},
    {"clmp_ctx_finish", "NULL context", CTX_FINISH, E_ARG, .flags = F_NULL_OBJ},
};

static clmp_status call_device(const row *r, char *path) {
  clmp_ctx *ctx = NULL;
  clmp_device_info *list = NULL, one;
  size_t count = 0;
  int index = 0;
  clmp_status st = CLMP_SUCCESS;
  switch (r->call) {
  case CTX_CREATE:
    st = clmp_ctx_create(path_of(r->s, path), r->flags & F_NULL_OUT ? NULL : &ctx);
    break;
  case DEVICES_LIST:
    st = clmp_devices_list(r->flags & F_NULL_OUT ? NULL : &list,
                           r->flags & F_NULL_ARG ? NULL : &count);
    break;
  case DEVICE_SELECT:
    st = clmp_device_select(r->s, r->flags & F_NULL_ARG ? NULL : &one, r->n,
                            r->flags & F_NULL_OUT ? NULL : &index);
    break;
  default: st = clmp_ctx_finish(NULL); break;
  }
  hostile_expect_null_out(r->fn, r->what, ctx);
  hostile_expect_null_out(r->fn, r->what, list);
  clmp_ctx_free(ctx);
  clmp_devices_free(list);
  return st;
}

/* --- amp.h ---------------------------------------------------------------------------------- */

static const row amp_rows[] = {
    {"clmp_scaler_create", "NULL ctx", SCALER_CREATE, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_scaler_create", "NULL out", SCALER_CREATE, E_ARG, .flags = F_NULL_OUT},
    {"clmp_scaler_check", "NULL scaler", SCALER_CHECK, E_ARG, .a = F4, .flags = F_NULL_OBJ},
    {"clmp_scaler_check", "NULL grads", SCALER_CHECK, E_ARG, .a = NUL},
    {"clmp_scaler_check", "i32 grads", SCALER_CHECK, E_DTYPE, .a = I4},
    {"clmp_scaler_check", "grads on another context", SCALER_CHECK, E_CTX, .a = XF4},
    {"clmp_scaler_update", "NULL scaler", SCALER_UPDATE, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_scaler_read", "NULL scaler", SCALER_READ, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_scaler_read", "NULL out", SCALER_READ, E_ARG, .flags = F_NULL_OUT},
    {"clmp_scaler_restore", "NULL scaler", SCALER_RESTORE, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_scaler_restore", "NULL state", SCALER_RESTORE, E_ARG, .flags = F_NULL_ARG},
    {"clmp_optim_create", "NULL config", OPTIM_CREATE, E_ARG, .a = F4, .b = H4,
     .flags = F_NULL_ARG},
    {"clmp_optim_create", "NULL out", OPTIM_CREATE, E_ARG, .a = F4, .b = H4, .flags = F_NULL_OUT},
    {"clmp_optim_create", "NULL master", OPTIM_CREATE, E_ARG, .b = H4},
    {"clmp_optim_create", "NULL grads", OPTIM_CREATE, E_ARG, .a = F4},
    {"clmp_optim_create", "f16 master", OPTIM_CREATE, E_DTYPE, .a = H4, .b = F4},
    {"clmp_optim_create", "i32 grads", OPTIM_CREATE, E_DTYPE, .a = F4, .b = I4},
    {"clmp_optim_create", "grads of 3 for 4", OPTIM_CREATE, E_SHAPE, .a = F4, .b = F3},
    {"clmp_optim_create", "grads on another context", OPTIM_CREATE, E_CTX, .a = F4, .b = XF4},
    {"clmp_optim_create", "working of 3", OPTIM_CREATE, E_SHAPE, .a = F4, .b = H4, .c = F3},
    {"clmp_optim_create", "u8 working", OPTIM_CREATE, E_DTYPE, .a = F4, .b = H4, .c = U4},
    {"clmp_optim_create", "working on another context", OPTIM_CREATE, E_CTX, .a = F4, .b = H4,
     .c = XF4},
    {"clmp_optim_create", "the scaler on another context", OPTIM_CREATE, E_CTX, .a = F4, .b = H4,
     .flags = F_OTHER},
    {"clmp_optim_create", "grads overlapping master", OPTIM_CREATE, E_ARG, .a = LO, .b = HI},
    {"clmp_optim_create", "working is master", OPTIM_CREATE, E_ARG, .a = F4, .b = H4, .c = F4},
    {"clmp_optim_create", "working overlapping grads", OPTIM_CREATE, E_ARG, .a = F4, .b = LO,
     .c = HI},
    {"clmp_optim_step", "NULL optimizer", OPTIM_STEP, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_optim_step", "lr NaN", OPTIM_STEP, E_ARG, .x = NAN},
    {"clmp_optim_step", "lr +inf", OPTIM_STEP, E_ARG, .x = INFINITY},
};

static clmp_status call_amp(const row *r) {
  clmp_tensor *const *t = fx.p.t;
  clmp_scaler *s = r->flags & F_NULL_OBJ ? NULL : fx.scaler, *made = NULL;
  clmp_optim *o = NULL;
  clmp_scaler_state state;
  clmp_optim_config cfg;
  clmp_optim_config_default(&cfg, CLMP_ADAMW);
  int null_out = r->flags & F_NULL_OUT, null_arg = r->flags & F_NULL_ARG;
  clmp_status st = clmp_scaler_read(fx.scaler, &state);
  switch (r->call) {
  case SCALER_CREATE:
    st = clmp_scaler_create(r->flags & F_NULL_OBJ ? NULL : fx.ctx, NULL, null_out ? NULL : &made);
    break;
  case SCALER_CHECK: st = clmp_scaler_check(s, t[r->a], 0); break;
  case SCALER_UPDATE: st = clmp_scaler_update(s); break;
  case SCALER_READ: st = clmp_scaler_read(s, null_out ? NULL : &state); break;
  case SCALER_RESTORE: st = clmp_scaler_restore(s, null_arg ? NULL : &state); break;
  case OPTIM_CREATE:
    st = clmp_optim_create(null_arg ? NULL : &cfg, t[r->a], t[r->b], t[r->c],
                           r->flags & F_OTHER ? fx.other_scaler : fx.scaler, null_out ? NULL : &o);
    break;
  default: st = clmp_optim_step(r->flags & F_NULL_OBJ ? NULL : fx.optim, r->x); break;
  }
  hostile_expect_null_out(r->fn, r->what, made);
  hostile_expect_null_out(r->fn, r->what, o);
  clmp_scaler_free(made);
  clmp_optim_free(o);
  return st;
}

/* --- nn.h ----------------------------------------------------------------------------------- */

static const row nn_rows[] = {
    {"clmp_model_create", "NULL ctx", MODEL_CREATE, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_model_create", "NULL config", MODEL_CREATE, E_ARG, .flags = F_NULL_ARG},
    {"clmp_model_create", "NULL out", MODEL_CREATE, E_ARG, .flags = F_NULL_OUT},
    {"clmp_model_init", "NULL model", MODEL_INIT, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_model_sync_working", "NULL model", MODEL_SYNC, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_model_forward", "NULL model", MODEL_FORWARD, E_ARG, .n = 1, .flags = F_NULL_OBJ},
    {"clmp_model_forward", "NULL output", MODEL_FORWARD, E_ARG, .n = 1, .flags = F_NULL_OUT},
    {"clmp_model_forward", "batch 0", MODEL_FORWARD, E_SHAPE, .n = 0},
    {"clmp_model_forward", "batch beyond max_batch", MODEL_FORWARD, E_SHAPE, .n = BATCH + 1},
    {"clmp_model_forward", "batch SIZE_MAX", MODEL_FORWARD, E_SHAPE, .n = SIZE_MAX},
    {"clmp_model_backward", "NULL model", MODEL_BACKWARD, E_ARG, .a = M22, .flags = F_NULL_OBJ},
    {"clmp_model_backward", "NULL dout", MODEL_BACKWARD, E_ARG, .a = NUL},
    {"clmp_model_backward", "no forward yet", MODEL_BACKWARD, E_ARG, .a = M22, .flags = F_FRESH},
    {"clmp_model_backward", "i32 dout", MODEL_BACKWARD, E_DTYPE, .a = I22},
    {"clmp_model_backward", "dout [2, 3] for an output [2, 2]", MODEL_BACKWARD, E_SHAPE, .a = M23},
    {"clmp_model_backward", "dout [4] for an output [2, 2]", MODEL_BACKWARD, E_SHAPE, .a = F4},
    {"clmp_model_backward", "dout on another context", MODEL_BACKWARD, E_CTX, .a = XM22},
};

/* The MLP 4-3-2 in f32, so that the palette's f32 [2, 2] fits its output. */
#define NN_SPEC                                                                              \
  "{\"input\": [4], \"layers\": [{\"type\": \"linear\", \"out\": 3}, {\"type\": \"relu\"}, " \
  "{\"type\": \"linear\", \"out\": 2}]}"

static clmp_model_config model_config(void) {
  clmp_model_config c = {NN_SPEC, CLMP_F32, BATCH, 0, {0}, 2, 1};
  return c;
}

static clmp_status call_nn(const row *r) {
  clmp_model *m = r->flags & F_NULL_OBJ ? NULL : r->flags & F_FRESH ? fx.fresh : fx.mlp;
  clmp_model *made = NULL;
  clmp_model_config cfg = model_config();
  const clmp_tensor *out = NULL;
  int null_out = r->flags & F_NULL_OUT;
  switch (r->call) {
  case MODEL_CREATE: {
    clmp_ctx *ctx = r->flags & F_NULL_OBJ ? NULL : fx.ctx;
    clmp_status st =
        clmp_model_create(ctx, r->flags & F_NULL_ARG ? NULL : &cfg, null_out ? NULL : &made);
    hostile_expect_null_out(r->fn, r->what, made);
    clmp_model_free(made);
    return st;
  }
  case MODEL_INIT: return clmp_model_init(m, 1);
  case MODEL_SYNC: return clmp_model_sync_working(m);
  case MODEL_FORWARD: return clmp_model_forward(m, r->n, 1, 0, null_out ? NULL : &out);
  default: return clmp_model_backward(m, fx.p.t[r->a], 0);
  }
}

/* --- train.h -------------------------------------------------------------------------------- */

static const row train_rows[] = {
    {"clmp_trainer_create", "NULL ctx", TRAINER_CREATE, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_trainer_create", "NULL config", TRAINER_CREATE, E_ARG, .flags = F_NULL_ARG},
    {"clmp_trainer_create", "NULL out", TRAINER_CREATE, E_ARG, .flags = F_NULL_OUT},
    {"clmp_trainer_epoch", "NULL trainer", TRAINER_EPOCH, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_trainer_epoch", "NULL stats", TRAINER_EPOCH, E_ARG, .flags = F_NULL_OUT},
    {"clmp_trainer_epoch", "in the middle of an epoch", TRAINER_EPOCH, E_ARG, .a = NUL},
    {"clmp_trainer_step", "NULL trainer", TRAINER_STEP, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_trainer_sync", "NULL dst", TRAINER_SYNC, E_ARG, .flags = F_NULL_OBJ},
    {"clmp_trainer_sync", "NULL src", TRAINER_SYNC, E_ARG, .flags = F_NULL_ARG},
    {"clmp_trainer_sync", "another architecture", TRAINER_SYNC, E_ARG, .flags = F_OTHER},
    {"clmp_trainer_save", "NULL trainer", TRAINER_SAVE, E_ARG, .s = "@work/ck",
     .flags = F_NULL_OBJ},
    {"clmp_trainer_save", "NULL path", TRAINER_SAVE, E_ARG, .flags = F_NULL_ARG},
    {"clmp_trainer_save", "empty path", TRAINER_SAVE, E_ARG, .s = ""},
    {"clmp_trainer_save", "in a missing folder", TRAINER_SAVE, E_IO, .s = "@missing",
     .names = "@missing"},
    {"clmp_trainer_save", "over a folder", TRAINER_SAVE, E_IO, .s = "@dir", .names = "@dir"},
    {"clmp_trainer_resume", "NULL trainer", TRAINER_RESUME, E_ARG, .s = "@work/ck",
     .flags = F_NULL_OBJ},
    {"clmp_trainer_resume", "NULL path", TRAINER_RESUME, E_ARG, .flags = F_NULL_ARG},
    {"clmp_trainer_resume", "empty path", TRAINER_RESUME, E_ARG, .s = ""},
    {"clmp_trainer_resume", "a missing file", TRAINER_RESUME, E_IO, .s = "@missing",
     .names = "@missing"},
    {"clmp_trainer_resume", "a folder", TRAINER_RESUME, E_IO, .s = "@dir", .names = "@dir"},
    {"clmp_trainer_resume", "an IDX file", TRAINER_RESUME, E_FORMAT,
     .s = "@data/t10k-labels-idx1-ubyte", .names = "@data/t10k-labels-idx1-ubyte"},
};

static clmp_train_config train_config(void) {
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = fx.data;
  c.model = CLMP_TEST_MLP(8);
  c.epochs = 1, c.batch = 16;
  return c;
}

static clmp_status call_train(const row *r, char *path) {
  clmp_trainer *t = r->flags & F_NULL_OBJ ? NULL : fx.trainer, *made = NULL;
  clmp_train_config cfg = train_config();
  clmp_epoch_stats e;
  int null_out = r->flags & F_NULL_OUT, null_arg = r->flags & F_NULL_ARG;
  const char *p = null_arg ? NULL : path_of(r->s, path);
  switch (r->call) {
  case TRAINER_CREATE: {
    clmp_ctx *ctx = r->flags & F_NULL_OBJ ? NULL : fx.ctx;
    clmp_status st = clmp_trainer_create(ctx, null_arg ? NULL : &cfg, null_out ? NULL : &made);
    hostile_expect_null_out(r->fn, r->what, made);
    clmp_trainer_free(made);
    return st;
  }
  case TRAINER_EPOCH: return clmp_trainer_epoch(t, NULL, NULL, NULL, null_out ? NULL : &e);
  case TRAINER_STEP: return clmp_trainer_step(t, NULL);
  case TRAINER_SYNC:
    return clmp_trainer_sync(t, null_arg ? NULL : r->flags & F_OTHER ? fx.narrow : fx.trainer);
  case TRAINER_SAVE: return clmp_trainer_save(t, p);
  default: return clmp_trainer_resume(t, p);
  }
}

/* --- io.h ----------------------------------------------------------------------------------- */

static const row io_rows[] = {
    {"clmp_idx_parse", "NULL out", IDX_PARSE, E_ARG, .n = 4, .flags = F_NULL_OUT},
    {"clmp_idx_parse", "a NULL buffer of 4 bytes", IDX_PARSE, E_ARG, .n = 4, .flags = F_NULL_ARG},
    {"clmp_idx_read", "NULL path", IDX_READ, E_ARG, .flags = F_NULL_ARG},
    {"clmp_idx_read", "NULL out", IDX_READ, E_ARG, .s = "@data/t10k-labels-idx1-ubyte",
     .flags = F_NULL_OUT},
    {"clmp_idx_read", "a missing file", IDX_READ, E_IO, .s = "@missing", .names = "@missing"},
    {"clmp_idx_read", "a folder", IDX_READ, E_IO, .s = "@dir", .names = "@dir"},
    {"clmp_safetensors_parse", "NULL out", ST_PARSE, E_ARG, .n = 8, .flags = F_NULL_OUT},
    {"clmp_safetensors_parse", "a NULL buffer of 8 bytes", ST_PARSE, E_ARG, .n = 8,
     .flags = F_NULL_ARG},
    {"clmp_safetensors_read", "NULL path", ST_READ, E_ARG, .flags = F_NULL_ARG},
    {"clmp_safetensors_read", "NULL out", ST_READ, E_ARG, .s = "@missing", .flags = F_NULL_OUT},
    {"clmp_safetensors_read", "a missing file", ST_READ, E_IO, .s = "@missing",
     .names = "@missing"},
    {"clmp_safetensors_read", "a folder", ST_READ, E_IO, .s = "@dir", .names = "@dir"},
    {"clmp_st_writer_create", "NULL out", WRITER_CREATE, E_ARG, .flags = F_NULL_OUT},
    {"clmp_st_writer_add", "NULL writer", WRITER_ADD, E_ARG, .s = "b", .nd = 1, .shape = {2},
     .flags = F_NULL_OBJ},
    {"clmp_st_writer_add", "NULL name", WRITER_ADD, E_ARG, .nd = 1, .shape = {2}},
    {"clmp_st_writer_add", "empty name", WRITER_ADD, E_ARG, .s = "", .nd = 1, .shape = {2}},
    {"clmp_st_writer_add", "the reserved name", WRITER_ADD, E_ARG, .s = "__metadata__", .nd = 1,
     .shape = {2}},
    {"clmp_st_writer_add", "a name that is not UTF-8", WRITER_ADD, E_ARG, .s = "\xff\xfe", .nd = 1,
     .shape = {2}},
    {"clmp_st_writer_add", "dtype 99", WRITER_ADD, E_ARG, .s = "b", .dt = (clmp_dtype)99, .nd = 1,
     .shape = {2}},
    {"clmp_st_writer_add", "ndim 5", WRITER_ADD, E_ARG, .s = "b", .nd = 5, .shape = {1, 1, 1, 1}},
    {"clmp_st_writer_add", "ndim -1", WRITER_ADD, E_ARG, .s = "b", .nd = -1},
    {"clmp_st_writer_add", "NULL shape", WRITER_ADD, E_ARG, .s = "b", .nd = 1,
     .flags = F_NULL_SHAPE},
    {"clmp_st_writer_add", "a name already added", WRITER_ADD, E_ARG, .s = "a", .nd = 1,
     .shape = {2}},
    {"clmp_st_writer_add", "byte size overflows", WRITER_ADD, E_OVF, .s = "b", .nd = 2,
     .shape = {1ull << 40, 1ull << 40}},
    {"clmp_st_writer_add", "NULL data for 8 bytes", WRITER_ADD, E_ARG, .s = "b", .nd = 1,
     .shape = {2}, .flags = F_NULL_DATA},
    {"clmp_st_writer_meta", "NULL writer", WRITER_META, E_ARG, .s = "k", .s2 = "v",
     .flags = F_NULL_OBJ},
    {"clmp_st_writer_meta", "NULL key", WRITER_META, E_ARG, .s2 = "v"},
    {"clmp_st_writer_meta", "NULL value", WRITER_META, E_ARG, .s = "k"},
    {"clmp_st_writer_meta", "a key that is not UTF-8", WRITER_META, E_ARG, .s = "\xc3", .s2 = "v"},
    {"clmp_st_writer_meta", "a value that is not UTF-8", WRITER_META, E_ARG, .s = "k",
     .s2 = "\xed\xa0\x80"},
    {"clmp_st_writer_save", "NULL writer", WRITER_SAVE, E_ARG, .s = "@work/w", .flags = F_NULL_OBJ},
    {"clmp_st_writer_save", "NULL path", WRITER_SAVE, E_ARG, .flags = F_NULL_ARG},
    {"clmp_st_writer_save", "empty path", WRITER_SAVE, E_ARG, .s = ""},
    {"clmp_st_writer_save", "in a missing folder", WRITER_SAVE, E_IO, .s = "@missing",
     .names = "@missing"},
    {"clmp_st_writer_save", "over a folder", WRITER_SAVE, E_IO, .s = "@dir", .names = "@dir"},
};

/* The reading rows. */
static clmp_status call_io_read(const row *r, const char *path, const void *buf) {
  clmp_idx idx = {0};
  clmp_safetensors *f = NULL;
  int null_out = r->flags & F_NULL_OUT;
  clmp_status st = CLMP_SUCCESS;
  switch (r->call) {
  case IDX_PARSE: st = clmp_idx_parse(buf, r->n, NULL, null_out ? NULL : &idx); break;
  case IDX_READ: st = clmp_idx_read(path, null_out ? NULL : &idx); break;
  case ST_PARSE: st = clmp_safetensors_parse(buf, r->n, NULL, null_out ? NULL : &f); break;
  default: st = clmp_safetensors_read(path, null_out ? NULL : &f); break;
  }
  hostile_expect_null_out(r->fn, r->what, idx.data);
  hostile_expect_null_out(r->fn, r->what, f);
  clmp_idx_free(&idx);
  clmp_safetensors_free(f);
  return st;
}

static clmp_status call_io(const row *r, char *path) {
  static const uint8_t bytes[HOST_BYTES];
  clmp_st_writer *w = r->flags & F_NULL_OBJ ? NULL : fx.writer, *made = NULL;
  const char *p = r->flags & F_NULL_ARG ? NULL : path_of(r->s, path);
  const uint64_t *shape = r->flags & F_NULL_SHAPE ? NULL : r->shape;
  clmp_status st = CLMP_SUCCESS;
  switch (r->call) {
  case WRITER_CREATE: st = clmp_st_writer_create(r->flags & F_NULL_OUT ? NULL : &made); break;
  case WRITER_ADD:
    st = clmp_st_writer_add(w, r->s, r->dt, r->nd, shape, r->flags & F_NULL_DATA ? NULL : bytes);
    break;
  case WRITER_META: st = clmp_st_writer_meta(w, r->s, r->s2); break;
  case WRITER_SAVE: st = clmp_st_writer_save(w, p); break;
  default: return call_io_read(r, p, r->flags & F_NULL_ARG ? NULL : bytes);
  }
  hostile_expect_null_out(r->fn, r->what, made);
  clmp_st_writer_free(made);
  return st;
}

/* --- the shared objects, and that a refused call left them alone ----------------------------- */

typedef struct snapshot {
  clmp_scaler_state scaler;
  float *optim_master, *mlp_master, *mlp_grads, *trainer_master;
  int epochs;
  size_t files;
} snapshot;

static void snapshot_take(snapshot *s) {
  CU_ASSERT_EQUAL(clmp_scaler_read(fx.scaler, &s->scaler), CLMP_SUCCESS);
  s->optim_master = clmp_test_read(fx.master);
  s->mlp_master = clmp_test_read(clmp_model_master(fx.mlp));
  s->mlp_grads = clmp_test_read(clmp_model_grads(fx.mlp));
  s->trainer_master = clmp_test_read(clmp_model_master(clmp_trainer_model(fx.trainer)));
  s->epochs = clmp_trainer_epochs_done(fx.trainer);
  s->files = clmp_test_dir_entries(fx.work);
}

static void snapshot_free(snapshot *s) {
  free(s->optim_master), free(s->mlp_master), free(s->mlp_grads), free(s->trainer_master);
}

static int same(const float *a, const float *b, const clmp_tensor *t) {
  return !memcmp(a, b, clmp_tensor_numel(t) * sizeof *a);
}

/* The shared objects are as they were: scaler state, arenas, epochs, the work folder's files. */
static void expect_unchanged(const row *r, const snapshot *before) {
  snapshot after;
  snapshot_take(&after);
  clmp_tensor *tm = clmp_model_master(clmp_trainer_model(fx.trainer));
  int ok[] = {!memcmp(&before->scaler, &after.scaler, sizeof after.scaler),
              same(before->optim_master, after.optim_master, fx.master),
              same(before->mlp_master, after.mlp_master, clmp_model_master(fx.mlp)),
              same(before->mlp_grads, after.mlp_grads, clmp_model_grads(fx.mlp)),
              same(before->trainer_master, after.trainer_master, tm),
              before->epochs == after.epochs,
              before->files == after.files};
  static const char *what[] = {
      "scaler state", "optimizer master",        "model master", "model grads", "trainer weights",
      "epochs done",  "files in the work folder"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    if (!ok[i]) printf("\n    %s (%s): the %s changed", r->fn, r->what, what[i]);
    CU_ASSERT(ok[i]);
  }
  snapshot_free(&after);
}

static clmp_status call_row(const row *r, char *path) {
  if (r->call <= CTX_FINISH) return call_device(r, path);
  if (r->call <= OPTIM_STEP) return call_amp(r);
  if (r->call <= MODEL_BACKWARD) return call_nn(r);
  if (r->call <= TRAINER_RESUME) return call_train(r, path);
  return call_io(r, path);
}

static void run_rows(const row *rows, size_t n) {
  char path[PATH_SIZE], names[PATH_SIZE];
  for (size_t i = 0; i < n; i++) {
    const row *r = &rows[i];
    snapshot before;
    snapshot_take(&before);
    hostile_clear_error();
    clmp_status got = call_row(r, path);
    hostile_expect_refused("ref", r->fn, r->what, path_of(r->names, names), got, r->want);
    const int slots[] = {r->a, r->b, r->c};
    for (size_t k = 0; k < sizeof slots / sizeof *slots; k++)
      hostile_expect_intact(&fx.p, slots[k]);
    expect_unchanged(r, &before);
    snapshot_free(&before);
  }
  printf("\n    %zu rows", n);
}

static void test_device_rows(void) {
  run_rows(device_rows, sizeof device_rows / sizeof *device_rows);
}

static void test_amp_rows(void) {
  run_rows(amp_rows, sizeof amp_rows / sizeof *amp_rows);
}

static void test_nn_rows(void) {
  run_rows(nn_rows, sizeof nn_rows / sizeof *nn_rows);
}

static void test_train_rows(void) {
  run_rows(train_rows, sizeof train_rows / sizeof *train_rows);
}

static void test_io_rows(void) {
  run_rows(io_rows, sizeof io_rows / sizeof *io_rows);
}

/* --- configuration fields, one bad field per row -------------------------------------------- */

enum kind { K_SCALER, K_OPTIM, K_MODEL, K_TRAIN, K_STATE };

typedef struct field_row {
  const char *fn, *what;
  int kind;
  size_t off; /* of the field in its struct */
  char type;  /* 'f' float, 'i' int32 or enum, 'z' size_t, 'u' uint32, 'p' a string ("@..." ok) */
  double v;   /* the value ('f', 'i', 'z', 'u') */
  const char *p; /* the value ('p') */
  clmp_status want;
  const char *names;
} field_row;

#define SC(f) K_SCALER, offsetof(clmp_scaler_config, f)
#define OC(f) K_OPTIM, offsetof(clmp_optim_config, f)
#define MC(f) K_MODEL, offsetof(clmp_model_config, f)
#define TC(f) K_TRAIN, offsetof(clmp_train_config, f)
#define SS(f) K_STATE, offsetof(clmp_scaler_state, f)

static const field_row field_rows[] = {
    {"clmp_scaler_create", "mode 3", SC(mode), 'i', 3, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "mode -1", SC(mode), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "init_scale 0", SC(init_scale), 'f', 0, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "init_scale -1", SC(init_scale), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "init_scale NaN", SC(init_scale), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "init_scale inf", SC(init_scale), 'f', INFINITY, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "growth_factor 0.5", SC(growth_factor), 'f', 0.5, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "growth_factor NaN", SC(growth_factor), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "growth_factor inf", SC(growth_factor), 'f', INFINITY, NULL, E_ARG,
     NULL},
    {"clmp_scaler_create", "backoff_factor 0", SC(backoff_factor), 'f', 0, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "backoff_factor 1.5", SC(backoff_factor), 'f', 1.5, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "backoff_factor NaN", SC(backoff_factor), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "growth_interval 0", SC(growth_interval), 'i', 0, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "growth_interval -5", SC(growth_interval), 'i', -5, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "hysteresis 0", SC(hysteresis), 'i', 0, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "hysteresis -1", SC(hysteresis), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "min_scale 0", SC(min_scale), 'f', 0, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "min_scale NaN", SC(min_scale), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "min_scale above max_scale", SC(min_scale), 'f', 1e9, NULL, E_ARG, NULL},
    {"clmp_scaler_create", "max_scale inf", SC(max_scale), 'f', INFINITY, NULL, E_ARG, NULL},
    {"clmp_optim_create", "kind 2", OC(kind), 'i', 2, NULL, E_ARG, NULL},
    {"clmp_optim_create", "kind -1", OC(kind), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "lr -1", OC(lr), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "lr NaN", OC(lr), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_optim_create", "lr inf", OC(lr), 'f', INFINITY, NULL, E_ARG, NULL},
    {"clmp_optim_create", "weight_decay -1", OC(weight_decay), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "weight_decay NaN", OC(weight_decay), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_optim_create", "momentum 1", OC(momentum), 'f', 1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "momentum -0.5", OC(momentum), 'f', -0.5, NULL, E_ARG, NULL},
    {"clmp_optim_create", "momentum NaN", OC(momentum), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_optim_create", "dampening 1.5", OC(dampening), 'f', 1.5, NULL, E_ARG, NULL},
    {"clmp_optim_create", "dampening -1", OC(dampening), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "nesterov without momentum", OC(nesterov), 'i', 1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "beta1 1", OC(beta1), 'f', 1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "beta1 NaN", OC(beta1), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_optim_create", "beta2 -0.1", OC(beta2), 'f', -0.1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "beta2 1", OC(beta2), 'f', 1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "eps 0", OC(eps), 'f', 0, NULL, E_ARG, NULL},
    {"clmp_optim_create", "eps NaN", OC(eps), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_optim_create", "eps inf", OC(eps), 'f', INFINITY, NULL, E_ARG, NULL},
    {"clmp_optim_create", "clip_norm -1", OC(clip_norm), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_optim_create", "clip_norm NaN", OC(clip_norm), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_optim_create", "clip_norm inf", OC(clip_norm), 'f', INFINITY, NULL, E_ARG, NULL},
    {"clmp_model_create", "i32 dtype", MC(dtype), 'i', CLMP_I32, NULL, E_DTYPE, NULL},
    {"clmp_model_create", "dtype 99", MC(dtype), 'i', 99, NULL, E_DTYPE, NULL},
    {"clmp_model_create", "max_batch 0", MC(max_batch), 'z', 0, NULL, E_SHAPE, NULL},
    {"clmp_model_create", "max_batch 2^62", MC(max_batch), 'z', 0x1p62, NULL, E_SHAPE, NULL},
    {"clmp_model_create", "input_ndim 4", MC(input_ndim), 'i', 4, NULL, E_SHAPE, NULL},
    {"clmp_model_create", "a spec of no preset", MC(spec), 'p', 0, "nosuch", E_ARG, "model spec"},
    {"clmp_model_create", "an empty layer list", MC(spec), 'p', 0, "[]", E_ARG, "model spec"},
    {"clmp_model_create", "a spec without an input", MC(spec), 'p', 0, "[{\"type\": \"relu\"}]",
     E_SHAPE, "model spec"},
    {"clmp_model_create", "an output that is not the 2 classes", MC(spec), 'p', 0,
     "{\"input\": [4], \"layers\": [{\"type\": \"linear\", \"out\": 3}]}", E_SHAPE,
     "the loss needs"},
    {"clmp_model_create", "a model without parameters", MC(spec), 'p', 0,
     "{\"input\": [2], \"layers\": [{\"type\": \"relu\"}]}", E_ARG, "no parameters"},
    {"clmp_model_create", "parameters beyond any device", MC(spec), 'p', 0,
     "{\"input\": [16777216], \"layers\": [{\"type\": \"linear\", \"out\": 16777216}, "
     "{\"type\": \"linear\", \"out\": 2}]}",
     E_BIG, "1 TiB"},
    {"clmp_model_create", "beyond the max allocation", MC(spec), 'p', 0,
     "{\"input\": [1024], \"layers\": [{\"type\": \"linear\", \"out\": 16777216}, "
     "{\"type\": \"linear\", \"out\": 2}]}",
     E_BIG, "largest allocation"},
    {"clmp_trainer_create", "NULL data_dir", TC(data_dir), 'p', 0, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "a missing data folder", TC(data_dir), 'p', 0, "@missing", E_IO,
     "@missing"},
    {"clmp_trainer_create", "a data folder without the test split", TC(data_dir), 'p', 0, "@dir",
     E_IO, "@dir"},
    {"clmp_trainer_create", "precision 3", TC(precision), 'i', 3, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "precision -1", TC(precision), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "a model of no preset", TC(model), 'p', 0, "mlp2", E_ARG, "model spec"},
    {"clmp_trainer_create", "a model without the 10 outputs", TC(model), 'p', 0,
     "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 9}]", E_SHAPE, "the loss needs"},
    {"clmp_trainer_create", "epochs 0", TC(epochs), 'i', 0, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "epochs -1", TC(epochs), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "batch 0", TC(batch), 'z', 0, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "accum 0", TC(accum), 'i', 0, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "accum -1", TC(accum), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "batch 16 not a multiple of accum 3", TC(accum), 'i', 3, NULL, E_ARG,
     NULL},
    {"clmp_trainer_create", "accum 32 above batch 16", TC(accum), 'i', 32, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "schedule 3", TC(schedule), 'i', 3, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "warmup -1", TC(warmup_steps), 'i', -1, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "batch above the examples", TC(batch), 'z', 1000, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "a model beyond any device", TC(model), 'p', 0,
     "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 16777216}, {\"type\": "
     "\"linear\", \"out\": 16777216}, {\"type\": \"linear\", \"out\": 10}]",
     E_BIG, "1 TiB"},
    {"clmp_trainer_create", "optimizer lr -1", TC(optim.lr), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "optimizer kind 5", TC(optim.kind), 'i', 5, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "optimizer eps 0", TC(optim.eps), 'f', 0, NULL, E_ARG, NULL},
    {"clmp_trainer_create", "scaler init_scale 0", TC(scaler.init_scale), 'f', 0, NULL, E_ARG,
     NULL},
    {"clmp_trainer_create", "scaler backoff 2", TC(scaler.backoff_factor), 'f', 2, NULL, E_ARG,
     NULL},
    {"clmp_scaler_restore", "scale 0", SS(scale), 'f', 0, NULL, E_ARG, NULL},
    {"clmp_scaler_restore", "scale -1", SS(scale), 'f', -1, NULL, E_ARG, NULL},
    {"clmp_scaler_restore", "scale NaN", SS(scale), 'f', NAN, NULL, E_ARG, NULL},
    {"clmp_scaler_restore", "scale inf", SS(scale), 'f', INFINITY, NULL, E_ARG, NULL},
    {"clmp_scaler_restore", "1 skipped of 0 steps", SS(skipped), 'u', 1, NULL, E_ARG, NULL},
    {"clmp_scaler_restore", "growth_tracker -1", SS(growth_tracker), 'i', -1, NULL, E_ARG, NULL},
};

_Static_assert(sizeof(clmp_precision) == sizeof(int32_t), "enums are poked as int32");

/* Writes the row's value into the field of the struct at base. */
static void poke(void *base, const field_row *r, char *path) {
  char *at = (char *)base + r->off;
  float f = (float)r->v;
  int32_t i = (int32_t)r->v;
  size_t z = (size_t)r->v;
  uint32_t u = (uint32_t)r->v;
  const char *p = path_of(r->p, path);
  switch (r->type) {
  case 'f': memcpy(at, &f, sizeof f); break;
  case 'i': memcpy(at, &i, sizeof i); break;
  case 'z': memcpy(at, &z, sizeof z); break;
  case 'u': memcpy(at, &u, sizeof u); break;
  default: memcpy(at, &p, sizeof p); break;
  }
}

static clmp_status call_field(const field_row *r, char *path) {
  clmp_scaler_config sc;
  clmp_optim_config oc;
  clmp_model_config mc = model_config();
  clmp_train_config tc = train_config();
  clmp_scaler_state ss;
  clmp_scaler_config_default(&sc);
  clmp_optim_config_default(&oc, CLMP_ADAMW);
  CU_ASSERT_EQUAL(clmp_scaler_read(fx.scaler, &ss), CLMP_SUCCESS);
  void *base[] = {&sc, &oc, &mc, &tc, &ss}, *out = NULL;
  poke(base[r->kind], r, path);
  hostile_clear_error();
  clmp_status st = CLMP_SUCCESS;
  switch (r->kind) {
  case K_SCALER: st = clmp_scaler_create(fx.ctx, &sc, (clmp_scaler **)&out); break;
  case K_OPTIM:
    st = clmp_optim_create(&oc, fx.master, fx.grads, fx.working, fx.scaler, (clmp_optim **)&out);
    break;
  case K_MODEL: st = clmp_model_create(fx.ctx, &mc, (clmp_model **)&out); break;
  case K_TRAIN: st = clmp_trainer_create(fx.ctx, &tc, (clmp_trainer **)&out); break;
  default: st = clmp_scaler_restore(fx.scaler, &ss); break;
  }
  hostile_expect_null_out(r->fn, r->what, out);
  return st;
}

static void test_field_rows(void) {
  char path[PATH_SIZE], names[PATH_SIZE];
  size_t n = sizeof field_rows / sizeof *field_rows;
  for (size_t i = 0; i < n; i++) {
    const field_row *r = &field_rows[i];
    row as_row = {r->fn, r->what, 0, r->want, .a = NUL};
    snapshot before;
    snapshot_take(&before);
    clmp_status got = call_field(r, path);
    hostile_expect_refused("ref", r->fn, r->what, path_of(r->names, names), got, r->want);
    expect_unchanged(&as_row, &before);
    snapshot_free(&before);
  }
  printf("\n    %zu rows", n);
}

/* --- accessors and frees take NULL ----------------------------------------------------------- */

static void test_null_accessors(void) {
  float scale = 3.0f, shift = 4.0f;
  clmp_device_ref_info(NULL);
  CU_ASSERT_PTR_NULL(clmp_ctx_device(NULL));
  CU_ASSERT_EQUAL(clmp_ctx_blocking_calls(NULL), 0);
  CU_ASSERT_EQUAL(clmp_tensor_dtype(NULL), CLMP_DTYPE_COUNT);
  CU_ASSERT_EQUAL(clmp_tensor_ndim(NULL), 0);
  CU_ASSERT_EQUAL(clmp_tensor_dim(NULL, 0), 0);
  CU_ASSERT_EQUAL(clmp_tensor_dim(fx.p.t[F4], -1), 0);
  CU_ASSERT_EQUAL(clmp_tensor_dim(fx.p.t[F4], 1), 0);
  CU_ASSERT_EQUAL(clmp_tensor_numel(NULL), 0);
  CU_ASSERT_EQUAL(clmp_tensor_nbytes(NULL), 0);
  CU_ASSERT_PTR_NULL(clmp_tensor_ctx(NULL));
  CU_ASSERT_EQUAL(clmp_dtype_size((clmp_dtype)99), 0);
  CU_ASSERT_EQUAL(clmp_dtype_size((clmp_dtype)-1), 0);
  CU_ASSERT_STRING_EQUAL(clmp_dtype_name((clmp_dtype)99), "?");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(1), "UNKNOWN_STATUS");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(-3999), "UNKNOWN_STATUS");
  CU_ASSERT_PTR_NULL(clmp_scaler_scale(NULL));
  CU_ASSERT_PTR_NULL(clmp_optim_moment(NULL, 0));
  CU_ASSERT_PTR_NULL(clmp_optim_moment(fx.optim, 2));
  CU_ASSERT_PTR_NULL(clmp_optim_moment(fx.optim, -1));
  CU_ASSERT_PTR_NULL(clmp_model_master(NULL));
  CU_ASSERT_PTR_NULL(clmp_model_working(NULL));
  CU_ASSERT_PTR_NULL(clmp_model_grads(NULL));
  CU_ASSERT_PTR_NULL(clmp_model_input(NULL));
  CU_ASSERT_PTR_NULL(clmp_model_buffers(NULL));
  CU_ASSERT_PTR_NULL(clmp_model_spec(NULL));
  CU_ASSERT_EQUAL(clmp_model_params(NULL), 0);
  CU_ASSERT_EQUAL(clmp_model_buffer_count(NULL), 0);
  CU_ASSERT_EQUAL(clmp_model_entry_count(NULL), 0);
  CU_ASSERT_PTR_NULL(clmp_model_buffers(fx.mlp)); /* an MLP has no buffers */
  CU_ASSERT_EQUAL(clmp_trainer_epochs_done(NULL), 0);
  CU_ASSERT_PTR_NULL(clmp_trainer_model(NULL));
  clmp_trainer_transform(NULL, &scale, &shift);
  CU_ASSERT(scale == 3.0f && shift == 4.0f);
  clmp_trainer_transform(fx.trainer, NULL, NULL);
  CU_ASSERT_EQUAL(clmp_safetensors_count(NULL), 0);
  CU_ASSERT_PTR_NULL(clmp_safetensors_entry(NULL, 0));
  CU_ASSERT_PTR_NULL(clmp_safetensors_find(NULL, "a"));
  CU_ASSERT_PTR_NULL(clmp_safetensors_meta(NULL, "k"));
  clmp_scaler_config_default(NULL);
  clmp_optim_config_default(NULL, CLMP_SGD);
  clmp_train_config_default(NULL);
  clmp_ctx_free(NULL), clmp_devices_free(NULL), clmp_tensor_free(NULL), clmp_scaler_free(NULL);
  clmp_optim_free(NULL), clmp_model_free(NULL), clmp_trainer_free(NULL), clmp_idx_free(NULL);
  clmp_safetensors_free(NULL), clmp_st_writer_free(NULL);
}

/* The writer the io rows were refused on still holds only what the fixture put in. */
static void test_writer_unchanged(void) {
  char path[PATH_SIZE];
  clmp_safetensors *f = NULL;
  path_of("@work/writer.safetensors", path);
  CU_ASSERT_EQUAL_FATAL(clmp_st_writer_save(fx.writer, path), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_safetensors_read(path, &f), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_safetensors_count(f), 1);
  CU_ASSERT_PTR_NOT_NULL(clmp_safetensors_find(f, "a"));
  CU_ASSERT_STRING_EQUAL(clmp_safetensors_meta(f, "k0") ? clmp_safetensors_meta(f, "k0") : "",
                         "v0");
  CU_ASSERT_PTR_NULL(clmp_safetensors_meta(f, "k"));
  clmp_safetensors_free(f);
  remove(path);
}

/* --- the suite ------------------------------------------------------------------------------- */

static clmp_status make_optim(void) {
  static const float ones[4] = {1, 1, 1, 1}, zeros[4] = {0};
  size_t four = 4;
  clmp_optim_config cfg;
  clmp_optim_config_default(&cfg, CLMP_ADAMW);
  clmp_status st = clmp_tensor_create(fx.ctx, CLMP_F32, 1, &four, &fx.master);
  if (!st) st = clmp_tensor_create(fx.ctx, CLMP_F16, 1, &four, &fx.grads);
  if (!st) st = clmp_tensor_create(fx.ctx, CLMP_F16, 1, &four, &fx.working);
  if (!st) st = clmp_tensor_write(fx.master, CLMP_F32, ones, 4);
  if (!st) st = clmp_tensor_write(fx.grads, CLMP_F32, zeros, 4);
  if (!st) st = clmp_tensor_write(fx.working, CLMP_F32, ones, 4);
  if (!st) st = clmp_optim_create(&cfg, fx.master, fx.grads, fx.working, fx.scaler, &fx.optim);
  return st;
}

/* A model that has run forward over BATCH rows of zeros, and one that has not. */
static clmp_status make_models(void) {
  clmp_model_config cfg = model_config();
  const clmp_tensor *logits = NULL;
  clmp_status st = clmp_model_create(fx.ctx, &cfg, &fx.mlp);
  if (!st) st = clmp_fill(clmp_model_input(fx.mlp), 0.0f);
  if (!st) st = clmp_model_forward(fx.mlp, BATCH, 1, 0, &logits);
  if (!st) st = clmp_model_create(fx.ctx, &cfg, &fx.fresh);
  return st;
}

/* A trainer one step into its first epoch, and one of another architecture. */
static clmp_status make_trainers(void) {
  clmp_train_config cfg = train_config();
  clmp_status st = clmp_trainer_create(fx.ctx, &cfg, &fx.trainer);
  if (!st) st = clmp_trainer_step(fx.trainer, NULL);
  cfg.model = CLMP_TEST_MLP(4);
  if (!st) st = clmp_trainer_create(fx.ctx, &cfg, &fx.narrow);
  return st;
}

static clmp_status make_writer(void) {
  static const float two[2] = {1, 2};
  uint64_t shape[1] = {2};
  clmp_status st = clmp_st_writer_create(&fx.writer);
  if (!st) st = clmp_st_writer_add(fx.writer, "a", CLMP_F32, 1, shape, two);
  if (!st) st = clmp_st_writer_meta(fx.writer, "k0", "v0");
  return st;
}

static int make_folders(void) {
  char path[PATH_SIZE];
  if (clmp_test_work_dir(fx.work, sizeof fx.work, "test_hostile_api") != 0) return -1;
  snprintf(fx.data, sizeof fx.data, "%s/data", fx.work);
  if (mkdir(fx.data, 0755) || mkdir(path_of("@dir", path), 0755)) return -1;
  return clmp_test_write_dataset(fx.data, TRAIN_N, TEST_N, SEED);
}

static int suite_init(void) {
  memset(&fx, 0, sizeof fx);
  clmp_status st = make_folders() ? CLMP_ERR_IO : CLMP_SUCCESS;
  if (!st) st = clmp_ctx_create("ref", &fx.ctx);
  if (!st) st = clmp_ctx_create("ref", &fx.other);
  if (!st) st = hostile_palette_open(&fx.p, fx.ctx, fx.other);
  if (!st) st = clmp_scaler_create(fx.ctx, NULL, &fx.scaler);
  if (!st) st = clmp_scaler_create(fx.other, NULL, &fx.other_scaler);
  if (!st) st = make_optim();
  if (!st) st = make_models();
  if (!st) st = make_trainers();
  if (!st) st = make_writer();
  if (st)
    fprintf(stderr, "test_hostile_api: set-up failed: %s: %s\n", clmp_status_name(st),
            clmp_last_error());
  return st ? -1 : 0;
}

static int suite_cleanup(void) {
  clmp_st_writer_free(fx.writer);
  clmp_trainer_free(fx.trainer), clmp_trainer_free(fx.narrow);
  clmp_model_free(fx.mlp), clmp_model_free(fx.fresh);
  clmp_optim_free(fx.optim);
  clmp_tensor_free(fx.master), clmp_tensor_free(fx.grads), clmp_tensor_free(fx.working);
  clmp_scaler_free(fx.scaler), clmp_scaler_free(fx.other_scaler);
  hostile_palette_close(&fx.p);
  clmp_ctx_free(fx.ctx), clmp_ctx_free(fx.other);
  return 0;
}

int main(void) {
  CU_TestInfo tests[] = {{"device.h: every row refused as stated", test_device_rows},
                         {"amp.h: every row refused as stated", test_amp_rows},
                         {"nn.h: every row refused as stated", test_nn_rows},
                         {"train.h: every row refused as stated", test_train_rows},
                         {"io.h: every row refused as stated", test_io_rows},
                         {"io.h: the writer holds what it held", test_writer_unchanged},
                         {"configurations: one bad field per row", test_field_rows},
                         {"accessors and frees take NULL", test_null_accessors},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"hostile api", suite_init, suite_cleanup, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
