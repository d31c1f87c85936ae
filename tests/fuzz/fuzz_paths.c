/*
 * tests/fuzz/fuzz_paths.c: libFuzzer harness for guest path resolution in
 * src/wasi.
 *
 * A scratch root holds three trees:
 *
 *   ROOT/tree/    preopened read-write as guest fd 3: files, directories and
 *                 symlinks of every kind (absolute, relative, escaping,
 *                 dangling, loops, chains, magic /proc links, trailing "/");
 *   ROOT/rotree/  preopened read-only as guest fd 4, with its own escaping
 *                 symlinks;
 *   ROOT/canary/  outside both: must never change, nor may anything appear
 *                 next to the trees.
 *
 * Each input is a program of up to 16 WASI calls (path_open,
 * path_filestat_get/set_times, path_readlink, path_unlink_file,
 * path_remove_directory, path_create_directory, path_rename, path_symlink,
 * path_link, fd_readdir, fd_read/fd_write, fd_close, fd_renumber,
 * fd_filestat_set_size) made through a fake linear memory. Record layout:
 *
 *   [op] [dir] [a] [b] path1 '\0' path2 '\0'      (paths at most 512 bytes)
 *
 * Oracles, all fatal (abort, so libFuzzer keeps the input):
 *   - after every call, every host descriptor the context holds
 *     (viv_wasi_host_fds) resolves, through /proc/self/fd, beneath the
 *     realpath of ROOT/tree or ROOT/rotree;
 *   - after every input, ROOT minus ROOT/tree (the canary, the read-only
 *     tree, and ROOT itself) is byte-for-byte, mode- and mtime-identical to
 *     the start;
 *   - after every input, no symlink the guest created in ROOT/tree leads out
 *     of it when the host follows it (openat2 RESOLVE_BENEATH from the tree
 *     answers EXDEV, once the planted links are removed). src/wasi promises this ("so that nothing the host later
 *     does with this tree can be walked out of it"). Set
 *     VIV_FUZZ_NO_SYMLINK_ORACLE=1 to leave this oracle out;
 *   - the process holds no more descriptors after an input than before.
 *
 * The trees are rebuilt before every input, so inputs are independent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi.h"
#include "wasi_abi.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE 0x10000u
#define PATH1_AT 0x0100u
#define PATH2_AT 0x1100u
#define OUT_AT 0x3000u
#define STAT_AT 0x3100u
#define IOV_AT 0x3200u
#define BUF_AT 0x4000u
#define BUF_LEN 0x4000u
#define PATH_MAX_IN 512u
#define MAX_OPS 16
#define MAX_PLANTED 64
#define MAX_HOST_FDS 1100 /* WASI holds at most 1024 guest fds */

static char root[PATH_MAX], tree[PATH_MAX], rotree[PATH_MAX], canary[PATH_MAX];
static char baseline[65536];
static ino_t planted[MAX_PLANTED];
static size_t nplanted;
static bool symlink_oracle = true;

static uint8_t *mem;
static uint32_t mem_size = MEM_SIZE;

static void rm_rf(const char *path);

static void cleanup(void)
{
    if (root[0] != '\0')
        rm_rf(root);
    root[0] = '\0';
}

/* Every failure ends here: remove the scratch root (abort skips atexit),
 * then abort so that libFuzzer keeps the input. */
static void __attribute__((noreturn)) fail_input(void)
{
    cleanup();
    abort();
}

static void fatal(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_paths: %s: %s\n", what, detail);
    fail_input();
}

/* ---- building the trees ---------------------------------------------------- */

static void at(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX)
        fatal("path too long", name);
}

static void mkfile(const char *dir, const char *name, const char *content, mode_t mode)
{
    char p[PATH_MAX];
    at(p, dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, content, strlen(content)) < 0)
        fatal("cannot create", p);
    fchmod(fd, mode);
    close(fd);
}

static void mkd(const char *dir, const char *name)
{
    char p[PATH_MAX];
    at(p, dir, name);
    if (mkdir(p, 0755) != 0)
        fatal("cannot mkdir", p);
}

