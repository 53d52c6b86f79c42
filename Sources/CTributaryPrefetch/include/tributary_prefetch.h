// Cache hints for reads whose addresses are known before the data is needed.
#ifndef TRIBUTARY_PREFETCH_H
#define TRIBUTARY_PREFETCH_H
#include <stddef.h>
#include <stdint.h>

/// Asks for the `lines` cache lines from `address` on to be loaded (a prefetch never faults,
/// whatever the address).
static inline void tributary_prefetch_lines(const void *address, int lines) {
    const char *at = (const char *)address;
    for (int i = 0; i < lines; i++) __builtin_prefetch(at + 64 * i, 0, 3);
}

/// The pointer-sized word at `address`, read with a relaxed atomic load: for a hint, a word
/// that another thread may be writing (the old or the new value is as good).
static inline uintptr_t tributary_load_word_relaxed(const void *address) {
    return __atomic_load_n((const uintptr_t *)address, __ATOMIC_RELAXED);
}

#endif
