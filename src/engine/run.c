/*
 * src/engine/run.c: one activation of a guest, from instantiation to the
 * end of _start.
 *
 * Owns: the guest's native stack (its own mapping with a guard region, so
 * that runaway recursion becomes a trap rather than a host crash), the fault
 * handler that turns faults inside the guest's memory reservation or stack
 * guard into wasm traps (and leaves every other fault fatal), the wall-clock
 * interrupt, fuel set-up and read-back, and the classification of how the
 * run ended.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include "store.h"

static _Thread_local viv_store *current_store;

viv_store *viv_store_current(void) { return current_store; }
void viv_store_set_current(viv_store *s) { current_store = s; }

void viv_store_unwind(viv_store *s, int code)
{
    if (s == NULL || !s->active) {
        /* A trap outside a guest activation is a host bug; die loudly rather
         * than jump into a dead frame. */
        abort();
    }
    siglongjmp(s->unwind, code);
}

void viv_engine_exit(uint32_t code)
{
    viv_store *s = current_store;
    s->exit_code = code;
    viv_store_unwind(s, VIV_UNWIND_EXIT);
}

void viv_engine_deadline_reached(void)
{
    viv_store *s = current_store;
    s->interrupted = 1;
    viv_store_unwind(s, VIV_UNWIND_DEADLINE);
}

/* --- signals --------------------------------------------------------------- */

static bool in_range(uintptr_t a, const uint8_t *base, uint64_t len)
{
    return base != NULL && a >= (uintptr_t)base && a - (uintptr_t)base < len;
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    viv_store *s = current_store;
    uintptr_t addr = (uintptr_t)info->si_addr;
    if (s != NULL && s->active) {
        if (in_range(addr, s->reservation, s->reservation_len)) {
            viv_store_unwind(s, WASM_RT_TRAP_OOB);
        }
        if (in_range(addr, s->stack, s->stack_guard)) {
            viv_store_unwind(s, WASM_RT_TRAP_EXHAUSTION);
        }
    }
    /* Not the guest's fault: let it kill the process with the real signal,
     * so the parent reports a host error instead of a fake wasm trap. */
    signal(sig, SIG_DFL);
}

/* The program counter a signal interrupted, where we know how to read it. */
static uintptr_t interrupted_pc(const void *uctx)
{
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* The deadline timer fires on this thread. If it interrupted the guest's own
 * machine code, the guest is abandoned on the spot: nothing of the host is
 * half-done there (no lock held, no host state mid-update), exactly as when
 * a fault in guest code becomes a trap. Otherwise the guest is in host code
 * (an import, the runtime, libc): the flag makes the import unwind when it
 * returns, the interrupt global stops it at its next metering check, and
 * the timer fires again a few milliseconds later. */
static void on_alarm(int sig, siginfo_t *info, void *uctx)
{
    (void)sig, (void)info;
    viv_store *s = current_store;
    if (s == NULL || !s->active) {
        return;
    }
    s->interrupted = 1;
    if (s->interrupt != NULL) {
        *s->interrupt = 1;
    }
    uintptr_t pc = interrupted_pc(uctx);
    if (pc != 0 && pc >= s->code_lo && pc < s->code_hi) {
        viv_store_unwind(s, VIV_UNWIND_DEADLINE);
    }
}

void viv_engine_poll_deadline(void)
{
    viv_store *s = current_store;
    if (s != NULL && s->active && s->interrupted) {
        viv_store_unwind(s, VIV_UNWIND_DEADLINE);
    }
}

typedef struct saved_signals {
    struct sigaction segv, bus, alrm;
    stack_t altstack;
    void *altstack_mem;
} saved_signals;

static int install_signals(saved_signals *saved)
{
    size_t alt_len = 64 * 1024;
    saved->altstack_mem =
        mmap(NULL, alt_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (saved->altstack_mem == MAP_FAILED) {
        return -1;
    }
    stack_t ss = {.ss_sp = saved->altstack_mem, .ss_size = alt_len, .ss_flags = 0};
    if (sigaltstack(&ss, &saved->altstack) != 0) {
        munmap(saved->altstack_mem, alt_len);
        return -1;
    }
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &saved->segv);
    sigaction(SIGBUS, &sa, &saved->bus);
    struct sigaction al = {0};
    al.sa_sigaction = on_alarm;
    al.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&al.sa_mask);
    sigaction(SIGALRM, &al, &saved->alrm);
    return 0;
}

