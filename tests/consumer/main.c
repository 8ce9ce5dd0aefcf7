/* tests/consumer/main.c: a user's program against the installed clmp, through the public header
 * only: the version, a context on "ref", a tensor written as f32 and read back as f16. */
#include <clmp/clmp.h>

#include <stdio.h>
#include <string.h>

#define N_VALUES 8

/* Values that f16 holds exactly, rounds, keeps as subnormals, and overflows to infinity. */
static const float values[N_VALUES] = {0.0f,     1.0f,  -2.5f,     0.1f,
                                       65504.0f, 1e-7f, -70000.0f, 3.14159f};

static int check(int ok, const char *what) {
  if (!ok) fprintf(stderr, "clmp_consumer: %s failed\n", what);
  return ok;
}

static int check_status(clmp_status st, const char *what) {
  if (st != CLMP_SUCCESS)
    fprintf(stderr, "clmp_consumer: %s: %s (%s)\n", what, clmp_status_name(st), clmp_last_error());
  return st == CLMP_SUCCESS;
}

/* The f16 bits read back equal clmp_f32_to_f16 of what was written (exact: "ref" rounds the same
 * way, to nearest even). */
static int check_halves(const uint16_t *half) {
  int ok = 1;
  for (size_t i = 0; i < N_VALUES; i++) {
    uint16_t want = clmp_f32_to_f16(values[i]);
    if (half[i] != want) {
      fprintf(stderr, "clmp_consumer: element %zu (%g): read 0x%04x as f16, want 0x%04x\n", i,
              (double)values[i], (unsigned)half[i], (unsigned)want);
      ok = 0;
    }
  }
  return ok;
}

static int round_trip(clmp_ctx *ctx) {
  clmp_tensor *t = NULL;
  const size_t shape[1] = {N_VALUES};
  uint16_t half[N_VALUES];
  memset(half, 0, sizeof half);
  int ok = check_status(clmp_tensor_create(ctx, CLMP_F32, 1, shape, &t), "clmp_tensor_create") &&
           check(clmp_tensor_numel(t) == N_VALUES, "clmp_tensor_numel") &&
           check_status(clmp_tensor_write(t, CLMP_F32, values, N_VALUES), "clmp_tensor_write") &&
           check_status(clmp_tensor_read(t, CLMP_F16, half, N_VALUES), "clmp_tensor_read (f16)") &&
           check_halves(half);
  clmp_tensor_free(t);
  return ok;
}

int main(void) {
  printf("clmp %s\n", CLMP_VERSION_STRING);
  clmp_ctx *ctx = NULL;
  int ok =
      check_status(clmp_ctx_create("ref", &ctx), "clmp_ctx_create(\"ref\")") &&
      check(clmp_ctx_device(ctx)->kind == CLMP_DEVICE_REF, "context on the reference device") &&
      round_trip(ctx);
  clmp_ctx_free(ctx);
  clmp_ctx_free(NULL);
  clmp_tensor_free(NULL);
  printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
