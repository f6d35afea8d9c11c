// The library pins itself in memory when it is loaded, so that dlclose()
// never unmaps its code.
//
// Why: once libdeepscratch.so has run, other threads of the host can hold
// pointers into it that outlive any call: the destructor of the per-thread
// error message (run by glibc when a thread exits), the engine's worker
// threads, OpenBLAS's and the Swift runtime's own thread-local state. If a
// host dlclose()d the library and the code went away, the next thread exit
// would jump into unmapped memory (SIGSEGV in __nptl_deallocate_tsd), and
// every dlopen/dlclose cycle would leak a pthread key. Reopening a library
// already loaded with RTLD_NOLOAD | RTLD_NODELETE marks it "never unload"
// whatever flags it was linked with; dlclose() then only drops a reference.
// (examples/Makefile also links with -z nodelete, which says the same in the
// file; this covers every other way of building the library.)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include "library_support.h"

static int pinned;

__attribute__((constructor))
static void dsi_pin_library(void) {
    Dl_info info;
    // The file this code was loaded from (the executable itself when the
    // library is linked statically: reopening it by name is then a no-op).
    if (dladdr((void *)&dsi_pin_library, &info) && info.dli_fname && info.dli_fname[0])
        pinned = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}

int dsi_library_pinned(void) { return pinned; }