static void mkl(const char *dir, const char *name, const char *target)
{
    char p[PATH_MAX];
    at(p, dir, name);
    if (symlink(target, p) != 0)
        fatal("cannot symlink", p);
    struct stat st;
    if (lstat(p, &st) == 0 && nplanted < MAX_PLANTED)
        planted[nplanted++] = st.st_ino;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DNR)
        chmod(path, (st->st_mode & 07777) | 0700);
    return 0;
}

static void rm_rf(const char *path)
{
    nftw(path, open_up, 16, FTW_PHYS | FTW_MOUNT);
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void build_tree(void)
{
    char abs_secret[PATH_MAX];
    at(abs_secret, canary, "secret.txt");
    nplanted = 0;
    if (mkdir(tree, 0755) != 0)
        fatal("cannot mkdir", tree);
    mkfile(tree, "file.txt", "tree file\n", 0644);
    mkd(tree, "dir");
    mkd(tree, "dir/sub");
    mkfile(tree, "dir/sub/deep.txt", "deep\n", 0644);
    mkd(tree, "empty");
    mkl(tree, "abs", abs_secret);
    mkl(tree, "absdir", canary);
    mkl(tree, "rel_up", "../canary/secret.txt");
    mkl(tree, "rel_updir", "../canary");
    mkl(tree, "rel_in", "dir/sub/deep.txt");
    mkl(tree, "rel_dir", "dir/sub");
    mkl(tree, "up_in", "dir/../file.txt");
    mkl(tree, "loop1", "loop2");
    mkl(tree, "loop2", "loop1");
    mkl(tree, "self", ".");
    mkl(tree, "chain1", "chain2");
    mkl(tree, "chain2", "dir/chain3");
    mkl(tree, "dir/chain3", "../rel_up");
    mkl(tree, "dir/upup", "../../canary");
    mkl(tree, "dir/up_ok", "../file.txt");
    mkl(tree, "dangling", "nonexistent");
    mkl(tree, "dangling_out", "../canary/newfile");
    mkl(tree, "dangling_abs", "/tmp/viv-fuzz-never-created");
    mkl(tree, "proc_root", "/proc/self/root");
    mkl(tree, "proc_fd", "/proc/self/fd/3");
    mkl(tree, "proc_rel", "../../../../../../../../proc/self/cwd");
    mkl(tree, "trailing", "dir/");
    mkl(tree, "dotdot", "..");
    mkl(tree, "empty_target", "dir/sub/");
}

static void build_fixed(void)
{
    mkdir(canary, 0755);
    mkfile(canary, "secret.txt", "CANARY SECRET\n", 0644);
    mkfile(canary, "writable.txt", "world writable\n", 0666);
    mkd(canary, "sub");
    mkfile(canary, "sub/x.txt", "x\n", 0600);
    mkdir(rotree, 0755);
    mkfile(rotree, "ro.txt", "read only\n", 0666);
    mkd(rotree, "rodir");
    mkfile(rotree, "rodir/inner.txt", "inner\n", 0644);
    size_t keep = nplanted;
    mkl(rotree, "rolink_up", "../canary/secret.txt");
    mkl(rotree, "rolink_in", "ro.txt");
    mkl(rotree, "rolink_tree", "../tree/file.txt");
    nplanted = keep; /* the read-only tree is checked by its manifest */
}

/* ---- oracles ------------------------------------------------------------- */

/* A directory stream on a duplicate of dirfd, from the start: the duplicate
 * shares its offset with dirfd, which an earlier walk may have left at the
 * end. */
static DIR *dir_stream(int dirfd)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return NULL;
    }
    rewinddir(d);
    return d;
}

static uint64_t hash_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t h = 1469598103934665603ull;
    unsigned char b[4096];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ b[i]) * 1099511628211ull;
    close(fd);
    return h;
}

/* Entries beneath dirfd in readdir order sorted by name, never following a
 * link; "tree" is skipped at the top. */
