/*
 * src/wasi/wasi_abi.h: wasi_snapshot_preview1 constants and struct offsets.
 *
 * Owns the numbers the guest ABI fixes (flag bits, enum values, byte offsets
 * inside the structs we read from and write into linear memory). Kept apart
 * from wasi.h so that the engine does not need them, while the
 * implementation and the unit tests (which play the guest) share one copy.
 * All structs are little-endian and read/written byte by byte, never through
 * host struct overlays, because guest pointers carry no alignment promise.
 */
#ifndef VIV_WASI_ABI_H
#define VIV_WASI_ABI_H

/* filetype */
#define VIV_WASI_FILETYPE_UNKNOWN          0u
#define VIV_WASI_FILETYPE_BLOCK_DEVICE     1u
#define VIV_WASI_FILETYPE_CHARACTER_DEVICE 2u
#define VIV_WASI_FILETYPE_DIRECTORY        3u
#define VIV_WASI_FILETYPE_REGULAR_FILE     4u
#define VIV_WASI_FILETYPE_SOCKET_DGRAM     5u
#define VIV_WASI_FILETYPE_SOCKET_STREAM    6u
#define VIV_WASI_FILETYPE_SYMBOLIC_LINK    7u

/* rights */
#define VIV_WASI_RIGHT_FD_DATASYNC             (1ull << 0)
#define VIV_WASI_RIGHT_FD_READ                 (1ull << 1)
#define VIV_WASI_RIGHT_FD_SEEK                 (1ull << 2)
#define VIV_WASI_RIGHT_FD_FDSTAT_SET_FLAGS     (1ull << 3)
#define VIV_WASI_RIGHT_FD_SYNC                 (1ull << 4)
#define VIV_WASI_RIGHT_FD_TELL                 (1ull << 5)
#define VIV_WASI_RIGHT_FD_WRITE                (1ull << 6)
#define VIV_WASI_RIGHT_FD_ADVISE               (1ull << 7)
#define VIV_WASI_RIGHT_FD_ALLOCATE             (1ull << 8)
#define VIV_WASI_RIGHT_PATH_CREATE_DIRECTORY   (1ull << 9)
#define VIV_WASI_RIGHT_PATH_CREATE_FILE        (1ull << 10)
#define VIV_WASI_RIGHT_PATH_LINK_SOURCE        (1ull << 11)
#define VIV_WASI_RIGHT_PATH_LINK_TARGET        (1ull << 12)
#define VIV_WASI_RIGHT_PATH_OPEN               (1ull << 13)
#define VIV_WASI_RIGHT_FD_READDIR              (1ull << 14)
#define VIV_WASI_RIGHT_PATH_READLINK           (1ull << 15)
#define VIV_WASI_RIGHT_PATH_RENAME_SOURCE      (1ull << 16)
#define VIV_WASI_RIGHT_PATH_RENAME_TARGET      (1ull << 17)
#define VIV_WASI_RIGHT_PATH_FILESTAT_GET       (1ull << 18)
#define VIV_WASI_RIGHT_PATH_FILESTAT_SET_SIZE  (1ull << 19)
#define VIV_WASI_RIGHT_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define VIV_WASI_RIGHT_FD_FILESTAT_GET         (1ull << 21)
#define VIV_WASI_RIGHT_FD_FILESTAT_SET_SIZE    (1ull << 22)
#define VIV_WASI_RIGHT_FD_FILESTAT_SET_TIMES   (1ull << 23)
#define VIV_WASI_RIGHT_PATH_SYMLINK            (1ull << 24)
#define VIV_WASI_RIGHT_PATH_REMOVE_DIRECTORY   (1ull << 25)
#define VIV_WASI_RIGHT_PATH_UNLINK_FILE        (1ull << 26)
#define VIV_WASI_RIGHT_POLL_FD_READWRITE       (1ull << 27)
#define VIV_WASI_RIGHT_SOCK_SHUTDOWN           (1ull << 28)
#define VIV_WASI_RIGHT_SOCK_ACCEPT             (1ull << 29)
#define VIV_WASI_RIGHTS_ALL                    ((1ull << 30) - 1)

/* oflags */
#define VIV_WASI_O_CREAT     1u
#define VIV_WASI_O_DIRECTORY 2u
#define VIV_WASI_O_EXCL      4u
#define VIV_WASI_O_TRUNC     8u

/* fdflags */
#define VIV_WASI_FDFLAG_APPEND   1u
#define VIV_WASI_FDFLAG_DSYNC    2u
#define VIV_WASI_FDFLAG_NONBLOCK 4u
#define VIV_WASI_FDFLAG_RSYNC    8u
#define VIV_WASI_FDFLAG_SYNC     16u

