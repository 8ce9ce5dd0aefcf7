/* host/runtime/cache.c: the on-disk cache of built program binaries. An entry's file name is a
 * hash of its key; the file holds the full key and a checksum, both checked on load, and is
 * written to a temporary file and renamed, so readers never see half an entry. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "runtime.h"

/* File layout: magic, key length, binary length (u64 LE), key, binary, checksum (u64 LE) of all
 * bytes before it. */
static const char MAGIC[8] = {'C', 'L', 'M', 'P', 'B', 'I', 'N', '1'};
#define HEADER_SIZE 24
#define TRAILER_SIZE 8
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
/* An entry larger than this is not a program binary of ours. */
#define MAX_ENTRY_SIZE ((size_t)1 << 30)

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
  return h;
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* mkdir -p; returns 0 when dir exists (or was made) as a folder. */
static int make_dirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return -1;
  memcpy(path, dir, n + 1);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

const char *clmp__cache_dir(char *buf, size_t size) {
  const char *off = getenv("CLMP_CACHE");
  if (off && !strcmp(off, "0")) return NULL;
  const char *dir = getenv("CLMP_CACHE_DIR");
  int n = -1;
  if (dir && *dir) {
    n = snprintf(buf, size, "%s", dir);
  } else if ((dir = getenv("XDG_CACHE_HOME")) && *dir) {
    n = snprintf(buf, size, "%s/clmp", dir);
  } else if ((dir = getenv("HOME")) && *dir) {
    n = snprintf(buf, size, "%s/.cache/clmp", dir);
  }
  return n > 0 && (size_t)n < size ? buf : NULL;
}

static void entry_path(const char *dir, const char *key, size_t key_len, char *buf, size_t size) {
  uint64_t h = fnv1a(FNV_OFFSET, (const unsigned char *)key, key_len);
  snprintf(buf, size, "%s/%016llx.clbin", dir, (unsigned long long)h);
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *data = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size >= 0 && (size_t)size <= MAX_ENTRY_SIZE && fseek(f, 0, SEEK_SET) == 0) {
    data = malloc(size ? (size_t)size : 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  *len = data ? (size_t)size : 0;
  return data;
}

/* Checks an entry's layout, checksum and key; returns the binary's offset or 0 if invalid. */
static size_t entry_check(const unsigned char *d, size_t n, const char *key, size_t key_len,
                          size_t *bin_len) {
  if (n < HEADER_SIZE + TRAILER_SIZE || memcmp(d, MAGIC, sizeof MAGIC)) return 0;
  uint64_t klen = get_u64(d + 8), blen = get_u64(d + 16);
  if (klen != key_len || blen == 0 || blen > n || HEADER_SIZE + klen + blen + TRAILER_SIZE != n)
    return 0;
  if (fnv1a(FNV_OFFSET, d, n - TRAILER_SIZE) != get_u64(d + n - TRAILER_SIZE)) return 0;
  if (memcmp(d + HEADER_SIZE, key, key_len)) return 0;
  *bin_len = (size_t)blen;
  return HEADER_SIZE + key_len;
}

int clmp__cache_load(const char *dir, const char *key, size_t key_len, unsigned char **bin,
                     size_t *bin_len) {
  char path[4200];
  entry_path(dir, key, key_len, path, sizeof path);
  size_t n = 0;
  unsigned char *data = read_file(path, &n);
  if (!data) return 0;
  size_t off = entry_check(data, n, key, key_len, bin_len);
  if (off) memmove(data, data + off, *bin_len);
  *bin = off ? data : NULL;
  if (!off) free(data);
  return off ? 1 : -1;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static unsigned char *entry_build(const char *key, size_t key_len, const unsigned char *bin,
                                  size_t bin_len, size_t *n) {
  *n = HEADER_SIZE + key_len + bin_len + TRAILER_SIZE;
  unsigned char *d = malloc(*n);
  if (!d) return NULL;
  memcpy(d, MAGIC, sizeof MAGIC);
  put_u64(d + 8, key_len);
  put_u64(d + 16, bin_len);
  memcpy(d + HEADER_SIZE, key, key_len);
  memcpy(d + HEADER_SIZE + key_len, bin, bin_len);
  put_u64(d + *n - TRAILER_SIZE, fnv1a(FNV_OFFSET, d, *n - TRAILER_SIZE));
  return d;
}

int clmp__cache_store(const char *dir, const char *key, size_t key_len, const unsigned char *bin,
                      size_t bin_len) {
  static _Thread_local unsigned serial;
  char path[4200], tmp[4300];
  if (make_dirs(dir) != 0) return -1;
  entry_path(dir, key, key_len, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), serial++);
  size_t n = 0;
  unsigned char *d = entry_build(key, key_len, bin, bin_len, &n);
  if (!d) return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  int ok = fd >= 0 && write_all(fd, d, n) == 0 && fsync(fd) == 0;
  if (fd >= 0 && close(fd) != 0) ok = 0;
  free(d);
  if (ok && rename(tmp, path) == 0) return 0;
  if (fd >= 0) unlink(tmp);
  return -1;
}
