/* tests/test_convert.c: the scalar fp32 <-> fp16 / bf16 conversions, checked exhaustively against
 * arithmetic oracles (rounding done by rint() in double) and against hand-checked anchor values. */
#define _POSIX_C_SOURCE 200809L

#include "clmp/convert.h"
#include "harness.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SWEEP_THREADS 2 /* halves the sweeps' wall time on the two-core CI machine */
#define F32_PATTERNS  (UINT64_C(1) << 32)
#define H16_PATTERNS  (UINT32_C(1) << 16)
#define H16_SIGN      0x8000u
#define F32_SIGN      0x80000000u
#define F32_EXP_ONES  0x7F800000u
#define F32_MANT      0x007FFFFFu
#define F32_MANT_BITS 23
#define F16_QNAN      0x7E00u /* exponent all ones, quiet bit set */
#define BF16_QUIET    0x0040u

/* A binary floating-point format of 16 bits, described by its numbers rather than its bit masks.
 * The powers of two repeat the integers so that the sweeps' hot loop needs no ldexp(). */
struct format {
  int mant_bits;      /* stored significand bits */
  int emin;           /* exponent of the smallest normal */
  int emax;           /* exponent of the largest finite value; also the exponent bias */
  double min_normal;  /* 2^emin */
  double sub_quanta;  /* 2^(mant_bits - emin): multiplies a subnormal into a count of its quantum */
  double sig_scale;   /* 2^(mant_bits + 1): multiplies frexp's [0.5, 1) into the significand */
  uint32_t nan_quiet; /* fp32 bits set when a NaN widens: f16 quiets (IEEE, F16C, vload_half) */
};

static const struct format F16 = {10, -14, 15, 0x1p-14, 0x1p24, 0x1p11, 0x00400000u};
static const struct format BF16 = {7, -126, 127, 0x1p-126, 0x1p133, 0x1p8, 0};

static uint32_t bits_of(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Records one failed or passed assertion with a message that CUnit copies (CU_FAIL would print
 * only its argument's spelling). */
static void report(bool ok, unsigned line, const char *msg) {
  CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}

#define EXPECT_BITS(what, in, got, want) \
  expect_bits(__LINE__, (what), (uint32_t)(in), (uint32_t)(got), (uint32_t)(want))

static void expect_bits(unsigned line, const char *what, uint32_t in, uint32_t got, uint32_t want) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: input 0x%08x: got 0x%08x, want 0x%08x", what, (unsigned)in,
           (unsigned)got, (unsigned)want);
  report(got == want, line, msg);
}

/* --- oracles --------------------------------------------------------------------------------- */

/* The bits of |d| (finite or inf, non-negative) rounded to nearest even in format f. Arithmetic
 * in double, where every float and every scaling below is exact; only rint() rounds. */
static uint32_t round_to_format(double d, const struct format *f) {
  uint32_t inf = (uint32_t)(2 * f->emax + 1) << f->mant_bits;
  if (isinf(d)) return inf;
  if (d < f->min_normal) {
    /* Subnormal: count quanta of 2^(emin - mant_bits). A count of 2^mant_bits is the smallest
     * normal, whose bits are that same count. */
    return (uint32_t)rint(d * f->sub_quanta);
  }
  /* d = g * 2^k with g in [0.5, 1), so d's exponent is k - 1 and its significand, rounded to
   * mant_bits + 1 bits, is m in [2^mant_bits, 2^(mant_bits + 1)]. */
  int k;
  double m = rint(frexp(d, &k) * f->sig_scale);
  int e = k - 1;
  if (m == f->sig_scale) { /* rounded up into the next binade */
    m /= 2;
    e++;
  }
  if (e > f->emax) return inf;
  uint32_t hidden = UINT32_C(1) << f->mant_bits;
  return ((uint32_t)(e + f->emax) << f->mant_bits) | ((uint32_t)m - hidden);
}

