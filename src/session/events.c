/*
 * src/session/events.c: the session events of the catalogue in
 * src/log/log.h (created, retrieved, deleted, prune.*), and the store's
 * logger.
 *
 * Kept apart from store.c so that the store's own paths stay free of
 * jansson, which does not report allocation failures reliably: an event
 * that cannot be built is simply not sent.
 */
#include <string.h>

#include "log.h"
#include "session_internal.h"

void viv_session_store_set_logger(viv_session_store *store, viv_logger *logger)
{
    if (store != NULL) {
        store->logger = logger;
    }
}

void viv_session_event(viv_session_store *store, const char *event, const char *id)
{
    if (!viv_log_enabled(store->logger, VIV_LOG_INFO)) {
        return;
    }
    json_t *f = json_pack("{s:s}", "session_id", id);
    viv_log_emit(store->logger, VIV_LOG_INFO, event, NULL, f);
    json_decref(f);
}

void viv_session_event_invalid_id(viv_session_store *store, const char *id)
{
    if (!viv_log_enabled(store->logger, VIV_LOG_WARNING)) {
        return;
    }
    json_t *f = json_pack("{s:o}", "session_id", viv_log_path(id));
    viv_log_emit(store->logger, VIV_LOG_WARNING, VIV_EV_SECURITY_INVALID_SESSION_ID, NULL, f);
    json_decref(f);
}

static void emit(viv_session_store *store, viv_log_level level, const char *event, json_t *f)
{
    viv_log_emit(store->logger, level, event, NULL, f);
    json_decref(f);
}

void viv_session_events_prune(viv_session_store *store, double older_than_s, bool dry_run,
                              const viv_prune_report *r)
{
    if (!viv_log_enabled(store->logger, VIV_LOG_INFO)) {
        return;
    }
    emit(store, VIV_LOG_INFO, VIV_EV_PRUNE_STARTED,
         json_pack("{s:s, s:f, s:b}", "root", store->root, "older_than_s", older_than_s, "dry_run",
                   dry_run));
    for (size_t i = 0; i < r->ndeleted; i++) {
        emit(store, VIV_LOG_INFO, dry_run ? VIV_EV_PRUNE_CANDIDATE : VIV_EV_PRUNE_DELETED,
             json_pack("{s:s, s:I}", "session_id", r->deleted[i].id, "bytes",
                       (json_int_t)r->deleted[i].bytes));
    }
    for (size_t i = 0; i < r->nskipped; i++) {
        bool failed = strcmp(r->skipped[i].reason, "delete failed") == 0;
        emit(store, failed ? VIV_LOG_WARNING : VIV_LOG_INFO,
             failed ? VIV_EV_PRUNE_ERROR : VIV_EV_PRUNE_SKIPPED,
             json_pack("{s:o, s:s}", "session_id", viv_log_path(r->skipped[i].id),
                       failed ? "message" : "reason", r->skipped[i].reason));
    }
    emit(store, VIV_LOG_INFO, VIV_EV_PRUNE_COMPLETED,
         json_pack("{s:b, s:I, s:I, s:I}", "dry_run", dry_run, "deleted_count",
                   (json_int_t)r->ndeleted, "skipped_count", (json_int_t)r->nskipped,
                   "reclaimed_bytes", (json_int_t)r->reclaimed_bytes));
}

void viv_session_event_fork(viv_session_store *store, const char *id, const char *source_id)
{
    if (!viv_log_enabled(store->logger, VIV_LOG_INFO)) {
        return;
    }
    json_t *f = json_pack("{s:s, s:s}", "session_id", id, "source_id", source_id);
    viv_log_emit(store->logger, VIV_LOG_INFO, VIV_EV_SESSION_FORKED, NULL, f);
    json_decref(f);
}
