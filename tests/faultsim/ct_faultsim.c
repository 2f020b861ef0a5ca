/* ct_faultsim.c — the allocation-failure shim (ct_faultsim.h).
 *
 * Invariants: the real allocator functions are resolved once (on first use);
 * while they are being resolved (dlsym may allocate) an allocation returns
 * NULL, which dlsym tolerates. An injected failure sets errno to ENOMEM like
 * a real one. realloc that fails leaves its block untouched.
 * pthread_create is wrapped only to mark the threads it starts (fs_thread_ok). */
#define _GNU_SOURCE
#include "ct_faultsim.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int resolving;

/* 1 in the thread that armed the injector and in threads started by
 * pthread_create once they run their own start routine: allocations made by
 * a new thread before that (the sanitizer runtimes' thread set-up, which
 * aborts if it cannot allocate) are not code under test. */
static __thread int fs_thread_ok;

static long fs_armed;
static long fs_delay;
static long fs_repeat;
static long fs_seen;
static long fs_failed;

static void resolve(void)
{
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_pthread_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                   void *))dlsym(RTLD_NEXT, "pthread_create");
    resolving = 0;
}

__attribute__((constructor)) static void ct_faultsim_init(void)
{
    if (!real_pthread_create) resolve();
}

/* true: this allocation fails */
static int fs_fail(void)
{
    if (!__atomic_load_n(&fs_armed, __ATOMIC_ACQUIRE)) return 0;
    if (!fs_thread_ok) return 0;
    long k = __atomic_add_fetch(&fs_seen, 1, __ATOMIC_ACQ_REL);
    long delay = __atomic_load_n(&fs_delay, __ATOMIC_RELAXED);
    long repeat = __atomic_load_n(&fs_repeat, __ATOMIC_RELAXED);
    if (k <= delay) return 0;
    if (repeat >= 0 && k > delay + repeat) return 0;
    __atomic_add_fetch(&fs_failed, 1, __ATOMIC_ACQ_REL);
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n)
{
    if (!real_malloc) {
        if (resolving) return NULL;
        resolve();
    }
    return fs_fail() ? NULL : real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (!real_calloc) {
        if (resolving) return NULL;
        resolve();
    }
    return fs_fail() ? NULL : real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (!real_realloc) {
        if (resolving) return NULL;
        resolve();
    }
    return fs_fail() ? NULL : real_realloc(p, n);
}

typedef struct {
    void *(*fn)(void *);
    void *arg;
} fs_start;

static void *fs_trampoline(void *p)
{
    fs_start st = *(fs_start *)p;
    free(p);
    fs_thread_ok = 1;
    return st.fn(st.arg);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (!real_pthread_create) resolve();
    /* the shim's own record: never failed, so a failure of pthread_create
     * comes from the thread library itself */
    fs_start *st = real_malloc(sizeof *st);
    if (!st) return EAGAIN;
    st->fn = fn;
    st->arg = arg;
    int rc = real_pthread_create(th, attr, fs_trampoline, st);
    if (rc) free(st);
    return rc;
}

void ct_faultsim_config(long delay, long repeat)
{
    fs_thread_ok = 1;
    __atomic_store_n(&fs_armed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&fs_delay, delay, __ATOMIC_RELAXED);
    __atomic_store_n(&fs_repeat, repeat, __ATOMIC_RELAXED);
    __atomic_store_n(&fs_seen, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fs_failed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fs_armed, 1, __ATOMIC_RELEASE);
}

void ct_faultsim_disarm(void)
{
    __atomic_store_n(&fs_armed, 0, __ATOMIC_RELEASE);
}

long ct_faultsim_seen(void)
{
    return __atomic_load_n(&fs_seen, __ATOMIC_ACQUIRE);
}

long ct_faultsim_failed(void)
{
    return __atomic_load_n(&fs_failed, __ATOMIC_ACQUIRE);
}

/* strdup and strndup go through the wrapped malloc: glibc's do so anyway,
 * but the sanitizer runtimes intercept them and allocate on their own. */
char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

char *strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}