static void restore_signals(saved_signals *saved)
{
    sigaction(SIGSEGV, &saved->segv, NULL);
    sigaction(SIGBUS, &saved->bus, NULL);
    sigaction(SIGALRM, &saved->alrm, NULL);
    stack_t cur;
    sigaltstack(&saved->altstack, &cur);
    munmap(saved->altstack_mem, 64 * 1024);
}

/* --- the activation ---------------------------------------------------------- */

typedef struct activation {
    viv_store *store;
    const viv_engine_run_params *params;
    viv_engine_limits limits; /* params->limits, or a fork server's re-arm */
    const viv_guest_artifact *art;
    void *instance;
    timer_t timer;
    bool timer_armed;
    volatile int code; /* how the guest left: 0, a trap, or VIV_UNWIND_* */
    ucontext_t host_ctx, guest_ctx;
} activation;

static _Thread_local activation *current_activation;

static void arm_deadline(activation *act)
{
    uint64_t deadline = act->limits.deadline_ns;
    if (deadline == 0) {
        return;
    }
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGALRM;
    if (timer_create(CLOCK_MONOTONIC, &sev, &act->timer) != 0) {
        snprintf(act->store->host_error, sizeof act->store->host_error,
                 "cannot arm the deadline timer: %s", strerror(errno));
        viv_store_unwind(act->store, VIV_UNWIND_HOST_ERROR);
    }
    act->timer_armed = true;
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(deadline / 1000000000u),
                     .tv_nsec = (long)(deadline % 1000000000u)},
        /* Repeats until a tick lands in guest code or an import returns. */
        .it_interval = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000},
    };
    if (timer_settime(act->timer, TIMER_ABSTIME, &its, NULL) != 0) {
        snprintf(act->store->host_error, sizeof act->store->host_error,
                 "cannot arm the deadline timer: %s", strerror(errno));
        viv_store_unwind(act->store, VIV_UNWIND_HOST_ERROR);
    }
}

/* Runs on the guest stack. The unwind point lives on this same stack, so a
 * trap (from generated code or from the fault handler on the alternate
 * stack) never longjmps across stacks. */
static void guest_main(void)
{
    activation *act = current_activation;
    viv_store *s = act->store;
    const viv_guest_artifact *art = act->art;
    int code = sigsetjmp(s->unwind, 1);
    if (code == 0) {
        s->active = 1;
        art->instantiate(act->instance, act->params->wasi_ctx);
        wasm_rt_memory_t *mem = art->memory(act->instance);
        act->params->attach_memory(act->params->wasi_ctx, &mem->data, &mem->size);
        if (art->fuel != NULL) {
            s->fuel = art->fuel(act->instance);
            *s->fuel = act->limits.fuel;
        }
        if (art->interrupt != NULL) {
            s->interrupt = art->interrupt(act->instance);
            *s->interrupt = 0;
        }
        arm_deadline(act);
        art->start(act->instance);
    }
    s->active = 0;
    act->code = code;
}

static void disarm_deadline(activation *act)
{
    if (act->timer_armed) {
        timer_delete(act->timer);
        act->timer_armed = false;
    }
}

static void classify(const activation *act, viv_engine_outcome *out)
{
    const viv_store *s = act->store;
    int64_t budget = act->limits.fuel;
    int code = act->code;
    bool fuel_negative = s->fuel != NULL && *s->fuel < 0;

    if (s->fuel != NULL) {
        /* The pass stores its counter to the global before every call,
         * return and trap, so this is what the guest was charged. */
        int64_t left = *s->fuel;
        /* An overdrawn budget was spent in full: the trap fires at the first
         * check after the counter crosses zero. */
        out->fuel_consumed = left < 0 ? budget : budget - left;
    }
    switch (code) {
    case 0:
        out->end = VIV_END_RETURNED;
        return;
    case VIV_UNWIND_EXIT:
        out->exit_code = s->exit_code;
        out->end = s->exit_code == 0 ? VIV_END_RETURNED : VIV_END_EXIT;
        return;
    case VIV_UNWIND_DEADLINE:
        out->end = VIV_END_TIMEOUT;
        snprintf(out->message, sizeof out->message, "wall-clock deadline reached");
        return;
    case VIV_UNWIND_HOST_ERROR:
        out->end = VIV_END_HOST_ERROR;
        snprintf(out->message, sizeof out->message, "%s", s->host_error);
        return;
    case WASM_RT_TRAP_UNREACHABLE:
        if (s->interrupted && (fuel_negative || (s->interrupt != NULL && *s->interrupt))) {
            out->end = VIV_END_TIMEOUT;
            snprintf(out->message, sizeof out->message, "wall-clock deadline reached");
            return;
        }
        if (fuel_negative) {
            out->end = VIV_END_OUT_OF_FUEL;
            snprintf(out->message, sizeof out->message, "fuel budget of %lld exhausted",
                     (long long)budget);
            return;
        }
        out->end = VIV_END_TRAP;
        snprintf(out->message, sizeof out->message, "unreachable executed");
        return;
    default:
        break;
    }
    out->end = VIV_END_TRAP;
    const char *what = "unknown trap";
    switch ((wasm_rt_trap_t)code) {
    case WASM_RT_TRAP_OOB:
        what = "out of bounds memory access";
        break;
    case WASM_RT_TRAP_INT_OVERFLOW:
        what = "integer overflow";
        break;
    case WASM_RT_TRAP_DIV_BY_ZERO:
        what = "integer divide by zero";
        break;
    case WASM_RT_TRAP_INVALID_CONVERSION:
        what = "invalid conversion to integer";
        break;
    case WASM_RT_TRAP_CALL_INDIRECT:
        what = "indirect call type mismatch or null entry";
        break;
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
        what = "uncaught exception";
        break;
    case WASM_RT_TRAP_EXHAUSTION:
        what = "call stack exhausted";
        break;
    default:
        break;
    }
    snprintf(out->message, sizeof out->message, "%s", what);
}

