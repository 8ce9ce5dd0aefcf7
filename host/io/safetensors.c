/* host/io/safetensors.c: safetensors checkpoints: a reader that validates the whole header and
 * layout (the reference implementation's rules: no overlaps, no holes) and an atomic writer. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clmp/io.h"
#include "error.h"
#include "unnamed.h"
#include "util.h"

#define ST_LEN_BYTES   8          /* the u64 little-endian header length */
#define ST_ALIGN       8          /* the writer pads the header to a multiple of this */
#define ST_MAX_HEADER  100000000u /* 100 MB, the reference implementation's limit */
#define ST_MAX_EXACT   0x1p53     /* JSON numbers beyond 2^53 are not exact in a double */
#define ST_META        "__metadata__"
#define ST_TMP_SUFFIX  ".tmp-XXXXXX" /* mkstemp's template, beside the target */
#define ST_LINK_TRIES  4             /* names tried for a complete unnamed temporary file */
#define ST_NEW_MODE    0644          /* a new file's permissions; a replaced file keeps its own */
#define ST_MODE_BITS   0777
#define ST_SB_MIN      256 /* the header buffer's first capacity */
#define ST_NUM_MAX     24  /* a u64 in decimal, with its NUL */
#define ST_ESC_MAX     8   /* "\u00XX" and its NUL */
#define ERRNO_TEXT_MAX 128

typedef struct st_dtype_name {
  clmp_dtype dtype;
  const char *name;
} st_dtype_name;

static const st_dtype_name st_dtypes[] = {
    {CLMP_F32, "F32"}, {CLMP_F16, "F16"}, {CLMP_BF16, "BF16"}, {CLMP_I32, "I32"}, {CLMP_U8, "U8"}};
#define ST_N_DTYPES (sizeof st_dtypes / sizeof *st_dtypes)

/* A parsed tensor: the public entry plus its name's storage and its place in the data buffer. */
typedef struct st_tensor {
  clmp_st_entry pub;
  char *name;
  uint64_t begin, end;
} st_tensor;

typedef struct st_meta {
  char *key, *value;
} st_meta;

struct clmp_safetensors {
  uint8_t *bytes; /* the whole file */
  size_t len;
  st_tensor *tensors; /* in header order */
  size_t count;
  st_tensor **by_name; /* sorted by name, for clmp_safetensors_find */
  st_meta *meta;       /* sorted by key */
  size_t meta_count;
};

/* What a parse needs to know for its checks and its messages. */
typedef struct st_ctx {
  const char *what;
  const uint8_t *data; /* the data buffer, after the header */
  uint64_t data_len;
  size_t data_at; /* its offset in the file */
  int seen_meta;
} st_ctx;

typedef struct st_item {
  char *name;
  clmp_dtype dtype;
  int ndim;
  uint64_t shape[CLMP_MAX_DIMS];
  void *data;
  size_t nbytes;
} st_item;

struct clmp_st_writer {
  st_item *items;
  size_t count, cap;
  st_meta *meta;
  size_t meta_count, meta_cap;
};

/* A growable string that remembers a failed allocation. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

/* --- helpers -----------------------------------------------------------------------------------
 */

static const char *dtype_name(clmp_dtype dt) {
  for (size_t i = 0; i < ST_N_DTYPES; i++)
    if (st_dtypes[i].dtype == dt) return st_dtypes[i].name;
  return NULL;
}

/* The smallest code point of an n+1-byte UTF-8 sequence (shorter ones are overlong); 1 for a
 * single byte, so that a NUL counts as invalid. */
static const uint32_t utf8_min_cp[] = {0x1, 0x80, 0x800, 0x10000};
#define UTF8_MAX_CP 0x10FFFFu

/* The offset of the first byte that is not valid UTF-8 (a NUL counts as invalid), else len. */
static size_t utf8_invalid_at(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1Fu : n == 2 ? c & 0x0Fu : c & 0x07u;
    if ((c & 0xC0) == 0x80 || c >= 0xF8 || len - i <= n) return i; /* stray, bad or cut lead */
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3Fu);
    }
    if (cp < utf8_min_cp[n] || cp > UTF8_MAX_CP || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return len;
}

static int valid_utf8(const char *s) {
  size_t n = strlen(s);
  return utf8_invalid_at((const uint8_t *)s, n) == n;
}

