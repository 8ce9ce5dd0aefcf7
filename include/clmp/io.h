/* clmp/io.h: the file formats of clmp's training command: IDX datasets (plain or gzip) and
 * safetensors checkpoints (read fully validated, written atomically). */
#ifndef CLMP_IO_H
#define CLMP_IO_H

#include <stddef.h>
#include <stdint.h>

#include "clmp/export.h"
#include "clmp/status.h"
#include "clmp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- IDX (MNIST's format): big-endian, 0x00 0x00, type 0x08 (unsigned byte), ndim, dims, data */

#define CLMP_IDX_MAX_DIMS 4

typedef struct clmp_idx {
  int ndim;                         /* 1..4 */
  uint32_t dims[CLMP_IDX_MAX_DIMS]; /* dims[ndim..] are 0 */
  size_t count;                     /* product of the dims: elements (= bytes) in data */
  uint8_t *data;                    /* owned; freed by clmp_idx_free */
} clmp_idx;

/* Parses an IDX image of len bytes (unsigned-byte type only; the data must fill the rest of the
 * buffer exactly) into out, copying the data. what names the source in error messages (NULL:
 * "IDX buffer"). CLMP_ERR_FORMAT for a damaged or foreign buffer; out is zeroed on failure. */
CLMP_API clmp_status clmp_idx_parse(const void *buf, size_t len, const char *what, clmp_idx *out);

/* Reads an IDX file, plain or gzip-compressed, of at most 1 GiB once decompressed. CLMP_ERR_IO
 * when the file cannot be opened or read (or is not a regular file), CLMP_ERR_FORMAT when it is
 * damaged, truncated or too large. out is zeroed on failure. */
CLMP_API clmp_status clmp_idx_read(const char *path, clmp_idx *out);

/* Frees idx's data and zeroes it (the struct itself is the caller's). NULL is a no-op. */
CLMP_API void clmp_idx_free(clmp_idx *idx);

/* --- safetensors: u64 little-endian header length N, N bytes of JSON, then the data buffer ---- */

/* One tensor of a safetensors file. Data is little-endian, row-major, and not necessarily
 * aligned to its element size (copy it out with memcpy). */
typedef struct clmp_st_entry {
  const char *name;
  clmp_dtype dtype; /* F32, F16, BF16, I32 or U8 */
  int ndim;         /* 0 (a scalar) .. 4 */
  uint64_t shape[CLMP_MAX_DIMS];
  const void *data; /* nbytes bytes; owned by the file (or writer) it came from */
  size_t nbytes;    /* product(shape) * dtype size; may be 0 */
} clmp_st_entry;

/* A parsed safetensors file; owns its bytes. */
typedef struct clmp_safetensors clmp_safetensors;

/* Parses and validates a safetensors image of len bytes, copying it. what names the source in
 * error messages (NULL: "safetensors buffer"). CLMP_ERR_FORMAT for any damaged or foreign header
 * or layout; *out is NULL on failure, else free it with clmp_safetensors_free. */
CLMP_API clmp_status clmp_safetensors_parse(const void *buf, size_t len, const char *what,
                                            clmp_safetensors **out);

/* Reads and validates a safetensors file (as clmp_safetensors_parse). CLMP_ERR_IO when the file
 * cannot be opened or read; *out is NULL on failure. */
CLMP_API clmp_status clmp_safetensors_read(const char *path, clmp_safetensors **out);

/* The number of tensors (0 for NULL). */
CLMP_API size_t clmp_safetensors_count(const clmp_safetensors *f);

/* The i-th tensor, in the order of the file's header; NULL when i is out of range. Owned by f. */
CLMP_API const clmp_st_entry *clmp_safetensors_entry(const clmp_safetensors *f, size_t i);

/* The tensor called name, or NULL if absent. Owned by f. */
CLMP_API const clmp_st_entry *clmp_safetensors_find(const clmp_safetensors *f, const char *name);

/* The "__metadata__" value of key, or NULL if absent. Owned by f. */
CLMP_API const char *clmp_safetensors_meta(const clmp_safetensors *f, const char *key);

/* Frees a parsed file and everything its entries point to. NULL is a no-op. */
CLMP_API void clmp_safetensors_free(clmp_safetensors *f);

/* Collects tensors and metadata, then writes them as one safetensors file. */
typedef struct clmp_st_writer clmp_st_writer;

/* A new, empty writer; free it with clmp_st_writer_free. */
CLMP_API clmp_status clmp_st_writer_create(clmp_st_writer **out);

/* Adds a tensor of ndim (0..4) dims shape (NULL when ndim is 0; dims may be 0), copying
 * product(shape) * dtype size bytes from data (NULL allowed when that is 0). The name is a
 * non-empty UTF-8 string other than "__metadata__"; a name already added is refused
 * (CLMP_ERR_INVALID_ARGUMENT). CLMP_ERR_SIZE_OVERFLOW when the byte size overflows. */
CLMP_API clmp_status clmp_st_writer_add(clmp_st_writer *w, const char *name, clmp_dtype dtype,
                                        int ndim, const uint64_t *shape, const void *data);

/* Sets the "__metadata__" string value of key (both UTF-8, copied); a key set again takes the
 * new value. */
CLMP_API clmp_status clmp_st_writer_meta(clmp_st_writer *w, const char *key, const char *value);

/* Writes the file atomically: tensors in the order added, data contiguous, the header padded
 * with spaces to a multiple of 8 bytes. A temporary file beside path is written, synced and
 * renamed over path, then the folder is synced. Where the system allows (Linux's O_TMPFILE) the
 * temporary file has no name until it is complete, so a process killed while writing leaves
 * nothing behind; elsewhere it can leave a <path>.tmp-* file, which later saves ignore. On
 * failure (CLMP_ERR_IO, with path and the system's reason) the temporary file is removed and an
 * existing file at path is untouched; only a failed sync of the folder, after the rename, is
 * reported with the new file in place. A new file gets mode 0644; a replaced one keeps its
 * permission bits. */
CLMP_API clmp_status clmp_st_writer_save(const clmp_st_writer *w, const char *path);

/* Frees the writer and its copies of the data. NULL is a no-op. */
CLMP_API void clmp_st_writer_free(clmp_st_writer *w);

#ifdef __cplusplus
}
#endif
#endif