int viv_engine_rearm(const viv_engine_limits *limits, char *err, size_t errlen)
{
    activation *act = current_activation;
    viv_store *s = act != NULL ? act->store : NULL;
    if (s == NULL || !s->active) {
        snprintf(err, errlen, "no guest is running");
        return -1;
    }
    if (limits->fuel <= 0 || (s->fuel == NULL && !limits->allow_unmetered)) {
        snprintf(err, errlen, "fuel budget must be positive and enforceable");
        return -1;
    }
    uint64_t cap_pages = limits->memory_bytes / VIV_WASM_PAGE;
    uint32_t cap = cap_pages > 65536 ? 65536 : (uint32_t)cap_pages;
    uint32_t pages = s->memory != NULL ? s->memory->pages : 0;
    if (pages > cap) {
        snprintf(
            err, errlen, "memory limit of %llu bytes is below the warm interpreter's %llu bytes",
            (unsigned long long)limits->memory_bytes, (unsigned long long)pages * VIV_WASM_PAGE);
        return -1;
    }
    s->memory_cap_pages = cap;
    if (s->memory != NULL) {
        s->memory->max_pages = s->module_max_pages < cap ? s->module_max_pages : cap;
    }
    s->memory_cap_hit = false;
    s->interrupted = 0;
    if (s->interrupt != NULL) {
        *s->interrupt = 0;
    }
    act->limits = *limits;
    if (s->fuel != NULL) {
        *s->fuel = limits->fuel;
    }
    /* Timers are not inherited across fork: whatever the zygote had is
     * gone, and this process arms its own. (A live interpreter stopped
     * its own in viv_engine_pause.) */
    act->timer_armed = false;
    arm_deadline(act);
    return 0;
}

void viv_engine_pause(viv_engine_outcome *out)
{
    *out = (viv_engine_outcome){.end = VIV_END_RETURNED};
    activation *act = current_activation;
    viv_store *s = act != NULL ? act->store : NULL;
    if (s == NULL || !s->active) {
        return;
    }
    disarm_deadline(act);
    if (s->fuel != NULL) {
        int64_t left = *s->fuel;
        out->fuel_consumed = left < 0 ? act->limits.fuel : act->limits.fuel - left;
    }
    out->memory_pages = s->memory != NULL ? s->memory->pages : 0;
    out->memory_cap_hit = s->memory_cap_hit;
}

#define DEFAULT_STACK_BYTES ((size_t)128 << 20)
#define STACK_GUARD_BYTES   ((size_t)16 << 20)

