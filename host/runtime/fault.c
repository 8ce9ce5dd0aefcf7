/* host/runtime/fault.c: fault injection (CLMP_FAULT_INJECT builds only): the count of injectable
 * calls, the armed one, and where it failed. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_inject.h"

#define SITE_SIZE 256

static atomic_ulong calls, armed;
static atomic_int fired, recovered, env_read;
static char site[SITE_SIZE];

void clmp__fault_arm(unsigned long n) {
  atomic_store(&env_read, 1);
  atomic_store(&calls, 0);
  atomic_store(&fired, 0);
  atomic_store(&recovered, 0);
  site[0] = '\0';
  atomic_store(&armed, n);
}

/* CLMP_FAULT_AT=n, read once, unless a test armed first. */
static void arm_from_env(void) {
  if (atomic_exchange(&env_read, 1)) return;
  const char *at = getenv("CLMP_FAULT_AT");
  if (at && *at) atomic_store(&armed, strtoul(at, NULL, 10));
}

int clmp__fault_hit(const char *what, const char *file, int line) {
  arm_from_env();
  unsigned long n = atomic_fetch_add(&calls, 1) + 1;
  if (n != atomic_load(&armed)) return 0;
  const char *base = strrchr(file, '/');
  snprintf(site, sizeof site, "%s:%d %s", base ? base + 1 : file, line, what);
  atomic_store(&fired, 1);
  return 1;
}

void *clmp__fault_null(cl_int *err, cl_int code) {
  if (err) *err = code;
  return NULL;
}

void *clmp__fault_enomem(void) {
  errno = ENOMEM;
  return NULL;
}

unsigned long clmp__fault_count(void) {
  return atomic_load(&calls);
}

int clmp__fault_fired(void) {
  return atomic_load(&fired);
}

const char *clmp__fault_site(void) {
  return site;
}

int clmp__fault_recovered(void) {
  return atomic_load(&recovered);
}

void clmp__fault_recover(void) {
  if (atomic_load(&fired) && atomic_load(&calls) == atomic_load(&armed))
    atomic_store(&recovered, 1);
}
