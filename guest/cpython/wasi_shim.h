/*
 * guest/cpython/wasi_shim.h: force-included into SQLite's amalgamation for
 * the WASI build. wasi-libc hides the declarations of calls WASI has no
 * equivalent for (ownership, permissions, user ids) and the POSIX lock
 * constants; SQLite's unix VFS still names them even when it never locks
 * (we build it with the "unix-none" VFS as the default).
 */
#ifndef VIVARIUM_WASI_SHIM_H
#define VIVARIUM_WASI_SHIM_H

#include <fcntl.h>
#include <sys/types.h>

#ifndef F_RDLCK
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#endif
#ifndef F_GETLK
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#endif

int fchmod(int fd, mode_t mode);
int fchown(int fd, uid_t owner, gid_t group);
uid_t geteuid(void);

#endif
