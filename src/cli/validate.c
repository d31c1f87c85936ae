/*
 * src/cli/validate.c: `vivarium validate`, syntax checking inside the
 * sandbox without running anything.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char validate_usage_head[] =
    "Usage: vivarium validate [OPTIONS] (-c CODE | FILE | -)\n"
    "\n"
    "Check that Python code compiles, inside the sandbox and under the same policy\n"
    "as `run`, without running it: compile(code, \"<sandbox>\", \"exec\").\n"
    "Prints Python's error for invalid code.\n"
    "\n";
static const char validate_usage_tail[] =
    "\n"
    "Exit status: 0 valid, 1 invalid, 125 usage or policy error, 126 validation could\n"
    "not finish (a limit stopped it), 127 guest module not found or not compiled.\n";

int viv_cli_validate(int argc, char **argv)
{
    char usage[8192];
    snprintf(usage, sizeof usage, "%s%s%s", validate_usage_head, viv_cli_policy_help,
             validate_usage_tail);
    viv_cli_common c;
    int rc = viv_cli_parse_common("validate", usage, argc, argv, &c);
    if (rc >= 0 || (rc = viv_cli_load_program("validate", &c, argc, argv)) >= 0) {
        viv_cli_common_free(&c);
        return rc;
    }
    viv_error err = {0};
    viv_sandbox *sb = NULL;
    viv_status st =
        viv_sandbox_create(c.policy, c.wasm ? c.wasm : viv_cli_default_guest(), &sb, &err);
    if (st != VIV_OK) {
        viv_cli_common_free(&c);
        return viv_cli_fail("validate", st, &err);
    }
    bool valid = false;
    char *message = NULL;
    st = viv_sandbox_validate_code(sb, c.program, c.program_len, &valid, &message, &err);
    viv_sandbox_destroy(sb);
    bool json = c.json;
    viv_cli_common_free(&c);
    if (st != VIV_OK) {
        fprintf(stderr, "vivarium validate: %s\n", err.message);
        return st == VIV_EHOST ? VIV_EXIT_TRAPPED : viv_cli_fail("validate", st, &err);
    }
    if (json) {
        json_t *o = json_pack("{s:b, s:s?}", "valid", valid, "message", message);
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (text != NULL) {
            puts(text);
        }
        free(text);
        json_decref(o);
    } else if (!valid && message != NULL) {
        fputs(message, stdout);
    }
    free(message);
    return valid ? 0 : 1;
}