/* *out = a * b, or 0 when that overflows. */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (b != 0 && a > UINT64_MAX / b) return 0;
  *out = a * b;
  return 1;
}

/* The byte size of a tensor, or 0 when product(shape) * dtype size overflows. */
static int tensor_bytes(clmp_dtype dt, int ndim, const uint64_t *shape, uint64_t *out) {
  uint64_t n = clmp_dtype_size(dt);
  for (int i = 0; i < ndim; i++)
    if (!mul_u64(n, shape[i], &n)) return 0;
  *out = n;
  return 1;
}

/* --- reading -----------------------------------------------------------------------------------
 */

/* A JSON number that is a non-negative integer, exact in a double. */
static int json_u64(const cJSON *j, uint64_t *v) {
  if (!cJSON_IsNumber(j)) return 0;
  double d = j->valuedouble;
  if (!(d >= 0.0) || d > ST_MAX_EXACT || d != (double)(uint64_t)d) return 0;
  *v = (uint64_t)d;
  return 1;
}

static clmp_status parse_dtype(const cJSON *j, const st_ctx *c, st_tensor *t) {
  if (!cJSON_IsString(j))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\": \"dtype\" is not a string", c->what,
                     t->name);
  for (size_t i = 0; i < ST_N_DTYPES; i++)
    if (strcmp(j->valuestring, st_dtypes[i].name) == 0) {
      t->pub.dtype = st_dtypes[i].dtype;
      return CLMP_SUCCESS;
    }
  return CLMP_FAIL(CLMP_ERR_FORMAT,
                   "%s: tensor \"%s\": unsupported dtype \"%s\" (want F32, F16, BF16, I32 or U8)",
                   c->what, t->name, j->valuestring);
}

static clmp_status parse_shape(const cJSON *j, const st_ctx *c, st_tensor *t) {
  if (!cJSON_IsArray(j))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\": \"shape\" is not an array", c->what,
                     t->name);
  int n = cJSON_GetArraySize(j);
  if (n > CLMP_MAX_DIMS)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\": \"shape\" has %d dims, at most %d",
                     c->what, t->name, n, CLMP_MAX_DIMS);
  int i = 0;
  for (const cJSON *d = j->child; d; d = d->next, i++)
    if (!json_u64(d, &t->pub.shape[i]))
      return CLMP_FAIL(CLMP_ERR_FORMAT,
                       "%s: tensor \"%s\": \"shape\"[%d] is not a non-negative integer", c->what,
                       t->name, i);
  t->pub.ndim = n;
  return CLMP_SUCCESS;
}

static clmp_status parse_offsets(const cJSON *j, const st_ctx *c, st_tensor *t) {
  if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !json_u64(j->child, &t->begin) ||
      !json_u64(j->child->next, &t->end))
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: tensor \"%s\": \"data_offsets\" is not two non-negative integers",
                     c->what, t->name);
  return CLMP_SUCCESS;
}

/* The three fields of a tensor entry, each exactly once; other fields are ignored, as the
 * reference implementation ignores them. */
static clmp_status parse_fields(const cJSON *obj, const st_ctx *c, st_tensor *t) {
  static const char *const names[] = {"dtype", "shape", "data_offsets"};
  const cJSON *field[3] = {NULL, NULL, NULL};
  for (const cJSON *f = obj->child; f; f = f->next)
    for (int k = 0; k < 3; k++) {
      if (strcmp(f->string, names[k]) != 0) continue;
      if (field[k])
        return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\": field \"%s\" appears twice", c->what,
                         t->name, names[k]);
      field[k] = f;
    }
  for (int k = 0; k < 3; k++)
    if (!field[k])
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\" lacks the field \"%s\"", c->what,
                       t->name, names[k]);
  clmp_status st = parse_dtype(field[0], c, t);
  if (st == CLMP_SUCCESS) st = parse_shape(field[1], c, t);
  if (st == CLMP_SUCCESS) st = parse_offsets(field[2], c, t);
  return st;
}