/* fp32 -> fp16 NaN rule (as x86 F16C): sign kept, quiet bit set, top 10 payload bits kept. */
static uint16_t oracle_f16(uint32_t u) {
  float x = float_of(u);
  uint16_t sign = signbit(x) ? H16_SIGN : 0;
  if (isnan(x))
    return (uint16_t)(sign | F16_QNAN | ((u & F32_MANT) >> (F32_MANT_BITS - F16.mant_bits)));
  return (uint16_t)(sign | round_to_format(fabs((double)x), &F16));
}

/* fp32 -> bf16 NaN rule: the upper half, quiet bit set. */
static uint16_t oracle_bf16(uint32_t u) {
  float x = float_of(u);
  uint16_t sign = signbit(x) ? H16_SIGN : 0;
  if (isnan(x)) return (uint16_t)((u >> 16) | BF16_QUIET);
  return (uint16_t)(sign | round_to_format(fabs((double)x), &BF16));
}

/* The fp32 bits that the 16-bit pattern h of format f denotes, from its fields by ldexp. */
static uint32_t oracle_widen(uint16_t h, const struct format *f) {
  int exp_field = (h & ~H16_SIGN) >> f->mant_bits;
  uint32_t mant = h & ((1u << f->mant_bits) - 1u);
  bool neg = (h & H16_SIGN) != 0;
  double v;
  if (exp_field == 2 * f->emax + 1) {
    /* inf, or NaN whose payload moves to the top of the fp32 mantissa (quieted for f16). */
    if (mant != 0)
      return (neg ? F32_SIGN : 0) | F32_EXP_ONES | f->nan_quiet |
             (mant << (F32_MANT_BITS - f->mant_bits));
    v = INFINITY;
  } else if (exp_field == 0) {
    v = ldexp((double)mant, f->emin - f->mant_bits);
  } else {
    v = ldexp((double)((1u << f->mant_bits) | mant), exp_field - f->emax - f->mant_bits);
  }
  return bits_of((float)(neg ? -v : v));
}

/* --- mismatch bookkeeping ------------------------------------------------------------------- */

struct mismatches {
  uint64_t count;
  uint32_t in, got, want; /* the first one */
};

static void note(struct mismatches *m, uint32_t in, uint32_t got, uint32_t want) {
  if (m->count++ == 0) {
    m->in = in;
    m->got = got;
    m->want = want;
  }
}

static void expect_none(unsigned line, const char *what, const struct mismatches *m) {
  char msg[256];
  if (m->count)
    snprintf(msg, sizeof msg, "%s: %llu mismatches; first: input 0x%08x: got 0x%08x, want 0x%08x",
             what, (unsigned long long)m->count, (unsigned)m->in, (unsigned)m->got,
             (unsigned)m->want);
  else
    snprintf(msg, sizeof msg, "%s: no mismatches", what);
  report(m->count == 0, line, msg);
}

/* --- all 2^32 fp32 inputs, split over threads ------------------------------------------------ */

struct narrowing {
  const char *name;
  uint16_t (*convert)(float);
  uint16_t (*oracle)(uint32_t);
};

struct sweep_part {
  const struct narrowing *n;
  uint64_t begin, end, stride; /* inputs i in [begin, end) with i % stride == 0 */
  uint64_t checked;
  struct mismatches bad;
};

static void *sweep_part_run(void *arg) {
  struct sweep_part *p = arg;
  uint64_t first = (p->begin + p->stride - 1) / p->stride * p->stride;
  for (uint64_t i = first; i < p->end; i += p->stride) {
    uint32_t u = (uint32_t)i;
    uint16_t got = p->n->convert(float_of(u)), want = p->n->oracle(u);
    if (got != want) note(&p->bad, u, got, want);
    p->checked++;
  }
  return NULL;
}

