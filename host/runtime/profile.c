/* host/runtime/profile.c: CLMP_PROFILE's per-kernel device times (see profile.h). */
#include "profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_PENDING 4096 /* events held before a collect is forced */
#define PROFILE_KERNELS 64   /* distinct kernel names summed; more go to "(other)" */

typedef struct profile_row {
  const char *name; /* a string literal of the launch site */
  unsigned long launches;
  double ns;
} profile_row;

struct clmp__profile {
  cl_event events[PROFILE_PENDING];
  const char *names[PROFILE_PENDING];
  size_t pending;
  profile_row rows[PROFILE_KERNELS + 1];
  size_t nrows;
  double first_start, last_end; /* the span the launches covered, ns */
};

clmp__profile *clmp__profile_open(void) {
  const char *env = getenv("CLMP_PROFILE");
  if (!env || !*env || !strcmp(env, "0")) return NULL;
  clmp__profile *p = calloc(1, sizeof *p);
  if (!p) fprintf(stderr, "clmp: CLMP_PROFILE: no memory for the profile, profiling off\n");
  return p;
}

static profile_row *row_of(clmp__profile *p, const char *name) {
  for (size_t i = 0; i < p->nrows; i++)
    if (!strcmp(p->rows[i].name, name)) return &p->rows[i];
  if (p->nrows == PROFILE_KERNELS) {
    p->rows[PROFILE_KERNELS].name = "(other)";
    return &p->rows[PROFILE_KERNELS];
  }
  p->rows[p->nrows].name = name;
  return &p->rows[p->nrows++];
}

/* Adds one finished event to its row (an event without times is counted, with 0 ns). */
static void add_event(clmp__profile *p, cl_event e, const char *name) {
  cl_ulong start = 0, end = 0;
  profile_row *r = row_of(p, name);
  r->launches++;
  if (clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL) ||
      clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) || end < start)
    return;
  r->ns += (double)(end - start);
  if (!p->first_start || (double)start < p->first_start) p->first_start = (double)start;
  if ((double)end > p->last_end) p->last_end = (double)end;
}

void clmp__profile_collect(clmp_ctx *ctx) {
  clmp__profile *p = ctx->profile;
  if (!p) return;
  for (size_t i = 0; i < p->pending; i++) {
    if (!p->events[i]) continue; /* the enqueue failed */
    if (clWaitForEvents(1, &p->events[i]) == CL_SUCCESS) add_event(p, p->events[i], p->names[i]);
    clReleaseEvent(p->events[i]);
  }
  p->pending = 0;
}

cl_event *clmp__profile_slot(clmp_ctx *ctx, const char *name) {
  clmp__profile *p = ctx->profile;
  if (!p) return NULL;
  if (p->pending == PROFILE_PENDING) clmp__profile_collect(ctx);
  p->names[p->pending] = name;
  p->events[p->pending] = NULL;
  return &p->events[p->pending++];
}

void clmp__profile_close(clmp_ctx *ctx) {
  clmp__profile *p = ctx->profile;
  if (!p) return;
  clmp__profile_collect(ctx);
  double total = 0;
  for (size_t i = 0; i <= PROFILE_KERNELS; i++) total += p->rows[i].ns;
  fprintf(stderr, "clmp profile (\"%s\"): %.3f ms of kernels in a span of %.3f ms\n",
          ctx->info.name, total / 1e6, (p->last_end - p->first_start) / 1e6);
  for (size_t i = 0; i <= PROFILE_KERNELS; i++) {
    const profile_row *r = &p->rows[i];
    if (!r->launches) continue;
    fprintf(stderr, "  %-24s %8lu launches %12.3f ms %10.2f us each %5.1f %%\n", r->name,
            r->launches, r->ns / 1e6, r->ns / 1e3 / (double)r->launches,
            total > 0 ? 100 * r->ns / total : 0.0);
  }
  free(p);
  ctx->profile = NULL;
}