/* The offsets lie in the data buffer and span exactly product(shape) * dtype size bytes. */
static clmp_status check_extent(const st_ctx *c, st_tensor *t) {
  unsigned long long b = t->begin, e = t->end;
  if (t->begin > t->end || t->end > c->data_len)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: tensor \"%s\": data_offsets [%llu, %llu] are reversed or beyond the "
                     "data buffer of %llu bytes (file bytes %zu..)",
                     c->what, t->name, b, e, (unsigned long long)c->data_len, c->data_at);
  uint64_t need = 0;
  if (!tensor_bytes(t->pub.dtype, t->pub.ndim, t->pub.shape, &need))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\": the byte size of its shape overflows",
                     c->what, t->name);
  if (e - b != need)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes, its shape "
                     "and dtype %s need %llu",
                     c->what, t->name, b, e, e - b, dtype_name(t->pub.dtype),
                     (unsigned long long)need);
  t->pub.nbytes = (size_t)need;
  t->pub.data = c->data + t->begin;
  return CLMP_SUCCESS;
}

static clmp_status parse_tensor(const cJSON *j, const st_ctx *c, st_tensor *t) {
  t->name = clmp__strdup(j->string);
  if (!t->name) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: a tensor name", c->what);
  t->pub.name = t->name;
  if (!cJSON_IsObject(j))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\": its entry is not a JSON object", c->what,
                     t->name);
  clmp_status st = parse_fields(j, c, t);
  return st == CLMP_SUCCESS ? check_extent(c, t) : st;
}

static int meta_by_key(const void *a, const void *b) {
  return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

/* "__metadata__": once, an object of string values, keys unique. */
static clmp_status parse_meta(const cJSON *j, st_ctx *c, clmp_safetensors *f) {
  if (c->seen_meta++)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: \"%s\" appears twice", c->what, ST_META);
  if (!cJSON_IsObject(j))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: \"%s\" is not a JSON object", c->what, ST_META);
  f->meta = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof *f->meta);
  if (!f->meta) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: metadata", c->what);
  for (const cJSON *m = j->child; m; m = m->next) {
    if (!cJSON_IsString(m))
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: \"%s\" value of \"%s\" is not a string", c->what,
                       ST_META, m->string);
    st_meta *e = &f->meta[f->meta_count++];
    e->key = clmp__strdup(m->string);
    e->value = clmp__strdup(m->valuestring);
    if (!e->key || !e->value)
      return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: metadata", c->what);
  }
  qsort(f->meta, f->meta_count, sizeof *f->meta, meta_by_key);
  for (size_t i = 1; i < f->meta_count; i++)
    if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0)
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: \"%s\" key \"%s\" appears twice", c->what, ST_META,
                       f->meta[i].key);
  return CLMP_SUCCESS;
}

static clmp_status parse_entries(const cJSON *root, st_ctx *c, clmp_safetensors *f) {
  size_t n = 0;
  for (const cJSON *e = root->child; e; e = e->next) n += strcmp(e->string, ST_META) != 0;
  f->tensors = calloc(n + 1, sizeof *f->tensors);
  if (!f->tensors) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %zu tensors", c->what, n);
  clmp_status st = CLMP_SUCCESS;
  for (const cJSON *e = root->child; e && st == CLMP_SUCCESS; e = e->next)
    st = strcmp(e->string, ST_META) == 0 ? parse_meta(e, c, f)
                                         : parse_tensor(e, c, &f->tensors[f->count++]);
  return st;
}

static int is_json_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The offset of a "\u0000" escape in JSON text, else n: cJSON would cut the string there, so a
 * name "a\u0000b" would silently read as "a". Outside strings a backslash is a JSON error anyway.
 */
static size_t escaped_nul_at(const char *text, size_t n) {
  static const char nul[] = "u0000";
  for (size_t i = 0; i + 1 < n; i++) {
    if (text[i] != '\\') continue;
    if (n - i - 1 >= sizeof nul - 1 && memcmp(text + i + 1, nul, sizeof nul - 1) == 0) return i;
    i++; /* the escaped character, which may be a backslash */
  }
  return n;
}