static void manifest(int dirfd, const char *rel, char *out, size_t cap, size_t *len, int depth)
{
    DIR *d = dir_stream(dirfd);
    if (d == NULL || depth > 8)
        fatal("cannot list", rel);
    char names[64][256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (depth == 0 && strcmp(e->d_name, "tree") == 0))
            continue;
        snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        char target[256] = "";
        if (S_ISLNK(st.st_mode)) {
            ssize_t k = readlinkat(dirfd, names[i], target, sizeof target - 1);
            target[k > 0 ? k : 0] = '\0';
        }
        int k = snprintf(out + *len, cap - *len, "%s/%s %o %lu %lld %lld.%ld %llx %s\n", rel,
                         names[i], (unsigned)st.st_mode, (unsigned long)st.st_nlink,
                         (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                         S_ISREG(st.st_mode) ? (unsigned long long)hash_file(dirfd, names[i]) : 0ull,
                         target);
        if (k < 0 || (size_t)k >= cap - *len)
            fatal("manifest", "too large");
        *len += (size_t)k;
        if (S_ISDIR(st.st_mode)) {
            char r2[PATH_MAX];
            if (snprintf(r2, sizeof r2, "%s/%s", rel, names[i]) >= (int)sizeof r2)
                fatal("manifest", "path too long");
            int sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                manifest(sub, r2, out, cap, len, depth + 1);
                close(sub);
            }
        }
    }
}

static void take_manifest(char *out, size_t cap)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fatal("cannot open", root);
    size_t len = 0;
    out[0] = '\0';
    manifest(fd, ".", out, cap, &len, 0);
    close(fd);
}

static bool beneath(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void check_fds(const viv_wasi *w, const char *after)
{
    int fds[MAX_HOST_FDS];
    size_t n = viv_wasi_host_fds(w, fds, MAX_HOST_FDS);
    if (n > MAX_HOST_FDS)
        n = MAX_HOST_FDS;
    for (size_t i = 0; i < n; i++) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i]);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k < 0)
            fatal("a guest fd is not open on the host", after);
        target[k] = '\0';
        if (!beneath(target, tree) && !beneath(target, rotree)) {
            fprintf(stderr, "fuzz_paths: after %s: guest holds host fd %d -> %s\n", after,
                    fds[i], target);
            fail_input();
        }
    }
}

/* Remove the planted symlinks (by inode, wherever the guest moved them) so
 * that a guest link into one of the tree's own escaping links does not count
 * against the guest: only links the guest made by itself are judged. The
 * tree is rebuilt before the next input anyway. */
static void unplant(int dirfd, int depth)
{
    DIR *d = dir_stream(dirfd);
    if (d == NULL || depth > 32) {
        if (d != NULL)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                unplant(sub, depth + 1);
                close(sub);
            }
        } else if (S_ISLNK(st.st_mode)) {
            for (size_t i = 0; i < nplanted; i++)
                if (planted[i] == st.st_ino)
                    unlinkat(dirfd, e->d_name, 0);
        }
    }
    closedir(d);
}

/* Symlinks the guest made that the host would follow out of the tree. */
static void check_symlinks(int rootfd, int dirfd, const char *rel, int depth)
{
    DIR *d = dir_stream(dirfd);
    if (d == NULL || depth > 32) {
        if (d != NULL)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
            (int)sizeof path)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                check_symlinks(rootfd, sub, path, depth + 1);
                close(sub);
            }
            continue;
        }
        if (!S_ISLNK(st.st_mode))
            continue;
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
        if (fd >= 0) {
            close((int)fd);
        } else if (errno == EXDEV) {
            char target[PATH_MAX];
            ssize_t k = readlinkat(dirfd, e->d_name, target, sizeof target - 1);
            target[k > 0 ? k : 0] = '\0';
            fprintf(stderr,
                    "fuzz_paths: the guest created a symlink that leads out of its tree: "
                    "%s -> %s\n",
                    path, target);
            fail_input();
        }
    }
    closedir(d);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* ---- the guest side ---------------------------------------------------------- */

static void never(void *user)
{
    (void)user;
    fatal("callback", "deadline reached without a deadline");
}