/* lookupflags */
#define VIV_WASI_LOOKUP_SYMLINK_FOLLOW 1u

/* fstflags */
#define VIV_WASI_FST_ATIM     1u
#define VIV_WASI_FST_ATIM_NOW 2u
#define VIV_WASI_FST_MTIM     4u
#define VIV_WASI_FST_MTIM_NOW 8u

/* whence */
#define VIV_WASI_WHENCE_SET 0u
#define VIV_WASI_WHENCE_CUR 1u
#define VIV_WASI_WHENCE_END 2u

/* clockid */
#define VIV_WASI_CLOCK_REALTIME        0u
#define VIV_WASI_CLOCK_MONOTONIC       1u
#define VIV_WASI_CLOCK_PROCESS_CPUTIME 2u
#define VIV_WASI_CLOCK_THREAD_CPUTIME  3u

/* eventtype, subclockflags, eventrwflags */
#define VIV_WASI_EVENTTYPE_CLOCK           0u
#define VIV_WASI_EVENTTYPE_FD_READ         1u
#define VIV_WASI_EVENTTYPE_FD_WRITE        2u
#define VIV_WASI_SUBCLOCK_ABSTIME          1u
#define VIV_WASI_EVENT_FD_READWRITE_HANGUP 1u

/* advice */
#define VIV_WASI_ADVICE_NORMAL     0u
#define VIV_WASI_ADVICE_SEQUENTIAL 1u
#define VIV_WASI_ADVICE_RANDOM     2u
#define VIV_WASI_ADVICE_WILLNEED   3u
#define VIV_WASI_ADVICE_DONTNEED   4u
#define VIV_WASI_ADVICE_NOREUSE    5u

/* preopentype */
#define VIV_WASI_PREOPENTYPE_DIR 0u

/* Struct sizes and field offsets (bytes). */
#define VIV_WASI_IOVEC_SIZE   8u /* buf u32 @0, buf_len u32 @4 */
#define VIV_WASI_PRESTAT_SIZE 8u /* tag u8 @0, pr_name_len u32 @4 */

#define VIV_WASI_FDSTAT_SIZE     24u
#define VIV_WASI_FDSTAT_FILETYPE 0u  /* u8 */
#define VIV_WASI_FDSTAT_FLAGS    2u  /* u16 */
#define VIV_WASI_FDSTAT_RIGHTS   8u  /* u64 */
#define VIV_WASI_FDSTAT_INHERIT  16u /* u64 */

#define VIV_WASI_FILESTAT_SIZE     64u
#define VIV_WASI_FILESTAT_DEV      0u
#define VIV_WASI_FILESTAT_INO      8u
#define VIV_WASI_FILESTAT_FILETYPE 16u /* u8 */
#define VIV_WASI_FILESTAT_NLINK    24u
#define VIV_WASI_FILESTAT_SIZE_    32u
#define VIV_WASI_FILESTAT_ATIM     40u
#define VIV_WASI_FILESTAT_MTIM     48u
#define VIV_WASI_FILESTAT_CTIM     56u

#define VIV_WASI_DIRENT_SIZE   24u
#define VIV_WASI_DIRENT_NEXT   0u  /* u64 */
#define VIV_WASI_DIRENT_INO    8u  /* u64 */
#define VIV_WASI_DIRENT_NAMLEN 16u /* u32 */
#define VIV_WASI_DIRENT_TYPE   20u /* u8 */

#define VIV_WASI_SUBSCRIPTION_SIZE   48u
#define VIV_WASI_SUB_USERDATA        0u  /* u64 */
#define VIV_WASI_SUB_TAG             8u  /* u8 */
#define VIV_WASI_SUB_CLOCK_ID        16u /* u32 */
#define VIV_WASI_SUB_CLOCK_TIMEOUT   24u /* u64 */
#define VIV_WASI_SUB_CLOCK_PRECISION 32u /* u64 */
#define VIV_WASI_SUB_CLOCK_FLAGS     40u /* u16 */
#define VIV_WASI_SUB_FD              16u /* u32 */

#define VIV_WASI_EVENT_SIZE     32u
#define VIV_WASI_EVENT_USERDATA 0u  /* u64 */
#define VIV_WASI_EVENT_ERROR    8u  /* u16 */
#define VIV_WASI_EVENT_TYPE     10u /* u8 */
#define VIV_WASI_EVENT_NBYTES   16u /* u64 */
#define VIV_WASI_EVENT_FLAGS    24u /* u16 */

#endif /* VIV_WASI_ABI_H */
