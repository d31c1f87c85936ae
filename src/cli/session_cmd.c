/*
 * src/cli/session_cmd.c: `vivarium session ...`, host-side management of
 * session workspaces.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char session_usage[] =
    "Usage: vivarium session [--sessions-dir DIR] [--log FILE|-|syslog] COMMAND ...\n"
    "\n"
    "Manage session workspaces: directories that keep files between executions\n"
    "(vivarium run --session ID). Sessions live in DIR/<id>/ (default ./workspace).\n"
    "\n"
    "Commands:\n"
    "  new [--id ID]                       create a session (a UUID if no id is given)\n"
    "  list                                id, created, updated and size of each session\n"
    "  show ID                             one session\n"
    "  rm ID                               remove a session (removing a missing one is fine)\n"
    "  fork SRC NEW                        copy session SRC as NEW: its workspace and its\n"
    "                                      saved interpreter state (docs/state.md), to try\n"
    "                                      something on NEW and throw it away\n"
    "  prune --older-than DURATION [--dry-run]\n"
    "                                      remove sessions not updated for DURATION\n"
    "                                      (e.g. 90s, 30m, 12h, 7d; 0s means all)\n"
    "  files ID [--pattern GLOB]           list the files in a session's workspace\n"
    "  read ID PATH                        print a file\n"
    "  write ID PATH [--no-overwrite]      write standard input to a file\n"
    "  delete ID PATH [--recursive]        delete a file, or a directory with --recursive\n"
    "\n"
    "Session ids are 1-64 characters of A-Z a-z 0-9 _ -. Paths are relative to the\n"
    "workspace and may not leave it. Exit status: 0 ok, 1 not found, refused or\n"
    "already there (fork), 125 usage error.\n";

static int fail(viv_status st, const viv_error *err)
{
    fprintf(stderr, "vivarium session: %s\n", err->message);
    return st == VIV_EINVAL && err->field[0] == '\0' && err->path[0] == '\0' ? VIV_EXIT_USAGE : 1;
}

static int usage(const char *msg)
{
    fprintf(stderr, "vivarium session: %s\nTry 'vivarium session --help'.\n", msg);
    return VIV_EXIT_USAGE;
}

static void print_info(const viv_session_info *i)
{
    printf("%-40s %-22s %-22s %12llu\n", i->id, i->created_at, i->updated_at,
           (unsigned long long)i->size_bytes);
}

/* "90s", "30m", "12h", "7d", or plain seconds. */
static bool parse_duration(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) {
        return false;
    }
    double mult = 1;
    if (*end != '\0') {
        switch (*end) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            return false;
        }
        if (end[1] != '\0') {
            return false;
        }
    }
    *out = v * mult;
    return true;
}

static int cmd_prune(viv_session_store *store, int argc, char **argv)
{
    static const struct option opts[] = {{"older-than", required_argument, NULL, 'o'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    double older = -1;
    bool dry = false;
    int opt;
    optind = 0; /* 0, not 1: glibc then resets its permutation state too */
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'o') {
            if (!parse_duration(optarg, &older)) {
                return usage("invalid --older-than duration");
            }
        } else if (opt == 'n') {
            dry = true;
        } else {
            return usage("unknown prune option");
        }
    }
    if (older < 0) {
        return usage("prune needs --older-than DURATION");
    }
    viv_prune_report rep = {0};
    viv_error err = {0};
    viv_status st = viv_session_prune(store, older, dry, &rep, &err);
    if (st != VIV_OK) {
        return fail(st, &err);
    }
    for (size_t i = 0; i < rep.ndeleted; i++) {
        printf("%s %s (%llu bytes)\n", dry ? "would delete" : "deleted", rep.deleted[i].id,
               (unsigned long long)rep.deleted[i].bytes);
    }
    for (size_t i = 0; i < rep.nskipped; i++) {
        printf("skipped %s: %s\n", rep.skipped[i].id, rep.skipped[i].reason);
    }
    printf("%s %zu, skipped %zu, %s %llu bytes\n", dry ? "candidates" : "deleted", rep.ndeleted,
           rep.nskipped, dry ? "would reclaim" : "reclaimed",
           (unsigned long long)rep.reclaimed_bytes);
    viv_prune_report_free(&rep);
    return 0;
}

static int cmd_files(viv_session_store *store, int argc, char **argv)
{
    static const struct option opts[] = {{"pattern", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    const char *pattern = NULL;
    int opt;
    optind = 0; /* 0, not 1: glibc then resets its permutation state too */
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'p') {
            return usage("unknown files option");
        }
        pattern = optarg;
    }
    if (optind != argc - 1) {
        return usage("files needs exactly one session ID");
    }
    char **paths = NULL;
    size_t n = 0;
    viv_error err = {0};
    viv_status st = viv_session_files(store, argv[optind], pattern, &paths, &n, &err);
    if (st != VIV_OK) {
        return fail(st, &err);
    }
    for (size_t i = 0; i < n; i++) {
        puts(paths[i]);
    }
    viv_strings_free(paths, n);
    return 0;
}

static int cmd_write(viv_session_store *store, int argc, char **argv)
{
    static const struct option opts[] = {{"no-overwrite", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    bool overwrite = true;
    int opt;
    optind = 0; /* 0, not 1: glibc then resets its permutation state too */
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'n') {
            return usage("unknown write option");
        }
        overwrite = false;
    }
    if (optind != argc - 2) {
        return usage("write needs a session ID and a PATH");
    }
    char *data = NULL;
    size_t len = 0;
    if (viv_cli_read_file("-", &data, &len) != 0) {
        fprintf(stderr, "vivarium session: cannot read standard input: %s\n", strerror(errno));
        return 1;
    }
    viv_error err = {0};
    viv_status st =
        viv_session_write(store, argv[optind], argv[optind + 1], data, len, overwrite, &err);
    free(data);
    return st == VIV_OK ? 0 : fail(st, &err);
}

