/* malloc_count.so: counts heap allocations, for `dsc bench` to check that a
 * training step allocates nothing once it runs.
 *
 *   cc -O2 -shared -fPIC docs/tools/malloc_count.c -o /tmp/malloc_count.so
 *   LD_PRELOAD=/tmp/malloc_count.so .build/release/dsc bench --training C1
 *
 * It forwards malloc, calloc, realloc, aligned_alloc, posix_memalign and
 * memalign to glibc's implementations and counts the calls; `dsc bench`
 * finds `dsbench_allocations` with dlsym and reads it before and after the
 * measured steps. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdatomic.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong allocations;

/* Heap allocations (of any kind) since the program started. */
unsigned long dsbench_allocations(void) { return atomic_load(&allocations); }

void *malloc(size_t n) { atomic_fetch_add(&allocations, 1); return __libc_malloc(n); }
void *calloc(size_t k, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add(&allocations, 1); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    atomic_fetch_add(&allocations, 1);
    void *p = __libc_memalign(a, n);
    if (p == NULL) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
