/* host/runtime/fault.h: fault injection, in CLMP_FAULT_INJECT builds only: the N-th OpenCL call,
 * CLBlast call or host allocation of the library fails on request (internal; tests arm it). */
#ifndef CLMP_HOST_FAULT_H
#define CLMP_HOST_FAULT_H

/* Resets the count of injectable calls and makes the n-th from now fail (0: none fails).
 * CLMP_FAULT_AT=n in the environment arms the same before the library's first such call. */
void clmp__fault_arm(unsigned long n);

/* Injectable calls made since the last arm (or since the start). */
unsigned long clmp__fault_count(void);

/* Whether the armed call has failed, and where: "file:line name" (an empty string before). */
int clmp__fault_fired(void);
const char *clmp__fault_site(void);

/* Whether the library recovered from the failed call on purpose (see CLMP_RECOVERED in
 * error.h), so that succeeding was right. */
int clmp__fault_recovered(void);

/* Called by CLMP_RECOVERED: records that the last injectable call, if it was the one that failed,
 * is recovered from. */
void clmp__fault_recover(void);

#endif