static void never_exit(void *user, uint32_t code)
{
    (void)user;
    (void)code;
    fatal("callback", "proc_exit without proc_exit");
}

static void on_security(void *user, viv_wasi_security_kind kind, const char *path)
{
    (void)user;
    (void)kind;
    (void)path;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *no = getenv("VIV_FUZZ_NO_SYMLINK_ORACLE");
    symlink_oracle = no == NULL || *no == '\0' || strcmp(no, "0") == 0;
    /* $TMPDIR if set: a tmpfs (/dev/shm) makes the per-input rebuild of the
     * tree several times faster than a disk-backed /tmp. */
    const char *tmp = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/viv-fuzz-paths-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, root) == NULL)
        fatal("mkdtemp", strerror(errno));
    at(tree, root, "tree");
    at(rotree, root, "rotree");
    at(canary, root, "canary");
    build_fixed();
    take_manifest(baseline, sizeof baseline);
    atexit(cleanup);
    mem = calloc(1, MEM_SIZE);
    if (mem == NULL)
        fatal("calloc", "memory");
    return 0;
}

static uint32_t put_path(uint32_t where, const uint8_t **p, const uint8_t *end)
{
    uint32_t n = 0;
    while (*p < end && **p != 0 && n < PATH_MAX_IN)
        mem[where + n++] = *(*p)++;
    if (*p < end && **p == 0)
        (*p)++;
    return n;
}

/* Guest fds to aim at: the preopens, stdio, and what the guest opened. */
static uint32_t pick_fd(uint8_t sel, const uint32_t *opened, size_t nopened)
{
    static const uint32_t fixed[] = {3, 4, 3, 4, 3, 4, 0, 1, 5, 1023, 1024, 0xffffffffu};
    if (nopened > 0 && (sel & 0x80))
        return opened[sel % nopened];
    return fixed[sel % (sizeof fixed / sizeof fixed[0])];
}

/* What wasi-libc asks for: O_RDWR, O_RDONLY, O_WRONLY, and nothing. */
#define WRITE_RIGHTS                                                                      \
    (VIV_WASI_RIGHT_FD_DATASYNC | VIV_WASI_RIGHT_FD_WRITE | VIV_WASI_RIGHT_FD_ALLOCATE |   \
     VIV_WASI_RIGHT_FD_FILESTAT_SET_SIZE)
