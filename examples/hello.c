/*
 * examples/hello.c: the smallest useful embedding of libvivarium.
 *
 *   cc hello.c $(pkg-config --cflags --libs vivarium) -o hello && ./hello
 *
 * It shows the three things every embedder meets: a policy error names its
 * field, a run returns a result whatever the guest did, and a missing guest
 * is a typed error with its path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vivarium.h>

int main(void)
{
    viv_error err = {0};
    viv_policy *policy = NULL;
    if (viv_policy_new(&policy, &err) != VIV_OK) {
        fprintf(stderr, "policy: %s\n", err.message);
        return 1;
    }

    /* 1. A bad value is refused, and the error says which field. */
    viv_status st = viv_policy_set_fuel_budget(policy, -1, &err);
    printf("set fuel_budget=-1: %s, field \"%s\": %s\n", viv_status_name(st), err.field,
           err.message);

    /* 2. Run code with the default guest and read the result. */
    viv_sandbox *sb = NULL;
    st = viv_sandbox_create(policy, NULL, &sb, &err);
    if (st != VIV_OK) {
        fprintf(stderr, "sandbox: %s\n", err.message);
        viv_policy_free(policy);
        return 1;
    }
    const char *code = "print(6*7)";
    viv_result *result = NULL;
    st = viv_sandbox_execute(sb, code, strlen(code), NULL, &result, &err);
    if (st == VIV_OK) {
        size_t len;
        const char *out = viv_result_stdout(result, &len);
        printf("print(6*7) -> %.*s", (int)len, out);
        printf("success=%d fuel_consumed=%lld\n", viv_result_success(result),
               (long long)viv_result_fuel_consumed(result));
        viv_result_free(result);
    } else {
        fprintf(stderr, "execute: %s\n", err.message);
    }
    viv_sandbox_destroy(sb);

    /* 3. A guest module that does not exist is VIV_ENOENT with its path. */
    st = viv_sandbox_create(policy, "/nonexistent/guest.wasm", &sb, &err);
    printf("missing guest: %s, path \"%s\"\n", viv_status_name(st), err.path);

    viv_policy_free(policy);
    return 0;
}