static void sweep_f32(const struct narrowing *n) {
  struct sweep_part parts[SWEEP_THREADS];
  pthread_t threads[SWEEP_THREADS];
  bool threaded[SWEEP_THREADS];
  uint64_t stride = clmp_test_stride();
  double t0 = seconds_now();
  for (int i = 0; i < SWEEP_THREADS; i++) {
    parts[i] = (struct sweep_part){.n = n,
                                   .begin = F32_PATTERNS * i / SWEEP_THREADS,
                                   .end = F32_PATTERNS * (i + 1) / SWEEP_THREADS,
                                   .stride = stride};
    threaded[i] = pthread_create(&threads[i], NULL, sweep_part_run, &parts[i]) == 0;
    if (!threaded[i]) sweep_part_run(&parts[i]); /* still correct, only slower */
  }
  struct mismatches bad = {0};
  uint64_t checked = 0;
  for (int i = 0; i < SWEEP_THREADS; i++) {
    if (threaded[i]) pthread_join(threads[i], NULL);
    checked += parts[i].checked;
    /* parts cover increasing ranges, so the first part with a mismatch holds the first one */
    if (parts[i].bad.count && !bad.count)
      bad = parts[i].bad;
    else
      bad.count += parts[i].bad.count;
  }
  printf("\n    %s: %llu inputs (stride %llu) in %.2f s ", n->name, (unsigned long long)checked,
         (unsigned long long)stride, seconds_now() - t0);
  expect_none(__LINE__, n->name, &bad);
}

static void test_f32_to_f16_all(void) {
  static const struct narrowing n = {"clmp_f32_to_f16", clmp_f32_to_f16, oracle_f16};
  sweep_f32(&n);
}

static void test_f32_to_bf16_all(void) {
  static const struct narrowing n = {"clmp_f32_to_bf16", clmp_f32_to_bf16, oracle_bf16};
  sweep_f32(&n);
}

/* --- all 2^16 inputs of the widening conversions, and round trips --------------------------- */

static bool is_nan16(uint16_t h, const struct format *f) {
  uint32_t exp_ones = (uint32_t)(2 * f->emax + 1) << f->mant_bits;
  return (h & exp_ones) == exp_ones && (h & ((1u << f->mant_bits) - 1u));
}

static void widen_all(const char *what, float (*widen)(uint16_t), const struct format *f) {
  struct mismatches bad = {0};
  for (uint32_t i = 0; i < H16_PATTERNS; i++) {
    uint32_t got = bits_of(widen((uint16_t)i)), want = oracle_widen((uint16_t)i, f);
    if (got != want) note(&bad, i, got, want);
  }
  expect_none(__LINE__, what, &bad);
}

static void round_trip_all(const char *what, float (*widen)(uint16_t), uint16_t (*narrow)(float),
                           const struct format *f) {
  struct mismatches bad = {0};
  for (uint32_t i = 0; i < H16_PATTERNS; i++) {
    if (is_nan16((uint16_t)i, f)) continue;
    uint16_t back = narrow(widen((uint16_t)i));
    if (back != i) note(&bad, i, back, i);
  }
  expect_none(__LINE__, what, &bad);
}

static void test_f16_to_f32_all(void) {
  widen_all("clmp_f16_to_f32", clmp_f16_to_f32, &F16);
}

static void test_bf16_to_f32_all(void) {
  widen_all("clmp_bf16_to_f32", clmp_bf16_to_f32, &BF16);
}

static void test_f16_round_trip(void) {
  round_trip_all("f16 -> f32 -> f16", clmp_f16_to_f32, clmp_f32_to_f16, &F16);
}

static void test_bf16_round_trip(void) {
  round_trip_all("bf16 -> f32 -> bf16", clmp_bf16_to_f32, clmp_f32_to_bf16, &BF16);
}

/* --- hand-checked anchors -------------------------------------------------------------------- */

struct value_anchor {
  float x;
  uint16_t want;
  const char *what;
};