/* The header: UTF-8, one JSON object, nothing but whitespace after it. */
static clmp_status parse_header(const char *text, size_t n, st_ctx *c, clmp_safetensors *f) {
  size_t bad = utf8_invalid_at((const uint8_t *)text, n);
  if (bad < n)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: the header is not UTF-8 text (file byte %zu, 0x%02x)",
                     c->what, ST_LEN_BYTES + bad, (unsigned)(uint8_t)text[bad]);
  size_t nul = escaped_nul_at(text, n);
  if (nul < n)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: the header escapes a NUL character at file byte %zu",
                     c->what, ST_LEN_BYTES + nul);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
  size_t at = ST_LEN_BYTES + (end ? (size_t)(end - text) : 0);
  if (!root)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: the header is not valid JSON (near file byte %zu)",
                     c->what, at);
  clmp_status st = CLMP_SUCCESS;
  size_t tail = end ? (size_t)(end - text) : n;
  while (tail < n && is_json_space(text[tail])) tail++;
  if (tail < n)
    st = CLMP_FAIL(CLMP_ERR_FORMAT, "%s: bytes after the header's JSON at file byte %zu", c->what,
                   ST_LEN_BYTES + tail);
  else if (!cJSON_IsObject(root))
    st = CLMP_FAIL(CLMP_ERR_FORMAT, "%s: the header is not a JSON object", c->what);
  else
    st = parse_entries(root, c, f);
  cJSON_Delete(root);
  return st;
}

static int by_offset(const void *a, const void *b) {
  const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return (x->end > y->end) - (x->end < y->end);
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(st_tensor *const *)a)->name, (*(st_tensor *const *)b)->name);
}

/* Names unique; tensors tile the data buffer: no overlaps, no holes, nothing after the last. */
static clmp_status check_layout(clmp_safetensors *f, const st_ctx *c) {
  f->by_name = calloc(2 * f->count + 1, sizeof *f->by_name);
  if (!f->by_name)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %zu tensors", c->what, f->count);
  st_tensor **o = f->by_name + f->count; /* the second half: by offset */
  for (size_t i = 0; i < f->count; i++) f->by_name[i] = o[i] = &f->tensors[i];
  qsort(f->by_name, f->count, sizeof *o, by_name);
  for (size_t i = 1; i < f->count; i++)
    if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor name \"%s\" appears twice", c->what,
                       f->by_name[i]->name);
  qsort(o, f->count, sizeof *o, by_offset);
  uint64_t at = 0;
  for (size_t i = 0; i < f->count; at = o[i]->end, i++) {
    if (o[i]->begin < at)
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: tensor \"%s\" (data bytes %llu..%llu) overlaps \"%s\"",
                       c->what, o[i]->name, (unsigned long long)o[i]->begin,
                       (unsigned long long)o[i]->end, o[i - 1]->name);
    if (o[i]->begin > at)
      return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: a hole: data bytes %llu..%llu belong to no tensor",
                       c->what, (unsigned long long)at, (unsigned long long)o[i]->begin);
  }
  if (at != c->data_len)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: data bytes %llu..%llu (file bytes %zu..) belong to no tensor", c->what,
                     (unsigned long long)at, (unsigned long long)c->data_len, c->data_at);
  return CLMP_SUCCESS;
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = ST_LEN_BYTES - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Parses f->bytes (already owned by f). */
static clmp_status parse_file(clmp_safetensors *f, const char *what) {
  if (f->len < ST_LEN_BYTES)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: truncated: %zu bytes, the header length alone takes %d",
                     what, f->len, ST_LEN_BYTES);
  uint64_t n = le64(f->bytes);
  if (n > f->len - ST_LEN_BYTES)
    return CLMP_FAIL(CLMP_ERR_FORMAT,
                     "%s: header length %llu (file bytes 0..7) runs beyond the file's end: %zu "
                     "bytes follow it",
                     what, (unsigned long long)n, f->len - ST_LEN_BYTES);
  if (n > ST_MAX_HEADER)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "%s: header length %llu exceeds the limit of %u bytes", what,
                     (unsigned long long)n, ST_MAX_HEADER);
  st_ctx c = {what, f->bytes + ST_LEN_BYTES + n, f->len - ST_LEN_BYTES - n,
              ST_LEN_BYTES + (size_t)n, 0};
  clmp_status st = parse_header((const char *)f->bytes + ST_LEN_BYTES, (size_t)n, &c, f);
  return st == CLMP_SUCCESS ? check_layout(f, &c) : st;
}

/* Takes ownership of bytes (freed on failure too). */
static clmp_status parse_owned(uint8_t *bytes, size_t len, const char *what,
                               clmp_safetensors **out) {
  clmp_safetensors *f = calloc(1, sizeof *f);
  if (!f) {
    free(bytes);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: the file's state", what);
  }
  f->bytes = bytes;
  f->len = len;
  clmp_status st = parse_file(f, what);
  if (st != CLMP_SUCCESS) {
    clmp_safetensors_free(f);
    return st;
  }
  *out = f;
  return CLMP_SUCCESS;
}

