/*
 * src/session/session_internal.h: what store.c and files.c share.
 *
 * Owns: struct viv_session_store, the on-disk names inside a session
 * directory, and the fd-relative helpers both halves need (opening a
 * session's workspace, walking and removing trees without following
 * symlinks). Not installed; nothing outside src/session includes it.
 */
#ifndef VIV_SESSION_INTERNAL_H
#define VIV_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vivarium.h"

#define VIV_SESSION_META      "session.json"
#define VIV_SESSION_WORKSPACE "workspace"
/* The saved interpreter state (state.c), and the last unusable one. */
#define VIV_SESSION_STATE          "state"
#define VIV_SESSION_STATE_UNUSABLE "state.unusable"
#define VIV_SESSION_VERSION        1
#define VIV_SESSION_ID_MAX         64
/* viv_session_files refuses to return more paths than this. */
#define VIV_SESSION_MAX_FILES 100000
/* Directory levels below a workspace that the read-only walks (files, size)
 * descend; each level holds one fd open. */
#define VIV_SESSION_MAX_DEPTH 256
/* Entries in ROOT whose names start with this are removals in progress (a
 * session renamed out of the way before its tree is deleted). '.' is not a
 * valid id character, so they can never collide with a session. */
#define VIV_SESSION_TRASH_PREFIX ".trash-"

struct viv_session_store {
    char *root;         /* absolute, as realpath(3) gave it */
    int rootfd;         /* O_DIRECTORY; every lookup is relative to it */
    viv_logger *logger; /* borrowed; NULL: no events */
};

/* Session events (events.c). */
void viv_session_event(viv_session_store *store, const char *event, const char *id);
void viv_session_event_invalid_id(viv_session_store *store, const char *id);
void viv_session_events_prune(viv_session_store *store, double older_than_s, bool dry_run,
                              const viv_prune_report *report);

/* ^[A-Za-z0-9_-]{1,64}$ */
bool viv_session_id_valid(const char *id);
/* in, with anything but printable ASCII as '?' and "..." when cut to
 * outlen (>= 5): caller-supplied strings go into messages that end up in
 * logs, where a raw newline or escape sequence could forge lines. */
const char *viv_session_printable(const char *in, char *out, size_t outlen);
/* VIV_OK, or VIV_EINVAL with field "session_id". */
viv_status viv_session_check_id(const char *id, viv_error *err);

/* Open ROOT/<id>/ (O_DIRECTORY, never through a symlink) and wait briefly
 * for its metadata to appear if a concurrent creator is still writing it.
 * VIV_ENOENT when there is no such session. */
viv_status viv_session_open_dir(viv_session_store *store, const char *id, int *dirfd,
                                viv_error *err);
/* Open ROOT/<id>/workspace/ of an existing session (O_DIRECTORY, no
 * symlinks anywhere on the way). */
viv_status viv_session_open_workspace(viv_session_store *store, const char *id, int *wsfd,
                                      viv_error *err);

/* Sum of st_size over the regular files beneath dirfd (lstat semantics; no
 * symlink is followed). Best effort: unreadable parts count as 0. */
uint64_t viv_session_tree_bytes(int dirfd);

/* Remove name (relative to dirfd) and, if it is a directory, everything
 * beneath it, without following any symlink: links are unlinked, never
 * entered. Works on trees of any depth with a bounded number of fds. A
 * missing name is success. Returns 0 or -1 with errno set. */
int viv_session_rmtree_at(int dirfd, const char *name);

/* Rewrite the metadata in the session directory dirfd for id, created and
 * updated now (a fork's copy). 0 or -1 with errno. */
int viv_session_meta_rewrite(int dirfd, const char *id);
void viv_session_event_fork(viv_session_store *store, const char *id, const char *source_id);

/* Copies the rest of in to out: 0, or -1 with errno. */
int viv_session_copy_fd(int in, int out);

/* The saved state (state.c). *fd is -1 when the session has none. */
viv_status viv_session_state_open(viv_session_store *store, const char *id, int *fd,
                                  viv_error *err);
/* Replace the saved state with the rest of src_fd, atomically. */
viv_status viv_session_state_install(viv_session_store *store, const char *id, int src_fd,
                                     viv_error *err);
/* Move an unusable state out of the way (to state.unusable, replacing an
 * older one); where (may be NULL) gets its new path, or "" if there was
 * none. */
viv_status viv_session_state_set_aside(viv_session_store *store, const char *id, char *where,
                                       size_t wlen, viv_error *err);

/* 16 random bytes from getrandom(2), hex-encoded into out[33]. */
int viv_session_random_hex(char out[33]);

#endif /* VIV_SESSION_INTERNAL_H */
