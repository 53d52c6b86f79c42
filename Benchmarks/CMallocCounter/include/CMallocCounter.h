// Counts calls to the allocator in this process. Linking this target into an executable
// interposes malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign for every
// library in the process (symbols in the executable win), forwarding to glibc's own entry
// points. For benchmarks only.
#ifndef TRIBUTARY_MALLOC_COUNTER_H
#define TRIBUTARY_MALLOC_COUNTER_H
#include <stdint.h>

/// Allocations (malloc, calloc, realloc, aligned variants) since the process started.
uint64_t tributary_allocation_count(void);



/// Returns freed heap memory to the system (glibc's malloc_trim(0)), before reading RSS.
void tributary_malloc_trim(void);
#endif
