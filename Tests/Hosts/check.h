/* The host programs' checks: CHECK(cond) prints "FAIL line N: cond [last
 * library error]" and counts the failure; finish(name) prints "NAME ok" or
 * "NAME failed" and returns the exit status (1 on any failure). */
#ifndef DS_HOSTS_CHECK_H
#define DS_HOSTS_CHECK_H

#include <stdio.h>
#include "deepscratch.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL line %d: %s [%s]\n", __LINE__, #cond, ds_last_error()); failures++; } } while (0)

static int finish(const char *name) {
    printf("%s %s\n", name, failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

#endif