viv_engine_status viv_engine_run(const viv_engine_run_params *p, viv_engine_outcome *out)
{
    *out = (viv_engine_outcome){0};
    const viv_guest_artifact *art = viv_engine_artifact_info(p->artifact);
    if (art->fuel == NULL && !p->limits.allow_unmetered) {
        out->end = VIV_END_HOST_ERROR;
        snprintf(out->message, sizeof out->message,
                 "the guest artifact is not metered, so its fuel budget cannot be enforced; "
                 "recompile it with `vivarium compile`");
        return VIV_ENGINE_EINVALID;
    }
    if (p->limits.fuel <= 0) {
        out->end = VIV_END_HOST_ERROR;
        snprintf(out->message, sizeof out->message, "fuel budget must be positive");
        return VIV_ENGINE_EINVALID;
    }

    viv_func_types types = {0};
    viv_store store = {0};
    store.types = &types;
    uint64_t cap_pages = p->limits.memory_bytes / VIV_WASM_PAGE;
    store.memory_cap_pages = cap_pages > 65536 ? 65536 : (uint32_t)cap_pages;
    if (art->initial_pages > store.memory_cap_pages) {
        out->end = VIV_END_HOST_ERROR;
        snprintf(out->message, sizeof out->message,
                 "memory limit of %llu bytes is below the guest's initial memory of %llu bytes",
                 (unsigned long long)p->limits.memory_bytes,
                 (unsigned long long)art->initial_pages * VIV_WASM_PAGE);
        return VIV_ENGINE_EINVALID;
    }

    viv_guest_host host;
    viv_runtime_fill_host(&host, p->wasi);
    art->bind(&host);

    activation act = {.store = &store, .params = p, .limits = p->limits, .art = art};
    size_t stack_len = p->limits.stack_bytes ? p->limits.stack_bytes : DEFAULT_STACK_BYTES;
    store.stack_guard = STACK_GUARD_BYTES;
    store.stack_len = stack_len + STACK_GUARD_BYTES;
    store.stack =
        mmap(NULL, store.stack_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    act.instance = calloc(1, art->instance_size);
    saved_signals saved;
    bool signals_ok = false;
    if (store.stack == MAP_FAILED || act.instance == NULL) {
        store.stack = store.stack == MAP_FAILED ? NULL : store.stack;
        snprintf(out->message, sizeof out->message, "cannot allocate the guest stack or instance");
        goto fail;
    }
    if (mprotect(store.stack + STACK_GUARD_BYTES, stack_len, PROT_READ | PROT_WRITE) != 0 ||
        install_signals(&saved) != 0) {
        snprintf(out->message, sizeof out->message, "cannot prepare the guest stack: %s",
                 strerror(errno));
        goto fail;
    }
    signals_ok = true;

    viv_engine_artifact_code(p->artifact, &store.code_lo, &store.code_hi);
    viv_store_set_current(&store);
    current_activation = &act;
    art->init_module();

    if (getcontext(&act.guest_ctx) != 0) {
        snprintf(out->message, sizeof out->message, "getcontext failed");
        goto fail;
    }
    act.guest_ctx.uc_stack.ss_sp = store.stack + STACK_GUARD_BYTES;
    act.guest_ctx.uc_stack.ss_size = stack_len;
    act.guest_ctx.uc_link = &act.host_ctx;
    makecontext(&act.guest_ctx, guest_main, 0);
    if (swapcontext(&act.host_ctx, &act.guest_ctx) != 0) {
        snprintf(out->message, sizeof out->message, "swapcontext failed");
        goto fail;
    }
    disarm_deadline(&act);

    classify(&act, out);
    if (store.memory != NULL) {
        out->memory_pages = store.memory->pages;
    }
    out->memory_cap_hit = store.memory_cap_hit;
    store.active = 0;
    if (act.limits.process_ends) {
        /* The process exits next: unmapping gigabytes of reservation here
         * would only delay the result. */
        current_activation = NULL;
        viv_store_set_current(NULL);
        return VIV_ENGINE_OK;
    }
    /* Freeing needs the store for the memory reservation. */
    art->free_instance(act.instance);
    free(act.instance);
    current_activation = NULL;
    viv_store_set_current(NULL);
    restore_signals(&saved);
    munmap(store.stack, store.stack_len);
    viv_func_types_free(&types);
    return VIV_ENGINE_OK;

fail:
    out->end = VIV_END_HOST_ERROR;
    disarm_deadline(&act);
    current_activation = NULL;
    viv_store_set_current(NULL);
    if (signals_ok) {
        restore_signals(&saved);
    }
    free(act.instance);
    if (store.stack != NULL) {
        munmap(store.stack, store.stack_len);
    }
    viv_func_types_free(&types);
    return VIV_ENGINE_EHOST;
}

uint32_t viv_engine_current_pages(void)
{
    viv_store *s = current_store;
    return s != NULL && s->memory != NULL ? s->memory->pages : 0;
}

void viv_engine_memory(uint8_t **base, uint32_t *pages)
{
    viv_store *s = current_store;
    bool have = s != NULL && s->memory != NULL;
    *base = have ? s->memory->data : NULL;
    *pages = have ? s->memory->pages : 0;
}
