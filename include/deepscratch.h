/*
 * deepscratch.h — the C interface of libdeepscratch.so.
 *
 * This header is the contract: every exported function is declared here,
 * with the ownership and thread-safety of its arguments written beside it.
 * All public names carry the ds_ prefix.
 *
 * Version 0.x: the library currently exports only its version; loading
 * models and classifying images arrive in a later 0.x release.
 */
#ifndef DEEPSCRATCH_H
#define DEEPSCRATCH_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. A program built against major version M must
 * run with a library whose ds_version_major() returns M. */
#define DS_VERSION_MAJOR 0
#define DS_VERSION_MINOR 2
#define DS_VERSION_PATCH 0
#define DS_VERSION_STRING "0.2.0"

/* The library's version, "MAJOR.MINOR.PATCH". A static string: never free it.
 * Thread-safe. */
const char *ds_version(void);

/* The library's major version. Thread-safe. */
int ds_version_major(void);

#ifdef __cplusplus
}
#endif

#endif /* DEEPSCRATCH_H */
