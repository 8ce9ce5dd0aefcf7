/* host/io/idx.c: the IDX dataset format (MNIST, Fashion-MNIST), unsigned-byte type only, read
 * from memory or from a plain or gzip file (zlib reads both) with a bound on its size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "clmp/io.h"
#include "error.h"
#include "util.h"

#define IDX_PREFIX_BYTES 4    /* 0x00 0x00, type, ndim */
#define IDX_DIM_BYTES    4    /* each dim: u32 big-endian */
#define IDX_TYPE_U8      0x08 /* the only element type clmp's datasets use */
#define IDX_TYPE_AT      2    /* byte offsets of the type and ndim bytes */
#define IDX_NDIM_AT      3
#define IDX_READ_LIMIT   ((size_t)1 << 30) /* 1 GiB decompressed */
#define IDX_FIRST_CHUNK  ((size_t)1 << 20) /* first read buffer; doubles up to the limit */
#define IDX_GZ_BUFFER    (128u * 1024u)    /* zlib's input buffer */
#define ERRNO_TEXT_MAX   128

/* What a validated header says: dims, element count and where the data begins. */
typedef struct idx_header {
  int ndim;
  uint32_t dims[CLMP_IDX_MAX_DIMS];
  size_t count;
  size_t data_at;
} idx_header;

/* Reads path with at most limit bytes decompressed (clmp_idx_read's bound is IDX_READ_LIMIT;
 * tests pass a small one). Internal: declared here and in tests/test_io.c. */
clmp_status clmp__idx_read_limited(const char *path, size_t limit, clmp_idx *out);

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static clmp_status check_prefix(const uint8_t *b, size_t len, const char *what) {
  if (len == 0) return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: empty (0 bytes), not an IDX file", what);
  if (len < IDX_PREFIX_BYTES)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: truncated header: %zu bytes, want at least %d", what,
                     len, IDX_PREFIX_BYTES);
  if (b[0] != 0 || b[1] != 0)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: bad magic 0x%02x%02x at byte 0, want 0x0000", what, b[0],
                     b[1]);
  if (b[IDX_TYPE_AT] != IDX_TYPE_U8)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: unsupported element type 0x%02x at byte %d (only 0x08, unsigned byte)",
                     what, b[IDX_TYPE_AT], IDX_TYPE_AT);
  if (b[IDX_NDIM_AT] < 1 || b[IDX_NDIM_AT] > CLMP_IDX_MAX_DIMS)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: ndim %d at byte %d is outside 1..%d", what,
                     b[IDX_NDIM_AT], IDX_NDIM_AT, CLMP_IDX_MAX_DIMS);
  return CLMP_SUCCESS;
}

/* Validates the whole layout: prefix, dims, and data that fills the rest of the buffer. */
static clmp_status parse_header(const uint8_t *b, size_t len, const char *what, idx_header *h) {
  clmp_status st = check_prefix(b, len, what);
  if (st != CLMP_SUCCESS) return st;
  memset(h, 0, sizeof *h);
  h->ndim = b[IDX_NDIM_AT];
  h->data_at = IDX_PREFIX_BYTES + (size_t)h->ndim * IDX_DIM_BYTES;
  if (len < h->data_at)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: truncated header: %zu bytes, %d dims need %zu", what,
                     len, h->ndim, h->data_at);
  h->count = 1;
  for (int i = 0; i < h->ndim; i++) {
    h->dims[i] = be32(b + IDX_PREFIX_BYTES + (size_t)i * IDX_DIM_BYTES);
    if (h->dims[i] != 0 && h->count > SIZE_MAX / h->dims[i])
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: the product of the dims overflows at dim %d (%u)",
                       what, i, (unsigned)h->dims[i]);
    h->count *= h->dims[i];
  }
  size_t have = len - h->data_at;
  if (have < h->count)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: truncated data: %zu bytes from byte %zu, the dims need %zu (%zu missing)",
                     what, have, h->data_at, h->count, h->count - have);
  if (have > h->count)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: %zu trailing bytes after the data, from byte %zu", what,
                     have - h->count, h->data_at + h->count);
  return CLMP_SUCCESS;
}

static void fill_out(const idx_header *h, uint8_t *data, clmp_idx *out) {
  out->ndim = h->ndim;
  memcpy(out->dims, h->dims, sizeof out->dims);
  out->count = h->count;
  out->data = data;
}

clmp_status clmp_idx_parse(const void *buf, size_t len, const char *what, clmp_idx *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || (!buf && len > 0))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_idx_parse: NULL %s", out ? "buf" : "out");
  if (!what) what = "IDX buffer";
  idx_header h;
  clmp_status st = parse_header(buf, len, what, &h);
  if (st != CLMP_SUCCESS) return st;
  uint8_t *data = malloc(h.count ? h.count : 1);
  if (!data) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %zu bytes of data", what, h.count);
  if (h.count) memcpy(data, (const uint8_t *)buf + h.data_at, h.count);
  fill_out(&h, data, out);
  return CLMP_SUCCESS;
}

