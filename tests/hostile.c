/* tests/hostile.c: the palette of small tensors and the refusal check of the hostile-input suites.
 */
#include "hostile.h"

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "devices.h"

/* host/runtime/error.h (internal; the test links the static library). */
void clmp__error_clear(void);

typedef struct slot_spec {
  clmp_dtype dt;
  int nd;
  size_t shape[3];
  int other;     /* on the other context */
  int view;      /* a view into BIG */
  size_t offset; /* the view's first element in BIG */
} slot_spec;

static const slot_spec specs[HOSTILE_SLOTS] = {
    [F4] = {CLMP_F32, 1, {4}},
    [H4] = {CLMP_F16, 1, {4}},
    [B4] = {CLMP_BF16, 1, {4}},
    [I4] = {CLMP_I32, 1, {4}},
    [U4] = {CLMP_U8, 1, {4}},
    [F3] = {CLMP_F32, 1, {3}},
    [F2] = {CLMP_F32, 1, {2}},
    [F1] = {CLMP_F32, 1, {1}},
    [I1] = {CLMP_I32, 1, {1}},
    [I2] = {CLMP_I32, 1, {2}},
    [M22] = {CLMP_F32, 2, {2, 2}},
    [M23] = {CLMP_F32, 2, {2, 3}},
    [M32] = {CLMP_F32, 2, {3, 2}},
    [I22] = {CLMP_I32, 2, {2, 2}},
    [T222] = {CLMP_F32, 3, {2, 2, 2}},
    [BIG] = {CLMP_F32, 1, {8}},
    [LO] = {CLMP_F32, 1, {4}, 0, 1, 0},
    [HI] = {CLMP_F32, 1, {4}, 0, 1, 2},
    [Q22] = {CLMP_F32, 2, {2, 2}, 0, 1, 0},
    [R22] = {CLMP_F32, 2, {2, 2}, 0, 1, 2},
    [P2] = {CLMP_F32, 1, {2}, 0, 1, 2},
    [P1] = {CLMP_F32, 1, {1}, 0, 1, 3},
    [PI1] = {CLMP_I32, 1, {1}, 0, 1, 3},
    [PI2] = {CLMP_I32, 1, {2}, 0, 1, 2},
    [XF4] = {CLMP_F32, 1, {4}, 1},
    [XF1] = {CLMP_F32, 1, {1}, 1},
    [XI2] = {CLMP_I32, 1, {2}, 1},
    [XM22] = {CLMP_F32, 2, {2, 2}, 1},
};

#define MAX_SLOT_ELEMS 8

/* A tensor of the slot's dtype and shape holding HOSTILE_FILL. */
static clmp_status filled(clmp_ctx *ctx, const slot_spec *sp, clmp_tensor **out) {
  float f[MAX_SLOT_ELEMS];
  int32_t i[MAX_SLOT_ELEMS];
  uint8_t u[MAX_SLOT_ELEMS];
  for (int k = 0; k < MAX_SLOT_ELEMS; k++)
    f[k] = HOSTILE_FILL, i[k] = (int32_t)HOSTILE_FILL, u[k] = (uint8_t)HOSTILE_FILL;
  const void *src = sp->dt == CLMP_I32 ? (const void *)i : sp->dt == CLMP_U8 ? (const void *)u : f;
  clmp_dtype host = sp->dt == CLMP_I32 || sp->dt == CLMP_U8 ? sp->dt : CLMP_F32;
  clmp_status st = clmp_tensor_create(ctx, sp->dt, sp->nd, sp->shape, out);
  return st ? st : clmp_tensor_write(*out, host, src, clmp_tensor_numel(*out));
}

clmp_status hostile_palette_open(hostile_palette *p, clmp_ctx *ctx, clmp_ctx *other) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx, p->other = other;
  clmp_status st = CLMP_SUCCESS;
  for (int s = 1; s < HOSTILE_SLOTS && st == CLMP_SUCCESS; s++) {
    const slot_spec *sp = &specs[s];
    size_t offset = sp->offset * clmp_dtype_size(CLMP_F32);
    if (sp->view)
      st = clmp_tensor_view(p->t[BIG], offset, sp->dt, sp->nd, sp->shape, &p->t[s]);
    else
      st = filled(sp->other ? other : ctx, sp, &p->t[s]);
  }
  if (st != CLMP_SUCCESS) hostile_palette_close(p);
  return st;
}

void hostile_palette_close(hostile_palette *p) {
  for (int s = HOSTILE_SLOTS - 1; s > 0; s--) clmp_tensor_free(p->t[s]);
  memset(p, 0, sizeof *p);
}

void hostile_expect_intact(const hostile_palette *p, int s) {
  if (s <= NUL || s >= HOSTILE_SLOTS) return;
  clmp_test_expect_all(p->t[specs[s].view ? BIG : s], HOSTILE_FILL);
}

void hostile_clear_error(void) {
  clmp__error_clear();
}

void hostile_expect_refused(const char *where, const char *fn, const char *what, const char *names,
                            clmp_status got, clmp_status want) {
  const char *msg = clmp_last_error(), *needle = names ? names : fn;
  int named = strstr(msg, needle) != NULL, coded = strstr(msg, clmp_status_name(want)) != NULL;
  if (got != want || !named || !coded)
    printf("\n    %s: %s (%s): got %s, want %s; message \"%s\" should name \"%s\"", where, fn, what,
           clmp_status_name(got), clmp_status_name(want), msg, needle);
  CU_ASSERT_EQUAL(got, want);
  CU_ASSERT(named);
  CU_ASSERT(coded);
}

void hostile_expect_null_out(const char *fn, const char *what, const void *out) {
  if (out) printf("\n    %s (%s): the out-parameter was not left NULL", fn, what);
  CU_ASSERT_PTR_NULL(out);
}
