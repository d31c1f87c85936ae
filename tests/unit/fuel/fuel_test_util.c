/*
 * tests/unit/fuel: helpers shared by the fuel-pass tests. See
 * fuel_test_util.h.
 */
#include "fuel_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuel_pass.h"

void tb_free(tbuf *b)
{
    free(b->d);
    b->d = NULL;
    b->len = b->cap = 0;
}

void tb_put(tbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->d = realloc(b->d, cap);
        assert_non_null(b->d);
        b->cap = cap;
    }
    if (n)
        memcpy(b->d + b->len, p, n);
    b->len += n;
}

void tb_u8(tbuf *b, uint8_t v) { tb_put(b, &v, 1); }

void tb_u32(tbuf *b, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tb_u8(b, byte | (v ? 0x80 : 0));
    } while (v);
}

void tb_section(tbuf *mod, uint8_t id, tbuf *content)
{
    tb_u8(mod, id);
    tb_u32(mod, (uint32_t)content->len);
    tb_put(mod, content->d, content->len);
    tb_free(content);
}

void tb_header(tbuf *mod)
{
    static const uint8_t h[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    tb_put(mod, h, sizeof h);
}

uint32_t t_uleb(const uint8_t *p, size_t *pos)
{
    uint32_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        b = p[(*pos)++];
        v |= (uint32_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    return v;
}

int t_sections(const uint8_t *m, size_t len, tsec *out, int max)
{
    size_t pos = 8;
    int n = 0;
    if (len < 8)
        return -1;
    while (pos < len) {
        if (n == max)
            return -1;
        tsec s;
        s.start = pos;
        s.id = m[pos++];
        s.size = t_uleb(m, &pos);
        s.content = pos;
        if (s.size > len - pos)
            return -1;
        pos += s.size;
        out[n++] = s;
    }
    return n;
}

bool t_body(const uint8_t *m, size_t len, uint32_t index, const uint8_t **body, size_t *blen)
{
    tsec secs[64];
    int n = t_sections(m, len, secs, 64);
    for (int i = 0; i < n; i++) {
        if (secs[i].id != 10)
            continue;
        size_t pos = secs[i].content;
        uint32_t count = t_uleb(m, &pos);
        for (uint32_t f = 0; f < count; f++) {
            uint32_t size = t_uleb(m, &pos);
            if (f == index) {
                *body = m + pos;
                *blen = size;
                return true;
            }
            pos += size;
        }
    }
    return false;
}

uint8_t *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n >= 0);
    uint8_t *d = malloc((size_t)n + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return d;
}

void t_write_file(const char *path, const uint8_t *d, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(d, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

const char *t_tmp_path(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    mkdir(FUEL_TEST_TMP, 0777);
    snprintf(p, sizeof paths[0], "%s/%ld-%s", FUEL_TEST_TMP, (long)getpid(), name);
    return p;
}

int t_run(const char *const argv[], char **output)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        alarm(60);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        if (cap - len < 1024) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        ssize_t got = read(fds[0], out + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (output)
        *output = out;
    else
        free(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void t_instrument_file(const char *path, const char *out_path, int64_t initial)
{
    size_t len, out_len;
    uint8_t *in = t_read_file(path, &len), *out;
    char err[256];
    int rc = viv_fuel_instrument_initial(in, len, initial, &out, &out_len, NULL, err, sizeof err);
    if (rc != 0)
        fail_msg("instrumenting %s: %s", path, err);
    t_write_file(out_path, out, out_len);
    free(in);
    free(out);
}
