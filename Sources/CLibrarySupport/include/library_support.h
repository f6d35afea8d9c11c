// What libdeepscratch.so needs from C that Swift cannot say: code that runs
// when the library is loaded.
#ifndef DEEPSCRATCH_LIBRARY_SUPPORT_H
#define DEEPSCRATCH_LIBRARY_SUPPORT_H

// 1 if the library pinned itself in memory when it was loaded (see
// library_support.c), 0 if it could not (then dlclose may unmap it).
int dsi_library_pinned(void);

#endif
