/*
 * src/session/snapshot.h: content snapshots of a workspace directory, and
 * what changed between two of them (internal to libvivarium).
 *
 * The sandbox layer takes a snapshot before and after each execution and
 * reports the difference as the files the guest created, modified and
 * deleted. Between executions the "after" snapshot is saved as an index
 * file next to the session (ROOT/<id>/snapshot.idx, outside the guest's
 * reach) so that the next "before" re-hashes only what changed.
 *
 * What is recorded: every regular file beneath the directory, by its
 * relative POSIX path ("a/b.txt"), with its size and an XXH3-64 hash of its
 * content. Directories are walked, never recorded. Symlinks are neither
 * followed nor recorded (a link is not content the guest wrote into a file;
 * whatever it points at is either recorded under its own path inside the
 * directory or is outside and none of our business), nor are FIFOs,
 * sockets and devices.
 *
 * When is a hash reused rather than recomputed? Only when the file's (dev,
 * ino, size, mtime, ctime) all equal the previous snapshot's entry AND its
 * ctime is more than 2 s older than the moment the previous snapshot
 * started. ctime cannot be set from user space and moves on every write,
 * so a file changed after that snapshot started has a newer ctime; the 2 s
 * margin covers the coarse clock the kernel stamps ctime with. A file
 * modified close to (or during) the previous snapshot is therefore always
 * re-hashed, which is what catches a same-size rewrite within one mtime
 * tick, or mtime set back with utimensat.
 *
 * Caps: a walk stops at max_files files or max_bytes_hashed bytes hashed
 * (reused hashes cost nothing) and does not enter directories deeper than
 * max_depth. Either way the snapshot is marked truncated. The walk visits
 * paths in a fixed order, so a snapshot cut short by the file or byte cap
 * covers exactly the paths before the first one it could not record; diffs
 * only compare the part both snapshots cover, so a cap never shows up as
 * files falsely deleted or created, only as viv_changes.truncated.
 *
 * Functions returning int return 0 on success, -1 on failure with a message
 * in err (errlen bytes, may be NULL/0).
 */
#ifndef VIV_SESSION_SNAPSHOT_H
#define VIV_SESSION_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct viv_snapshot viv_snapshot;

typedef struct viv_snapshot_limits {
    size_t max_files;          /* 0: 10,000 */
    unsigned max_depth;        /* 0: 32 directory levels below the top */
    uint64_t max_bytes_hashed; /* 0: 256 MiB */
} viv_snapshot_limits;

/* Snapshot directory `dir`, resolved like openat(dirfd, dir) (dirfd -1: the
 * current directory; dir NULL or "": dirfd itself). prev (may be NULL) lends
 * hashes as described above; lim may be NULL for the defaults. */
int viv_snapshot_take(int dirfd, const char *dir, const viv_snapshot *prev,
                      const viv_snapshot_limits *lim, viv_snapshot **out, char *err, size_t errlen);
/* A cap was hit or part of the tree could not be read. */
bool viv_snapshot_truncated(const viv_snapshot *s);
/* Regular files recorded. */
size_t viv_snapshot_count(const viv_snapshot *s);
/* Bytes read to compute hashes when this snapshot was taken (0 when every
 * hash was reused from prev, and for a loaded snapshot). */
uint64_t viv_snapshot_bytes_hashed(const viv_snapshot *s);
void viv_snapshot_free(viv_snapshot *s);

typedef struct viv_file_change {
    char *path;
    uint64_t size; /* for deleted entries: the old size and hash */
    uint64_t hash;
} viv_file_change;

typedef struct viv_changes {
    viv_file_change *created, *modified, *deleted;
    size_t ncreated, nmodified, ndeleted;
    bool truncated; /* either snapshot was truncated: the lists may be partial */
} viv_changes;

/* What changed from before to after: each list sorted by path (strcmp).
 * Modified means same path, different size or content hash. -1 only when
 * out of memory (out is then empty). */
int viv_snapshot_diff(const viv_snapshot *before, const viv_snapshot *after, viv_changes *out);
void viv_changes_free(viv_changes *c);

/* Write s to path atomically (a temp file in the same directory, renamed
 * over). The index is a cache, so it is not fsync'ed: after a crash it is
 * the old index, the new one, or unreadable, and every one of those is safe
 * (see the reuse rule; unreadable means a full snapshot). */
int viv_snapshot_save(const viv_snapshot *s, const char *path, char *err, size_t errlen);
/* Read an index written by viv_snapshot_save. A missing, truncated,
 * corrupt or foreign file is -1: take a full snapshot instead. */
int viv_snapshot_load(const char *path, viv_snapshot **out, char *err, size_t errlen);

#endif /* VIV_SESSION_SNAPSHOT_H */
