/* host/io/unnamed.h: unnamed temporary files (Linux's O_TMPFILE) for the atomic writer: a file
 * with no name until it is complete, so that a writer killed before then leaves nothing behind
 * (internal). */
#ifndef CLMP_HOST_UNNAMED_H
#define CLMP_HOST_UNNAMED_H

/* A write-only unnamed file in folder dir, mode 0644 before the umask; -1 (errno set) where the
 * system or the file system has none. */
int clmp__unnamed_open(const char *dir);

/* Gives the unnamed file fd the name name, which must not exist: directly where the process may
 * (AT_EMPTY_PATH), else through /proc/self/fd. 0, or -1 (errno set). */
int clmp__unnamed_link(int fd, const char *name);

#endif
