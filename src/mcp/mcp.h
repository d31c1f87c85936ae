/*
 * src/mcp/mcp.h: `vivarium mcp`, the Model Context Protocol server, as the
 * CLI sees it: one entry point.
 *
 * Owns nothing the CLI can reach; everything else in src/mcp is private to
 * it (mcp_internal.h).
 */
#ifndef VIV_MCP_H
#define VIV_MCP_H

/* Run `vivarium mcp` with argv[0] == "mcp". default_guest is the guest
 * module used when --wasm is not given (NULL: the library's installed
 * default). Returns the process exit status. */
int viv_mcp_main(int argc, char **argv, const char *default_guest);

#endif /* VIV_MCP_H */