clmp_status clmp_safetensors_parse(const void *buf, size_t len, const char *what,
                                   clmp_safetensors **out) {
  if (out) *out = NULL;
  if (!out || (!buf && len > 0))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_safetensors_parse: NULL %s",
                     out ? "buf" : "out");
  if (!what) what = "safetensors buffer";
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %zu bytes", what, len);
  if (len) memcpy(copy, buf, len);
  return parse_owned(copy, len, what, out);
}

/* Reads a whole regular file into a malloc'ed buffer. */
static clmp_status slurp(const char *path, uint8_t **out, size_t *len) {
  char text[ERRNO_TEXT_MAX];
  clmp_status st = CLMP_SUCCESS;
  uint8_t *buf = NULL;
  struct stat sb;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &sb) != 0)
    CLMP_RAISE(CLMP_ERR_IO, "cannot open %s: %s", path, clmp__errno_text(errno, text, sizeof text));
  if (!S_ISREG(sb.st_mode))
    CLMP_RAISE(CLMP_ERR_IO, "cannot read %s: %s", path,
               S_ISDIR(sb.st_mode) ? "it is a directory" : "not a regular file");
  size_t size = (size_t)sb.st_size, got = 0;
  if ((uint64_t)sb.st_size > SIZE_MAX || !(buf = malloc(size ? size : 1)))
    CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: %lld bytes", path, (long long)sb.st_size);
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      CLMP_RAISE(CLMP_ERR_IO, "%s: read failed at byte %zu: %s", path, got,
                 clmp__errno_text(errno, text, sizeof text));
    if (r == 0) CLMP_RAISE(CLMP_ERR_IO, "%s: read %zu of %zu bytes (it shrank)", path, got, size);
    got += (size_t)r;
  }
  close(fd);
  *out = buf;
  *len = size;
  return CLMP_SUCCESS;
cleanup:
  if (fd >= 0) close(fd);
  free(buf);
  return st;
}

clmp_status clmp_safetensors_read(const char *path, clmp_safetensors **out) {
  if (out) *out = NULL;
  if (!path || !out)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_safetensors_read: NULL %s",
                     out ? "path" : "out");
  uint8_t *bytes = NULL;
  size_t len = 0;
  clmp_status st = slurp(path, &bytes, &len);
  return st == CLMP_SUCCESS ? parse_owned(bytes, len, path, out) : st;
}

size_t clmp_safetensors_count(const clmp_safetensors *f) {
  return f ? f->count : 0;
}

const clmp_st_entry *clmp_safetensors_entry(const clmp_safetensors *f, size_t i) {
  return f && i < f->count ? &f->tensors[i].pub : NULL;
}

static int name_vs_tensor(const void *key, const void *elem) {
  return strcmp((const char *)key, (*(st_tensor *const *)elem)->name);
}

const clmp_st_entry *clmp_safetensors_find(const clmp_safetensors *f, const char *name) {
  if (!f || !name || f->count == 0) return NULL;
  st_tensor **t = bsearch(name, f->by_name, f->count, sizeof *f->by_name, name_vs_tensor);
  return t ? &(*t)->pub : NULL;
}

const char *clmp_safetensors_meta(const clmp_safetensors *f, const char *key) {
  if (!f || !key || f->meta_count == 0) return NULL;
  st_meta probe = {(char *)key, NULL};
  const st_meta *m = bsearch(&probe, f->meta, f->meta_count, sizeof *f->meta, meta_by_key);
  return m ? m->value : NULL;
}

static void free_meta(st_meta *m, size_t n) {
  for (size_t i = 0; m && i < n; i++) {
    free(m[i].key);
    free(m[i].value);
  }
  free(m);
}

void clmp_safetensors_free(clmp_safetensors *f) {
  if (!f) return;
  for (size_t i = 0; f->tensors && i < f->count; i++) free(f->tensors[i].name);
  free(f->tensors);
  free(f->by_name);
  free_meta(f->meta, f->meta_count);
  free(f->bytes);
  free(f);
}

/* --- writing -----------------------------------------------------------------------------------
 */

