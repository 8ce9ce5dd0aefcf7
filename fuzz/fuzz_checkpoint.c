/* fuzz/fuzz_checkpoint.c: libFuzzer harness of the checkpoint loader (clmp_trainer_resume) on the
 * reference device: a tiny synthetic dataset and model are made once; every input is written to a
 * file and resumed from, and a failed resume must leave the weights untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clmp/clmp.h"

#define SIDE     28
#define EXAMPLES 64
/* An MLP 784-4-10. */
#define MLP_HIDDEN                                                                             \
  "{\"input\": [784], \"layers\": [{\"type\": \"linear\", \"out\": 4}, {\"type\": \"relu\"}, " \
  "{\"type\": \"linear\", \"out\": 10}]}"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[256], input[300];
static clmp_ctx *ctx;
static clmp_trainer *trainer;
static float *weights, *check;
static size_t params;

static void write_idx(const char *name, int ndim, uint32_t n) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  unsigned char head[16] = {0,
                            0,
                            8,
                            (unsigned char)ndim,
                            0,
                            0,
                            (unsigned char)(n >> 8),
                            (unsigned char)n,
                            0,
                            0,
                            0,
                            SIDE,
                            0,
                            0,
                            0,
                            SIDE};
  fwrite(head, 1, 4 + 4 * (size_t)ndim, f);
  size_t bytes = ndim == 3 ? (size_t)n * SIDE * SIDE : n;
  for (size_t i = 0; i < bytes; i++) fputc(ndim == 3 ? (int)(i * 7 % 251) : (int)(i % 10), f);
  fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "/tmp/clmp-fuzz-ckpt-%ld", (long)getpid());
  mkdir(dir, 0700);
  write_idx("train-images-idx3-ubyte", 3, EXAMPLES),
      write_idx("train-labels-idx1-ubyte", 1, EXAMPLES);
  write_idx("t10k-images-idx3-ubyte", 3, EXAMPLES),
      write_idx("t10k-labels-idx1-ubyte", 1, EXAMPLES);
  snprintf(input, sizeof input, "%s/input.safetensors", dir);
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = dir, c.model = MLP_HIDDEN, c.batch = 16, c.epochs = 1;
  if (clmp_ctx_create("ref", &ctx) || clmp_trainer_create(ctx, &c, &trainer)) abort();
  params = clmp_model_params(clmp_trainer_model(trainer));
  weights = malloc(params * sizeof *weights), check = malloc(params * sizeof *check);
  if (!weights || !check) abort();
  clmp_tensor_read(clmp_model_master(clmp_trainer_model(trainer)), CLMP_F32, weights, params);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(input, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  clmp_tensor *master = clmp_model_master(clmp_trainer_model(trainer));
  if (clmp_trainer_resume(trainer, input) == CLMP_SUCCESS) {
    clmp_tensor_read(master, CLMP_F32, weights, params); /* the new state is the baseline */
    return 0;
  }
  clmp_tensor_read(master, CLMP_F32, check, params);
  if (memcmp(weights, check, params * sizeof *check) != 0)
    abort(); /* a failed resume changed weights */
  return 0;
}