static int cmd_delete(viv_session_store *store, int argc, char **argv)
{
    static const struct option opts[] = {{"recursive", no_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    bool recursive = false;
    int opt;
    optind = 0; /* 0, not 1: glibc then resets its permutation state too */
    while ((opt = getopt_long(argc, argv, "r", opts, NULL)) != -1) {
        if (opt != 'r') {
            return usage("unknown delete option");
        }
        recursive = true;
    }
    if (optind != argc - 2) {
        return usage("delete needs a session ID and a PATH");
    }
    viv_error err = {0};
    viv_status st = viv_session_delete(store, argv[optind], argv[optind + 1], recursive, &err);
    return st == VIV_OK ? 0 : fail(st, &err);
}

static int dispatch(viv_session_store *store, const char *cmd, int argc, char **argv)
{
    viv_error err = {0};
    viv_session_info info;
    viv_status st;
    if (strcmp(cmd, "new") == 0) {
        static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                             {NULL, 0, NULL, 0}};
        const char *id = NULL;
        int opt;
        optind = 0; /* 0, not 1: glibc then resets its permutation state too */
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
            if (opt != 'i') {
                return usage("unknown new option");
            }
            id = optarg;
        }
        bool created = false;
        st = viv_session_open(store, id, &info, &created, &err);
        if (st != VIV_OK) {
            return fail(st, &err);
        }
        printf("%s\n", info.id);
        if (!created) {
            fprintf(stderr, "vivarium session: %s already existed\n", info.id);
        }
        return 0;
    }
    if (strcmp(cmd, "list") == 0) {
        viv_session_info *list = NULL;
        size_t n = 0;
        if ((st = viv_session_list(store, &list, &n, &err)) != VIV_OK) {
            return fail(st, &err);
        }
        printf("%-40s %-22s %-22s %12s\n", "ID", "CREATED", "UPDATED", "BYTES");
        for (size_t i = 0; i < n; i++) {
            print_info(&list[i]);
        }
        free(list);
        return 0;
    }
    if (strcmp(cmd, "show") == 0) {
        if (argc != 2) {
            return usage("show needs exactly one session ID");
        }
        if ((st = viv_session_get(store, argv[1], &info, &err)) != VIV_OK) {
            return fail(st, &err);
        }
        char ws[4096];
        viv_session_workspace(store, argv[1], ws, sizeof ws, &err);
        printf("id:         %s\ncreated_at: %s\nupdated_at: %s\nsize_bytes: %llu\n"
               "version:    %d\nworkspace:  %s\n",
               info.id, info.created_at, info.updated_at, (unsigned long long)info.size_bytes,
               info.version, ws);
        return 0;
    }
    if (strcmp(cmd, "rm") == 0) {
        if (argc != 2) {
            return usage("rm needs exactly one session ID");
        }
        st = viv_session_remove(store, argv[1], &err);
        return st == VIV_OK ? 0 : fail(st, &err);
    }
    if (strcmp(cmd, "fork") == 0) {
        if (argc != 3) {
            return usage("fork needs a source session ID and a new session ID");
        }
        st = viv_session_fork(store, argv[1], argv[2], &err);
        if (st != VIV_OK) {
            return fail(st, &err);
        }
        printf("%s\n", argv[2]);
        return 0;
    }
    if (strcmp(cmd, "prune") == 0) {
        return cmd_prune(store, argc, argv);
    }
    if (strcmp(cmd, "files") == 0) {
        return cmd_files(store, argc, argv);
    }
    if (strcmp(cmd, "read") == 0) {
        if (argc != 3) {
            return usage("read needs a session ID and a PATH");
        }
        char *data = NULL;
        size_t len = 0;
        st = viv_session_read(store, argv[1], argv[2], (size_t)1 << 30, &data, &len, &err);
        if (st != VIV_OK) {
            return fail(st, &err);
        }
        fwrite(data, 1, len, stdout);
        free(data);
        return 0;
    }
    if (strcmp(cmd, "write") == 0) {
        return cmd_write(store, argc, argv);
    }
    if (strcmp(cmd, "delete") == 0) {
        return cmd_delete(store, argc, argv);
    }
    return usage("unknown session command");
}

int viv_cli_session(int argc, char **argv)
{
    static const struct option opts[] = {{"sessions-dir", required_argument, NULL, 'd'},
                                         {"log", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *root = "workspace", *log_target = NULL;
    int opt;
    optind = 0; /* 0, not 1: glibc then resets its permutation state too */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            root = optarg;
            break;
        case 'l':
            log_target = optarg;
            break;
        case 'h':
            fputs(session_usage, stdout);
            return 0;
        default:
            return usage("unknown option");
        }
    }
    if (optind >= argc) {
        return usage("no command given");
    }
    viv_error err = {0};
    viv_logger *logger = NULL;
    int rc = viv_cli_open_logger("session", log_target, &logger);
    if (rc >= 0) {
        return rc;
    }
    viv_session_store *store = NULL;
    viv_status st = viv_session_store_open(root, &store, &err);
    if (st != VIV_OK) {
        viv_logger_free(logger);
        return fail(st, &err);
    }
    viv_session_store_set_logger(store, logger);
    rc = dispatch(store, argv[optind], argc - optind, argv + optind);
    viv_session_store_close(store);
    viv_logger_free(logger);
    return rc;
}
