/*
 * guest/cpython/wasi_shim.c: the few POSIX calls SQLite's unix VFS links
 * against that WASI does not have. A guest owns no users or permission bits,
 * so changing them succeeds without effect and the guest is always uid 0,
 * which is what SQLite assumes when it cannot tell.
 */
#include "wasi_shim.h"

int fchmod(int fd, mode_t mode)
{
    (void)fd;
    (void)mode;
    return 0;
}

int fchown(int fd, uid_t owner, gid_t group)
{
    (void)fd;
    (void)owner;
    (void)group;
    return 0;
}

uid_t geteuid(void)
{
    return 0;
}
