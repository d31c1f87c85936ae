/*
 * tools/fuel: `viv-fuel`, the command-line front end of the metering pass.
 *
 * Owns: file I/O and the human-readable statistics on stderr. All the
 * rewriting is in the viv_fuel library.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuel_pass.h"
#include "wasm_io.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: viv-fuel [--initial N] IN.wasm OUT.wasm\n"
            "  Meters every function of IN.wasm and writes OUT.wasm (fuel pass v%d).\n"
            "  --initial N  start the exported \"%s\" global at N instead of 0\n",
            VIV_FUEL_PASS_VERSION, VIV_FUEL_EXPORT_NAME);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "viv-fuel: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                fprintf(stderr, "viv-fuel: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "viv-fuel: %s: read error\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "viv-fuel: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t put = fwrite(buf, 1, len, f);
    if (fclose(f) != 0 || put != len) {
        fprintf(stderr, "viv-fuel: %s: write error\n", path);
        return -1;
    }
    return 0;
}

/* For the statistics only: the input already went through the pass. */
static size_t code_section_size(const uint8_t *buf, size_t len)
{
    wio_reader r;
    wio_reader_init(&r, buf, len, NULL, 0);
    if (!wio_skip(&r, 8))
        return 0;
    while (wio_left(&r) > 0) {
        uint8_t id;
        uint32_t size;
        if (!wio_u8(&r, &id) || !wio_u32(&r, &size) || !wio_skip(&r, size))
            return 0;
        if (id == 10)
            return size;
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int64_t initial = 0;
    int argi = 1;
    if (argi < argc && strcmp(argv[argi], "--initial") == 0) {
        if (argi + 1 >= argc) {
            usage();
            return 2;
        }
        char *endp;
        errno = 0;
        long long v = strtoll(argv[argi + 1], &endp, 0);
        if (errno || *endp || endp == argv[argi + 1]) {
            fprintf(stderr, "viv-fuel: bad --initial value '%s'\n", argv[argi + 1]);
            return 2;
        }
        initial = v;
        argi += 2;
    }
    if (argc - argi != 2) {
        usage();
        return 2;
    }
    const char *in_path = argv[argi], *out_path = argv[argi + 1];

    size_t in_len;
    uint8_t *in = read_file(in_path, &in_len);
    if (!in)
        return 1;

    uint8_t *out;
    size_t out_len;
    viv_fuel_stats st;
    char err[256];
    double t0 = now();
    int rc = viv_fuel_instrument_initial(in, in_len, initial, &out, &out_len, &st, err, sizeof err);
    double t1 = now();
    if (rc != 0) {
        fprintf(stderr, "viv-fuel: %s: %s\n", in_path, err);
        free(in);
        return 1;
    }
    size_t code_in = code_section_size(in, in_len), code_out = code_section_size(out, out_len);
    free(in);
    if (write_file(out_path, out, out_len) != 0) {
        free(out);
        return 1;
    }
    free(out);

    fprintf(stderr,
            "viv-fuel: %" PRIu32 " functions, %" PRIu64 " charge sites, %" PRIu64 " check sites\n"
            "viv-fuel: module %zu -> %zu bytes, code section %zu -> %zu bytes (+%.1f%%), "
            "%.3f s\n",
            st.functions, st.charge_sites, st.check_sites, in_len, out_len, code_in, code_out,
            code_in ? 100.0 * ((double)code_out - (double)code_in) / (double)code_in : 0.0,
            t1 - t0);
    return 0;
}