struct bits_anchor {
  uint32_t in;
  uint32_t want;
  const char *what;
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct value_anchor f16_values[] = {
    {0.0f, 0x0000, "+0"},
    {-0.0f, 0x8000, "-0 keeps its sign"},
    {1.0f, 0x3C00, "1"},
    {-1.5f, 0xBE00, "-1.5"},
    {65504.0f, 0x7BFF, "65504, the largest finite"},
    {65519.99f, 0x7BFF, "65519.99 rounds down"},
    {0x1.ffdffep15f, 0x7BFF, "the float just below 65520"},
    {65520.0f, 0x7C00, "65520, halfway above 65504, ties to even = inf"},
    {-65520.0f, 0xFC00, "-65520 -> -inf"},
    {FLT_MAX, 0x7C00, "FLT_MAX -> inf"},
    {-FLT_MAX, 0xFC00, "-FLT_MAX -> -inf"},
    {INFINITY, 0x7C00, "inf"},
    {-INFINITY, 0xFC00, "-inf"},
    {0x1p-14f, 0x0400, "2^-14, the smallest normal"},
    {0x1.ff8p-15f, 0x03FF, "1023 * 2^-24, the largest subnormal"},
    {0x1.ffcp-15f, 0x0400, "1023.5 * 2^-24 ties to even, into the smallest normal"},
    {0x1p-24f, 0x0001, "2^-24, the smallest subnormal"},
    {0x1.8p-24f, 0x0002, "1.5 * 2^-24 ties to even = 2 * 2^-24"},
    {0x1.8p-25f, 0x0001, "3 * 2^-26 rounds up to 2^-24"},
    {0x1p-25f, 0x0000, "2^-25 ties to even = 0"},
    {0x1.000002p-25f, 0x0001, "just above 2^-25 rounds up to 2^-24"},
    {-0x1p-25f, 0x8000, "-2^-25 ties to even = -0"},
    {0x1p-149f, 0x0000, "the smallest fp32 subnormal"},
    {0x1.002p0f, 0x3C00, "1 + 2^-11 ties to even = 1"},
    {0x1.006p0f, 0x3C02, "1 + 3 * 2^-11 ties to even = 1 + 2^-9"},
};

static const struct bits_anchor f16_nans[] = {
    {0x7FC00000u, 0x7E00, "quiet NaN"},
    {0xFFC00000u, 0xFE00, "negative quiet NaN"},
    {0x7F800001u, 0x7E00, "signalling NaN, payload only in dropped bits, stays NaN"},
    {0x7FA00000u, 0x7F00, "signalling NaN, top payload bit kept"},
    {0xFF802000u, 0xFE01, "negative signalling NaN, lowest kept payload bit"},
    {0x7FFFFFFFu, 0x7FFF, "all payload bits set"},
};

static const struct value_anchor bf16_values[] = {
    {0.0f, 0x0000, "+0"},
    {-0.0f, 0x8000, "-0 keeps its sign"},
    {1.0f, 0x3F80, "1"},
    {-2.0f, 0xC000, "-2"},
    {0x1.01p0f, 0x3F80, "1 + 2^-8 ties to even = 1"},
    {0x1.03p0f, 0x3F82, "1 + 3 * 2^-8 ties to even = 1 + 2^-6"},
    {0x1.fep127f, 0x7F7F, "the largest finite bf16"},
    {0x1.fefffep127f, 0x7F7F, "bits 0x7F7F7FFF round down"},
    {0x1.ffp127f, 0x7F80, "bits 0x7F7F8000 tie to even = inf"},
    {FLT_MAX, 0x7F80, "FLT_MAX rounds up to inf"},
    {-FLT_MAX, 0xFF80, "-FLT_MAX rounds to -inf"},
    {INFINITY, 0x7F80, "inf"},
    {-INFINITY, 0xFF80, "-inf"},
    {0x1p-126f, 0x0080, "2^-126, the smallest normal"},
    {0x1.fffffcp-127f, 0x0080, "bits 0x007FFFFF round up into the smallest normal"},
    {0x1p-133f, 0x0001, "2^-133, the smallest bf16 subnormal"},
    {0x1.8p-133f, 0x0002, "bits 0x00018000 tie to even = 2 * 2^-133"},
    {0x1p-134f, 0x0000, "bits 0x00008000 tie to even = 0"},
    {0x1.0002p-134f, 0x0001, "bits 0x00008001 round up to 2^-133"},
    {0x1p-149f, 0x0000, "bits 0x00000001 round to 0"},
    {-0x1p-149f, 0x8000, "bits 0x80000001 round to -0"},
};

static const struct bits_anchor bf16_nans[] = {
    {0x7FC00000u, 0x7FC0, "quiet NaN"},
    {0xFFC00000u, 0xFFC0, "negative quiet NaN"},
    {0x7F800001u, 0x7FC0, "signalling NaN that truncation would turn into inf"},
    {0xFF800001u, 0xFFC0, "negative signalling NaN, likewise"},
    {0x7F810000u, 0x7FC1, "signalling NaN, payload kept"},
    {0x7FFFFFFFu, 0x7FFF, "all payload bits set: rounding would carry into the sign"},
};

static const struct bits_anchor f16_widened[] = {
    {0x0000, 0x00000000u, "+0"},
    {0x8000, 0x80000000u, "-0"},
    {0x0001, 0x33800000u, "2^-24"},
    {0x8001, 0xB3800000u, "-2^-24"},
    {0x03FF, 0x387FC000u, "the largest subnormal"},
    {0x0400, 0x38800000u, "2^-14"},
    {0x3C00, 0x3F800000u, "1"},
    {0xC000, 0xC0000000u, "-2"},
    {0x7BFF, 0x477FE000u, "65504"},
    {0x7C00, 0x7F800000u, "inf"},
    {0xFC00, 0xFF800000u, "-inf"},
    {0x7E00, 0x7FC00000u, "quiet NaN"},
    {0xFC01, 0xFFC02000u, "negative signalling NaN: quieted, payload shifted by 13"},
};

static const struct bits_anchor bf16_widened[] = {
    {0x0000, 0x00000000u, "+0"},
    {0x8000, 0x80000000u, "-0"},
    {0x0001, 0x00010000u, "2^-133"},
    {0x3F80, 0x3F800000u, "1"},
    {0x7F7F, 0x7F7F0000u, "the largest finite"},
    {0xFF80, 0xFF800000u, "-inf"},
    {0x7F81, 0x7F810000u, "signalling NaN, payload kept"},
};

static void check_values(const struct value_anchor *a, size_t n, uint16_t (*convert)(float)) {
  for (size_t i = 0; i < n; i++)
    EXPECT_BITS(a[i].what, bits_of(a[i].x), convert(a[i].x), a[i].want);
}

static void check_narrowed(const struct bits_anchor *a, size_t n, uint16_t (*convert)(float)) {
  for (size_t i = 0; i < n; i++)
    EXPECT_BITS(a[i].what, a[i].in, convert(float_of(a[i].in)), a[i].want);
}

static void check_widened(const struct bits_anchor *a, size_t n, float (*convert)(uint16_t)) {
  for (size_t i = 0; i < n; i++)
    EXPECT_BITS(a[i].what, a[i].in, bits_of(convert((uint16_t)a[i].in)), a[i].want);
}

static void test_f16_anchors(void) {
  check_values(f16_values, COUNT(f16_values), clmp_f32_to_f16);
  check_narrowed(f16_nans, COUNT(f16_nans), clmp_f32_to_f16);
  check_widened(f16_widened, COUNT(f16_widened), clmp_f16_to_f32);
}

static void test_bf16_anchors(void) {
  check_values(bf16_values, COUNT(bf16_values), clmp_f32_to_bf16);
  check_narrowed(bf16_nans, COUNT(bf16_nans), clmp_f32_to_bf16);
  check_widened(bf16_widened, COUNT(bf16_widened), clmp_bf16_to_f32);
}

int main(void) {
  CU_TestInfo tests[] = {
      {"f16 anchors", test_f16_anchors},
      {"bf16 anchors", test_bf16_anchors},
      {"f16 -> f32, all 2^16", test_f16_to_f32_all},
      {"bf16 -> f32, all 2^16", test_bf16_to_f32_all},
      {"f16 round trip", test_f16_round_trip},
      {"bf16 round trip", test_bf16_round_trip},
      {"f32 -> f16, all 2^32", test_f32_to_f16_all},
      {"f32 -> bf16, all 2^32", test_f32_to_bf16_all},
      CU_TEST_INFO_NULL,
  };
  CU_SuiteInfo suites[] = {
      {"convert", NULL, NULL, NULL, NULL, tests},
      CU_SUITE_INFO_NULL,
  };
  return clmp_test_main(suites);
}