clmp_status clmp_st_writer_create(clmp_st_writer **out) {
  if (!out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_create: NULL out");
  *out = calloc(1, sizeof **out);
  return *out ? CLMP_SUCCESS : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_st_writer_create");
}

/* Makes room for one more element of size elem in *arr (capacity *cap, *n in use). */
static int reserve(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 1;
  size_t next = *cap ? *cap * 2 : 8;
  if (next > SIZE_MAX / elem) return 0;
  void *p = realloc(*arr, next * elem);
  if (!p) return 0;
  *arr = p;
  *cap = next;
  return 1;
}

static clmp_status check_add(const clmp_st_writer *w, const char *name, clmp_dtype dtype, int ndim,
                             const uint64_t *shape) {
  if (!w || !name || (ndim > 0 && !shape))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_add: NULL %s",
                     !w      ? "writer"
                     : !name ? "name"
                             : "shape");
  if (!*name || strcmp(name, ST_META) == 0 || !valid_utf8(name))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "clmp_st_writer_add: tensor name \"%s\" is empty, reserved or not UTF-8",
                     name);
  if (!dtype_name(dtype))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_add: tensor \"%s\": dtype %d", name,
                     (int)dtype);
  if (ndim < 0 || ndim > CLMP_MAX_DIMS)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "clmp_st_writer_add: tensor \"%s\": ndim %d is outside 0..%d", name, ndim,
                     CLMP_MAX_DIMS);
  for (size_t i = 0; i < w->count; i++)
    if (strcmp(w->items[i].name, name) == 0)
      return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                       "clmp_st_writer_add: tensor \"%s\" was already added", name);
  return CLMP_SUCCESS;
}

clmp_status clmp_st_writer_add(clmp_st_writer *w, const char *name, clmp_dtype dtype, int ndim,
                               const uint64_t *shape, const void *data) {
  clmp_status st = check_add(w, name, dtype, ndim, shape);
  if (st != CLMP_SUCCESS) return st;
  uint64_t nbytes = 0;
  if (!tensor_bytes(dtype, ndim, shape, &nbytes) || nbytes > SIZE_MAX)
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "clmp_st_writer_add: tensor \"%s\": byte size", name);
  if (nbytes > 0 && !data)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_add: tensor \"%s\": NULL data",
                     name);
  if (!reserve((void **)&w->items, &w->cap, w->count, sizeof *w->items))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_st_writer_add: %zu tensors", w->count);
  st_item it = {clmp__strdup(name), dtype, ndim, {0}, malloc(nbytes ? (size_t)nbytes : 1),
                (size_t)nbytes};
  if (!it.name || !it.data) {
    free(it.name);
    free(it.data);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_st_writer_add: tensor \"%s\": %zu bytes",
                     name, (size_t)nbytes);
  }
  for (int i = 0; i < ndim; i++) it.shape[i] = shape[i];
  if (nbytes) memcpy(it.data, data, (size_t)nbytes);
  w->items[w->count++] = it;
  return CLMP_SUCCESS;
}

clmp_status clmp_st_writer_meta(clmp_st_writer *w, const char *key, const char *value) {
  if (!w || !key || !value)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_meta: NULL %s",
                     !w     ? "writer"
                     : !key ? "key"
                            : "value");
  if (!valid_utf8(key) || !valid_utf8(value))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_meta: \"%s\" is not UTF-8",
                     valid_utf8(key) ? "value" : "key");
  char *v = clmp__strdup(value);
  if (!v) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_st_writer_meta: \"%s\"", key);
  for (size_t i = 0; i < w->meta_count; i++)
    if (strcmp(w->meta[i].key, key) == 0) {
      free(w->meta[i].value);
      w->meta[i].value = v;
      return CLMP_SUCCESS;
    }
  char *k = clmp__strdup(key);
  if (!k || !reserve((void **)&w->meta, &w->meta_cap, w->meta_count, sizeof *w->meta)) {
    free(k);
    free(v);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_st_writer_meta: \"%s\"", key);
  }
  w->meta[w->meta_count++] = (st_meta){k, v};
  return CLMP_SUCCESS;
}

void clmp_st_writer_free(clmp_st_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->count; i++) {
    free(w->items[i].name);
    free(w->items[i].data);
  }
  free(w->items);
  free_meta(w->meta, w->meta_count);
  free(w);
}

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : ST_SB_MIN;
    while (cap < b->len + n + 1 && cap <= SIZE_MAX / 2) cap *= 2;
    char *p = cap >= b->len + n + 1 ? realloc(b->p, cap) : NULL;
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
  sb_put(b, s, strlen(s));
}

