/* host/io/unnamed.c: unnamed temporary files (Linux's O_TMPFILE) for the atomic writer. Elsewhere
 * both functions fail and the writer names its temporary file from the start. */
#define _GNU_SOURCE /* O_TMPFILE and AT_EMPTY_PATH, each used behind #ifdef */
#include "unnamed.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define PROC_FD_MAX 48   /* "/proc/self/fd/<int>" */
#define NEW_MODE    0644 /* the writer sets the final bits with fchmod */

int clmp__unnamed_open(const char *dir) {
#ifdef O_TMPFILE
  return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, NEW_MODE);
#else
  (void)dir;
  return -1;
#endif
}

int clmp__unnamed_link(int fd, const char *name) {
#ifdef AT_EMPTY_PATH
  if (linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0) return 0;
#endif
  char proc[PROC_FD_MAX];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}