static const uint64_t rights_table[4] = {
    VIV_WASI_RIGHTS_ALL,
    VIV_WASI_RIGHTS_ALL & ~WRITE_RIGHTS,
    VIV_WASI_RIGHTS_ALL & ~(VIV_WASI_RIGHT_FD_READ | VIV_WASI_RIGHT_FD_READDIR),
    0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const op_names[] = {
        "path_open",         "path_filestat_get",     "path_readlink",  "path_unlink_file",
        "path_remove_dir",   "path_create_directory", "path_rename",    "path_symlink",
        "path_link",         "path_filestat_set_times", "fd_readdir",   "fd_read_write",
        "fd_close",          "fd_renumber",           "fd_filestat_set_size",
    };
    int fds_before = count_fds();
    rm_rf(tree);
    build_tree();

    const char *argv0 = "fuzz";
    viv_wasi_preopen pre[2] = {{tree, "/app", false}, {rotree, "/data", true}};
    viv_wasi_config cfg = {
        .argv = &argv0,
        .argc = 1,
        .preopens = pre,
        .npreopens = 2,
        .stdout_fd = -1,
        .stderr_fd = -1,
        .stdout_max = 1 << 20,
        .stderr_max = 1 << 20,
        .on_deadline = never,
        .on_exit = never_exit,
        .on_security = on_security,
    };
    viv_wasi *w = NULL;
    char err[256];
    if (viv_wasi_create(&cfg, &w, err, sizeof err) != 0)
        fatal("viv_wasi_create", err);
    uint8_t *const mem_ptr = mem;
    viv_wasi_set_memory(w, (viv_wasi_memory){&mem_ptr, &mem_size});

    uint32_t opened[16];
    size_t nopened = 0;
    const uint8_t *p = data, *end = data + size;
    for (int op_i = 0; op_i < MAX_OPS && end - p >= 4; op_i++) {
        uint8_t op = p[0] % 15, dsel = p[1], a = p[2], b = p[3];
        p += 4;
        memset(mem, 0, 0x3000);
        uint32_t l1 = put_path(PATH1_AT, &p, end);
        uint32_t l2 = put_path(PATH2_AT, &p, end);
        uint32_t dir = pick_fd(dsel, opened, nopened);
        uint32_t dir2 = pick_fd(b, opened, nopened);
        uint32_t fd;
        switch (op) {
        case 0:
            if (viv_wasi_path_open(w, dir, a & 1, PATH1_AT, l1, b & 15, rights_table[(a >> 1) & 3],
                                   VIV_WASI_RIGHTS_ALL, (a >> 3) & 31, OUT_AT) == 0) {
                memcpy(&fd, mem + OUT_AT, 4);
                if (nopened < 16)
                    opened[nopened++] = fd;
            }
            break;
        case 1: viv_wasi_path_filestat_get(w, dir, a & 1, PATH1_AT, l1, STAT_AT); break;
        case 2: viv_wasi_path_readlink(w, dir, PATH1_AT, l1, BUF_AT, a * 8u, OUT_AT); break;
        case 3: viv_wasi_path_unlink_file(w, dir, PATH1_AT, l1); break;
        case 4: viv_wasi_path_remove_directory(w, dir, PATH1_AT, l1); break;
        case 5: viv_wasi_path_create_directory(w, dir, PATH1_AT, l1); break;
        case 6: viv_wasi_path_rename(w, dir, PATH1_AT, l1, dir2, PATH2_AT, l2); break;
        case 7: viv_wasi_path_symlink(w, PATH1_AT, l1, dir, PATH2_AT, l2); break;
        case 8: viv_wasi_path_link(w, dir, a & 1, PATH1_AT, l1, dir2, PATH2_AT, l2); break;
        case 9:
            viv_wasi_path_filestat_set_times(w, dir, a & 1, PATH1_AT, l1, 1000000000ull * a,
                                             2000000000ull * b, (uint32_t)(a >> 1) & 15);
            break;
        case 10: viv_wasi_fd_readdir(w, dir, BUF_AT, BUF_LEN, a, OUT_AT); break;
        case 11: {
            uint32_t iov[2] = {BUF_AT, (uint32_t)a * 16u};
            if (b & 1) {
                memcpy(mem + BUF_AT, mem + PATH1_AT, l1);
                iov[1] = l1;
            }
            memcpy(mem + IOV_AT, iov, sizeof iov);
            if (b & 1)
                viv_wasi_fd_write(w, dir, IOV_AT, 1, OUT_AT);
            else
                viv_wasi_fd_read(w, dir, IOV_AT, 1, OUT_AT);
            break;
        }
        case 12: viv_wasi_fd_close(w, dir); break;
        case 13: viv_wasi_fd_renumber(w, dir, dir2); break;
        case 14: viv_wasi_fd_filestat_set_size(w, dir, (uint64_t)a * 4096u); break;
        }
        check_fds(w, op_names[op]);
    }
    viv_wasi_destroy(w);

    static char now[65536];
    take_manifest(now, sizeof now);
    if (strcmp(now, baseline) != 0) {
        fprintf(stderr, "fuzz_paths: the host changed outside the tree.\nbefore:\n%s\nafter:\n%s\n",
                baseline, now);
        fail_input();
    }
    if (symlink_oracle) {
        int tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd >= 0) {
            unplant(tfd, 0);
            check_symlinks(tfd, tfd, "", 0);
            close(tfd);
        }
    }
    int fds_after = count_fds();
    if (fds_after > fds_before) {
        fprintf(stderr, "fuzz_paths: %d host fds after the input, %d before\n", fds_after,
                fds_before);
        fail_input();
    }
    return 0;
}
