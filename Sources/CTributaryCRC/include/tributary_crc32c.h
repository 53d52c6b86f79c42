// CRC-32C (Castagnoli), with SSE4.2's crc32 instruction when the CPU has it.
#ifndef TRIBUTARY_CRC32C_H
#define TRIBUTARY_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// Continues `crc` (start with 0) over `length` bytes at `data`.
uint32_t tributary_crc32c(uint32_t crc, const void *data, size_t length);

#endif
