/* xxh64.h — XXH64 with seed 0 (xxHash specification 0.1.1), the checksum of
 * a .dsm file, for the fuzz harness to re-seal mutated model files. */
#ifndef FUZZ_XXH64_H
#define FUZZ_XXH64_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint64_t XP1 = 0x9E3779B185EBCA87ULL, XP2 = 0xC2B2AE3D27D4EB4FULL,
                      XP3 = 0x165667B19E3779F9ULL, XP4 = 0x85EBCA77C2B2AE63ULL,
                      XP5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t xrotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t xle64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }
static inline uint64_t xle32(const uint8_t *p) { return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24; }
static inline uint64_t xround(uint64_t acc, uint64_t in) { return xrotl(acc + in * XP2, 31) * XP1; }
static inline uint64_t xmerge(uint64_t acc, uint64_t v) { return (acc ^ xround(0, v)) * XP1 + XP4; }

static inline uint64_t xxh64(const uint8_t *p, size_t n) {
    size_t i = 0;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = XP1 + XP2, v2 = XP2, v3 = 0, v4 = (uint64_t)0 - XP1;
        for (; i + 32 <= n; i += 32) {
            v1 = xround(v1, xle64(p + i));
            v2 = xround(v2, xle64(p + i + 8));
            v3 = xround(v3, xle64(p + i + 16));
            v4 = xround(v4, xle64(p + i + 24));
        }
        h = xrotl(v1, 1) + xrotl(v2, 7) + xrotl(v3, 12) + xrotl(v4, 18);
        h = xmerge(h, v1); h = xmerge(h, v2); h = xmerge(h, v3); h = xmerge(h, v4);
    } else {
        h = XP5;
    }
    h += (uint64_t)n;
    for (; i + 8 <= n; i += 8) { h ^= xround(0, xle64(p + i)); h = xrotl(h, 27) * XP1 + XP4; }
    if (i + 4 <= n) { h ^= xle32(p + i) * XP1; h = xrotl(h, 23) * XP2 + XP3; i += 4; }
    for (; i < n; i++) { h ^= (uint64_t)p[i] * XP5; h = xrotl(h, 11) * XP1; }
    h ^= h >> 33; h *= XP2; h ^= h >> 29; h *= XP3; h ^= h >> 32;
    return h;
}
#endif
