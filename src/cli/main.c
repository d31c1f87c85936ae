/*
 * src/cli/main.c: `vivarium` entry point and subcommand dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mcp.h"

static const char main_usage[] =
    "Usage: vivarium COMMAND [OPTIONS]\n"
    "\n"
    "Run untrusted Python inside a WebAssembly sandbox with enforced limits.\n"
    "\n"
    "Commands:\n"
    "  run       run Python code in the sandbox (vivarium run --help)\n"
    "  validate  check that Python code compiles, without running it\n"
    "  session   manage session workspaces (vivarium session --help)\n"
    "  compile   compile a guest .wasm ahead of time (vivarium compile --help)\n"
    "  serve     keep warm interpreters behind a Unix socket (vivarium serve --help)\n"
    "  mcp       serve the sandbox to AI agents over MCP (vivarium mcp --help)\n"
    "  version   print the version, and each guest's version, hashes and state\n"
    "  help      show this help\n"
    "\n"
    "Documentation: docs/ in the source tree, and man vivarium.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return VIV_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0) {
        return viv_cli_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "validate") == 0) {
        return viv_cli_validate(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "session") == 0) {
        return viv_cli_session(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "serve") == 0) {
        return viv_cli_serve(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "mcp") == 0) {
        return viv_mcp_main(argc - 1, argv + 1, viv_cli_default_guest());
    }
    if (strcmp(cmd, "compile") == 0) {
        return viv_cli_compile(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        return viv_cli_version();
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    fprintf(stderr, "vivarium: unknown command '%s'\n\n%s", cmd, main_usage);
    return VIV_EXIT_USAGE;
}
