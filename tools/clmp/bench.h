/* tools/clmp/bench.h: what the sections of `clmp bench` share: the run (options, device, the
 * references measured so far), timing, child processes, and printing figures with their ratios. */
#ifndef CLMP_TOOLS_BENCH_H
#define CLMP_TOOLS_BENCH_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "cli.h"

/* The sections, in the order they run (the copy bandwidth first: optim's reference). */
enum { BENCH_COPY, BENCH_GEMM, BENCH_CONV, BENCH_OPTIM, BENCH_START, BENCH_TRAIN, BENCH_SECTIONS };

typedef struct bench_opts {
  const char *device;   /* NULL: auto */
  const char *data;     /* the train section's dataset folder; NULL: synthetic images */
  const char *json_out; /* also write the JSON document to this file; NULL: no */
  int json, quick, torch;
  unsigned sections; /* bit s: section s runs */
} bench_opts;

typedef struct bench_run {
  bench_opts opts;
  clmp_ctx *ctx;
  const clmp_device_info *dev;
  char device_id[16]; /* "cl:N" or "ref": how child processes name the device */
  cJSON *torch;       /* bench_torch.py's document; NULL without --torch or when it failed */
  double copy_gbs;    /* the copy section's best figure, GB/s read + written; 0: not measured */
} bench_run;

/* A section: measures, prints its table (without --json) and fills its JSON object. */
typedef struct bench_section {
  const char *name;
  const char *summary; /* for --help */
  clmp_status (*run)(bench_run *r, cJSON *out);
} bench_section;

clmp_status bench_copy(bench_run *r, cJSON *out);
clmp_status bench_gemm(bench_run *r, cJSON *out);
clmp_status bench_conv(bench_run *r, cJSON *out);
clmp_status bench_optim(bench_run *r, cJSON *out);
clmp_status bench_start(bench_run *r, cJSON *out);
clmp_status bench_train(bench_run *r, cJSON *out);

/* --- timing (bench_util.c) ------------------------------------------------------------------- */

/* One call of the operation being timed; queued work, no wait. */
typedef clmp_status (*bench_fn)(void *user);

/* The next number of a seeded sequence (Knuth's MMIX LCG: use the high bits), for test data. */
uint64_t bench_random(uint64_t *state);

/* A tensor of dtype d and shape (ndim dimensions) holding uniform values in [-1, 1) from a
 * sequence seeded by seed and the element count. */
clmp_status bench_random_tensor(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                                uint64_t seed, clmp_tensor **out);

/* Monotonic clock, seconds. */
double bench_now(void);

/* Seconds per call of fn, by the wall clock around clmp_ctx_finish: a first call (kernel builds)
 * and a second (calibration) not counted, then the median of samples of back-to-back calls, each
 * sample long enough to hide the finish (fewer samples for calls of a second or more). */
clmp_status bench_time(bench_run *r, bench_fn fn, void *user, double *seconds);

/* --- figures --------------------------------------------------------------------------------- */

/* a / b, or NAN when either is not a positive number. */
double bench_ratio(double a, double b);

/* "1.23x", or "-" for NAN. */
const char *bench_ratio_text(double ratio, char *buf, size_t size);

/* v with that many decimals, or "-" when it is not a positive number (a figure not measured). */
const char *bench_value_text(double v, int decimals, char *buf, size_t size);

/* Adds a number, or null when it is not finite (JSON has no NaN). */
void bench_json_number(cJSON *o, const char *key, double v);

/* printf, unless --json. */
void bench_print(const bench_run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The PyTorch figure of bench_torch.py's list `list` whose `key` equals `value` (a string, or a
 * number when value_str is NULL), from r->torch; NULL if there is none. */
const cJSON *bench_torch_row(const bench_run *r, const char *list, const char *key,
                             const char *value_str, double value);

/* --- child processes and files (bench_child.c) ------------------------------------------------ */

/* Runs argv (argv[0] looked up in PATH), with env's changes to our environment ("NAME=value"
 * sets, "NAME" removes; NULL-terminated), input written to its stdin (NULL: none); *out receives
 * its stdout (malloc'ed, NUL-terminated), *status its exit status (-1: killed). stderr is ours.
 * Returns 0, or an errno value when it could not be started. */
int bench_spawn(char *const argv[], const char *const *env, const char *input, char **out,
                int *status);

/* A new empty folder under $TMPDIR (or /tmp) named clmp-bench-<what>-XXXXXX into buf; -1 on
 * failure. bench_remove_dir deletes it and everything in it (links are removed, not followed). */
int bench_temp_dir(const char *what, char *buf, size_t size);
void bench_remove_dir(const char *dir);

/* --- PyTorch (bench_torch.c) ----------------------------------------------------------------- */

/* Runs bench_torch.py (embedded) with $CLMP_PYTHON or python3; on success r->torch holds its
 * document and out a copy, else out gets "error" and a message is printed. */
clmp_status bench_torch(bench_run *r, cJSON *out);

/* The hidden `clmp bench --start-child`: opens the device and prepares every training program,
 * printing the times as JSON (bench_start.c). */
int bench_start_child(const char *device, int quick);

#endif
