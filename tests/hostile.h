/* tests/hostile.h: what the hostile-input suites share: a palette of small tensors that table rows
 * name by slot (every one holding HOSTILE_FILL, some on a second context, some views that overlap
 * inside one buffer), and the check that a refused call returned the exact status, recorded a
 * message naming the refusing function, and left its tensors as they were. */
#ifndef CLMP_TESTS_HOSTILE_H
#define CLMP_TESTS_HOSTILE_H

#include "clmp/clmp.h"

/* Every palette element holds this value (exact in every dtype, u8 included). */
#define HOSTILE_FILL 77.0f

/* The palette. X*: on another context. BIG is f32 [8]; LO .. PI2 are views into it: LO [4] at
 * element 0, HI [4] at 2, Q22 [2, 2] at 0, R22 [2, 2] at 2, P2 [2] at 2, P1 [1] at 3, and the
 * i32 views PI1 [1] at 3 and PI2 [2] at 2. */
enum hostile_slot {
  NUL = 0, /* a NULL tensor */
  F4,
  H4,
  B4,
  I4,
  U4,
  F3,
  F2,
  F1,
  I1,
  I2,
  M22,
  M23,
  M32,
  I22,
  T222,
  BIG,
  LO,
  HI,
  Q22,
  R22,
  P2,
  P1,
  PI1,
  PI2,
  XF4,
  XF1,
  XI2,
  XM22,
  HOSTILE_SLOTS
};

typedef struct hostile_palette {
  clmp_ctx *ctx, *other;
  clmp_tensor *t[HOSTILE_SLOTS];
} hostile_palette;

/* Creates the palette on ctx, the X* slots on other (a context of its own). Asserts nothing, so
 * that a suite's set-up may call it; on failure the palette is closed again. */
clmp_status hostile_palette_open(hostile_palette *p, clmp_ctx *ctx, clmp_ctx *other);
void hostile_palette_close(hostile_palette *p);

/* Asserts that slot s still holds HOSTILE_FILL everywhere (and BIG, for the views into it). */
void hostile_expect_intact(const hostile_palette *p, int s);

/* Clears the thread's last error, so that the message a row sees is the row's own. */
void hostile_clear_error(void);

/* Asserts that a call of fn refused with want: got == want, and the last error names `names`
 * (fn itself when NULL) and want's status name. where and what describe the row on failure. */
void hostile_expect_refused(const char *where, const char *fn, const char *what, const char *names,
                            clmp_status got, clmp_status want);

/* Whether an out-parameter was left NULL (or never set) by a refused call: asserts it. */
void hostile_expect_null_out(const char *fn, const char *what, const void *out);

#endif
