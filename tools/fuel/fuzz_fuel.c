/*
 * tools/fuel: libFuzzer entry point for the metering pass (build with
 * -DVIV_FUEL_FUZZ=ON and clang). Seed it with tests/unit/fuel's .wasm files.
 *
 * Owns: the properties a fuzzer checks beyond "no crash": a failure leaves no
 * output, and every output is itself a module the pass can read again (it
 * must then refuse it, because the fuel export already exists).
 */
#include <stdlib.h>
#include <string.h>

#include "fuel_pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out, *again;
    size_t len, again_len;
    char err[256];
    if (viv_fuel_instrument(data, size, &out, &len, NULL, err, sizeof err) != 0) {
        if (out || !memchr(err, '\0', sizeof err))
            abort();
        return 0;
    }
    if (viv_fuel_instrument(out, len, &again, &again_len, NULL, err, sizeof err) == 0 ||
        !strstr(err, VIV_FUEL_EXPORT_NAME))
        abort();
    free(out);
    return 0;
}
