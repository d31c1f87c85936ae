/*
 * src/sandbox/result_meta.c: the metadata a result carries beyond what the
 * run measured: whether the batteries were mounted, the fuel analysis and a
 * failure hint (guidance.c), gathered from the sandbox and the run.
 */
#include <stdlib.h>

#include "guidance.h"
#include "sandbox_internal.h"

static json_t *batteries_json(const viv_batteries *b)
{
    if (!b->available) {
        return json_pack("{s:b, s:s}", "available", 0, "reason", b->reason);
    }
    json_t *mods = json_array();
    for (size_t i = 0; mods != NULL && i < b->nmodules; i++) {
        json_array_append_new(mods, json_string(b->modules[i]));
    }
    return json_pack("{s:b, s:s, s:o}", "available", 1, "path", b->site_guest, "packages",
                     mods ? mods : json_array());
}

void viv_sandbox_attach_guidance(const viv_sandbox *sb, viv_result *res)
{
    const viv_policy *p = sb->policy;
    json_t *extra = json_object();
    if (extra == NULL) {
        return;
    }
    json_object_set_new(extra, "batteries", batteries_json(&sb->batteries));
    json_t *fuel = viv_guidance_fuel(res->fuel_consumed, res->fuel_budget,
                                     res->trapped && res->reason == VIV_TRAP_OUT_OF_FUEL);
    if (fuel != NULL) {
        json_object_set_new(extra, "fuel", fuel);
    }

    viv_guidance_mount *mounts = calloc(p->nmounts + 3, sizeof *mounts);
    if (mounts != NULL) {
        size_t n = 0;
        mounts[n++] = (viv_guidance_mount){p->guest_mount_path, true};
        if (p->data_dir != NULL) {
            mounts[n++] = (viv_guidance_mount){p->guest_data_path, false};
        }
        for (size_t i = 0; i < p->nmounts; i++) {
            mounts[n++] = (viv_guidance_mount){p->mounts[i].guest, false};
        }
        mounts[n++] = (viv_guidance_mount){VIV_PROGRAM_GUEST_DIR, false};
        viv_guidance_input in = {
            .trapped = res->trapped,
            .reason = res->reason,
            .exit_code = res->exit_code,
            .fuel_consumed = res->fuel_consumed,
            .fuel_budget = res->fuel_budget,
            .memory_limit = res->memory_limit,
            .timeout_seconds = p->timeout_seconds,
            .stderr_data = res->err.data,
            .stderr_len = res->err.len,
            .stderr_truncated = res->err.truncated,
            .workspace_guest = p->guest_mount_path,
            .data_guest = p->data_dir != NULL ? p->guest_data_path : NULL,
            .mounts = mounts,
            .nmounts = n,
            .batteries = sb->batteries.available,
            .modules = (const char *const *)sb->batteries.modules,
            .nmodules = sb->batteries.available ? sb->batteries.nmodules : 0,
        };
        json_t *hint = viv_guidance_hint(&in);
        if (hint != NULL) {
            json_object_set_new(extra, "hint", hint);
        }
        free(mounts);
    }
    res->meta_extra = extra;
}