static void sb_u64(sbuf *b, uint64_t v) {
  char t[ST_NUM_MAX];
  int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  sb_put(b, t, (size_t)n);
}

/* A JSON string: quotes, backslashes and control characters escaped; other UTF-8 as is. */
static void sb_json(sbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (const char *p = s; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    char esc[ST_ESC_MAX];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      sb_put(b, esc, 2);
    } else if (ch < 0x20) {
      sb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", ch));
    } else {
      sb_put(b, p, 1);
    }
  }
  sb_put(b, "\"", 1);
}

static void sb_meta(sbuf *b, const clmp_st_writer *w) {
  sb_json(b, ST_META);
  sb_str(b, ":{");
  for (size_t i = 0; i < w->meta_count; i++) {
    if (i) sb_str(b, ",");
    sb_json(b, w->meta[i].key);
    sb_str(b, ":");
    sb_json(b, w->meta[i].value);
  }
  sb_str(b, "}");
}

/* The header as the Python library writes it: compact JSON, metadata first, tensors in order
 * with contiguous offsets, spaces up to a multiple of ST_ALIGN bytes. */
static clmp_status build_header(const clmp_st_writer *w, sbuf *b, const char *path) {
  sb_str(b, "{");
  if (w->meta_count) sb_meta(b, w);
  uint64_t at = 0;
  for (size_t i = 0; i < w->count; i++) {
    const st_item *t = &w->items[i];
    if (i || w->meta_count) sb_str(b, ",");
    sb_json(b, t->name);
    sb_str(b, ":{\"dtype\":\"");
    sb_str(b, dtype_name(t->dtype));
    sb_str(b, "\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
      if (d) sb_str(b, ",");
      sb_u64(b, t->shape[d]);
    }
    sb_str(b, "],\"data_offsets\":[");
    sb_u64(b, at);
    sb_str(b, ",");
    sb_u64(b, at += t->nbytes);
    sb_str(b, "]}");
  }
  sb_str(b, "}");
  while (!b->oom && b->len % ST_ALIGN) sb_str(b, " ");
  return b->oom ? CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "saving %s: the header", path)
                : CLMP_SUCCESS;
}

/* The folder that holds path ("." when path has no slash). */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return clmp__strdup(".");
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, path, n);
  d[n] = '\0';
  return d;
}

/* Gives the unnamed file fd a fresh name beside path, <path>.tmp-<pid>-<clock>-<try> (made up,
 * not created, so that nothing is left between two steps); the name, or NULL when it cannot. */
static char *unnamed_link(int fd, const char *path) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  for (unsigned k = 0; k < ST_LINK_TRIES; k++) {
    char *tmp = clmp__aprintf("%s.tmp-%ld-%lx%lx-%u", path, (long)getpid(), (long)ts.tv_sec,
                              (long)ts.tv_nsec, k);
    if (!tmp) return NULL;
    if (clmp__unnamed_link(fd, tmp) == 0) return tmp;
    int taken = errno == EEXIST;
    free(tmp);
    if (!taken) return NULL;
  }
  return NULL;
}

/* A new file's permission bits: those of the file at path when it exists, else 0644. */
static mode_t temp_mode(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? sb.st_mode & ST_MODE_BITS : ST_NEW_MODE;
}

/* A temporary file in dir (path's folder), with temp_mode's bits: unnamed (*tmp_out NULL) unless
 * named is set or the system has no unnamed files, else named by mkstemp. */
static clmp_status temp_create(const char *path, const char *dir, int named, char **tmp_out,
                               FILE **fp_out) {
  char text[ERRNO_TEXT_MAX];
  char *tmp = NULL;
  FILE *fp = NULL;
  int fd = named ? -1 : clmp__unnamed_open(dir); /* host/io/unnamed.c: -1 where there are none */
  if (fd < 0 && !(tmp = clmp__aprintf("%s%s", path, ST_TMP_SUFFIX)))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "saving %s: a file name", path);
  if (fd < 0) fd = mkstemp(tmp);
  int e = errno;
  if (fd >= 0 && !(fp = fchmod(fd, temp_mode(path)) == 0 ? fdopen(fd, "wb") : NULL)) {
    e = errno;
    close(fd);
    if (tmp) unlink(tmp);
  }
  if (fp) {
    *tmp_out = tmp;
    *fp_out = fp;
    return CLMP_SUCCESS;
  }
  clmp_status st = CLMP_FAIL(CLMP_ERR_IO, "cannot save %s: cannot create the temporary file %s: %s",
                             path, tmp ? tmp : "(unnamed)", clmp__errno_text(e, text, sizeof text));
  free(tmp);
  return st;
}