/* Why gzread stopped, as a status: a read error (IO) or a damaged or cut stream (FORMAT). */
static clmp_status gz_failure(gzFile gz, const char *path) {
  int zerr = Z_OK;
  const char *msg = gzerror(gz, &zerr);
  if (zerr == Z_ERRNO) {
    char text[ERRNO_TEXT_MAX];
    return CLMP_FAIL(CLMP_ERR_IO, "%s: read failed: %s", path,
                     clmp__errno_text(errno, text, sizeof text));
  }
  if (zerr == Z_BUF_ERROR)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: truncated gzip stream (%s)", path, msg);
  if (zerr == Z_MEM_ERROR) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: zlib: %s", path, msg);
  return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: damaged gzip stream: %s (zlib %d)", path, msg, zerr);
}

/* Grows *buf so that more bytes fit, never beyond limit + 1 (one more than allowed shows that
 * the input is too large). */
static clmp_status grow(uint8_t **buf, size_t *cap, size_t limit, const char *path) {
  size_t next = *cap < (limit + 1) / 2 ? *cap * 2 : limit + 1;
  uint8_t *p = realloc(*buf, next);
  if (!p) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %zu bytes to read into", path, next);
  *buf = p;
  *cap = next;
  return CLMP_SUCCESS;
}

/* Reads all of gz into a malloc'ed buffer, failing beyond limit bytes or on a damaged stream. */
static clmp_status gz_slurp(gzFile gz, const char *path, size_t limit, uint8_t **out, size_t *n) {
  clmp_status st = CLMP_SUCCESS;
  size_t cap = IDX_FIRST_CHUNK < limit + 1 ? IDX_FIRST_CHUNK : limit + 1, len = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %zu bytes to read into", path, cap);
  for (;;) {
    if (len == cap) {
      if (cap > limit)
        CLMP_RAISE(CLMP_ERR_FORMAT, "%s: more than %zu bytes once decompressed (the limit)", path,
                   limit);
      CLMP_TRY(grow(&buf, &cap, limit, path));
    }
    size_t want = cap - len < IDX_READ_LIMIT ? cap - len : IDX_READ_LIMIT;
    int got = gzread(gz, buf + len, (unsigned)want);
    if (got < 0) CLMP_TRY(gz_failure(gz, path));
    if (got == 0) break;
    len += (size_t)got;
  }
  int zerr = Z_OK;
  gzerror(gz, &zerr);
  if (zerr != Z_OK) CLMP_TRY(gz_failure(gz, path));
  *out = buf;
  *n = len;
  return CLMP_SUCCESS;
cleanup:
  free(buf);
  return st;
}

/* Opens path for gz reading, refusing anything but a regular file (a directory opens too). */
static clmp_status gz_open(const char *path, gzFile *out) {
  char text[ERRNO_TEXT_MAX];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return CLMP_FAIL(CLMP_ERR_IO, "cannot open %s: %s", path,
                     clmp__errno_text(errno, text, sizeof text));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return CLMP_FAIL(CLMP_ERR_IO, "cannot stat %s: %s", path,
                     clmp__errno_text(e, text, sizeof text));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return CLMP_FAIL(CLMP_ERR_IO, "cannot read %s: %s", path,
                     S_ISDIR(sb.st_mode) ? "it is a directory" : "not a regular file");
  }
  *out = gzdopen(fd, "rb");
  if (!*out) {
    close(fd);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: gzdopen", path);
  }
  gzbuffer(*out, IDX_GZ_BUFFER);
  return CLMP_SUCCESS;
}

clmp_status clmp__idx_read_limited(const char *path, size_t limit, clmp_idx *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_idx_read: NULL %s", out ? "path" : "out");
  gzFile gz = NULL;
  clmp_status st = gz_open(path, &gz);
  if (st != CLMP_SUCCESS) return st;
  uint8_t *buf = NULL;
  size_t len = 0;
  st = gz_slurp(gz, path, limit, &buf, &len);
  gzclose_r(gz);
  if (st != CLMP_SUCCESS) return st;
  idx_header h;
  st = parse_header(buf, len, path, &h);
  if (st != CLMP_SUCCESS) {
    free(buf);
    return st;
  }
  memmove(buf, buf + h.data_at, h.count);
  uint8_t *shrunk = realloc(buf, h.count ? h.count : 1);
  if (!shrunk) CLMP_RECOVERED(); /* the larger block serves as well */
  fill_out(&h, shrunk ? shrunk : buf, out);
  return CLMP_SUCCESS;
}

clmp_status clmp_idx_read(const char *path, clmp_idx *out) {
  return clmp__idx_read_limited(path, IDX_READ_LIMIT, out);
}

void clmp_idx_free(clmp_idx *idx) {
  if (!idx) return;
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}