/* Length, header, data, then flushed and synced to the disk. */
static clmp_status write_stream(FILE *fp, const clmp_st_writer *w, const sbuf *hdr, const char *tmp,
                                const char *path) {
  uint8_t len8[ST_LEN_BYTES];
  for (int i = 0; i < ST_LEN_BYTES; i++) len8[i] = (uint8_t)((uint64_t)hdr->len >> (8 * i));
  int ok = fwrite(len8, 1, sizeof len8, fp) == sizeof len8 &&
           fwrite(hdr->p, 1, hdr->len, fp) == hdr->len;
  for (size_t i = 0; ok && i < w->count; i++)
    ok = w->items[i].nbytes == 0 ||
         fwrite(w->items[i].data, 1, w->items[i].nbytes, fp) == w->items[i].nbytes;
  ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
  char text[ERRNO_TEXT_MAX];
  return ok ? CLMP_SUCCESS
            : CLMP_FAIL(CLMP_ERR_IO, "cannot save %s: writing the temporary file %s failed: %s",
                        path, tmp ? tmp : "(unnamed)", clmp__errno_text(errno, text, sizeof text));
}

/* Makes the rename durable. Some file systems cannot sync a folder (EINVAL): that is no error. */
static clmp_status sync_dir(const char *path, const char *dir) {
  char text[ERRNO_TEXT_MAX];
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ok = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL);
  int e = errno;
  if (fd >= 0) close(fd);
  return ok ? CLMP_SUCCESS
            : CLMP_FAIL(CLMP_ERR_IO, "saved %s, but syncing its folder %s failed: %s", path, dir,
                        clmp__errno_text(e, text, sizeof text));
}

/* Writes the file through a temporary one renamed over path: unnamed unless named is set; an
 * unnamed file that cannot be given a name sets *retry (then the caller tries a named one). */
static clmp_status save_via_temp(const clmp_st_writer *w, const sbuf *hdr, const char *path,
                                 int named, int *retry) {
  char text[ERRNO_TEXT_MAX];
  char *tmp = NULL, *dir = NULL;
  FILE *fp = NULL;
  clmp_status st = CLMP_SUCCESS;
  /* Allocated before the rename, so that running out of memory leaves the old file in place. */
  if (!(dir = dir_of(path)))
    CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "saving %s: a folder name", path);
  CLMP_TRY(temp_create(path, dir, named, &tmp, &fp));
  CLMP_TRY(write_stream(fp, w, hdr, tmp, path));
  int unnamed = !tmp;
  if (unnamed && !(tmp = unnamed_link(fileno(fp), path))) {
    *retry = 1;
    goto cleanup;
  }
  /* A named file is closed before the rename (a close can still fail); an unnamed one was synced
   * and is renamed at once, so that its name lives as briefly as possible. */
  int closed = unnamed ? 0 : fclose(fp);
  if (!unnamed) fp = NULL;
  if (closed != 0)
    CLMP_RAISE(CLMP_ERR_IO, "cannot save %s: closing the temporary file %s failed: %s", path, tmp,
               clmp__errno_text(errno, text, sizeof text));
  if (rename(tmp, path) != 0)
    CLMP_RAISE(CLMP_ERR_IO, "cannot save %s: renaming %s over it failed: %s", path, tmp,
               clmp__errno_text(errno, text, sizeof text));
  free(tmp);
  tmp = NULL;
  st = sync_dir(path, dir);
cleanup:
  if (fp) fclose(fp);
  if (tmp) unlink(tmp);
  free(tmp);
  free(dir);
  return st;
}

clmp_status clmp_st_writer_save(const clmp_st_writer *w, const char *path) {
  if (!w || !path || !*path)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_st_writer_save: NULL or empty %s",
                     w ? "path" : "writer");
  sbuf hdr = {NULL, 0, 0, 0};
  int retry = 0;
  clmp_status st = build_header(w, &hdr, path);
  if (st == CLMP_SUCCESS) st = save_via_temp(w, &hdr, path, 0, &retry);
  if (st == CLMP_SUCCESS && retry) st = save_via_temp(w, &hdr, path, 1, &retry);
  free(hdr.p);
  return st;
}
