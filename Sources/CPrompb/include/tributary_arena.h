// A bump allocator for protobuf-c: every allocation of one unpack comes from a few big blocks
// that are kept between requests, so decoding a 2,000-series request costs no malloc once the
// arena has grown to the working size. Not thread-safe: one arena per decoder.
#ifndef TRIBUTARY_ARENA_H
#define TRIBUTARY_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct TributaryArenaChunk TributaryArenaChunk;

typedef struct TributaryArena {
    /// Handed to protobuf_c_message_unpack/pack; `allocator_data` points back at the arena.
    ProtobufCAllocator allocator;
    char *block;               // the main block, reused across resets
    size_t block_size;
    size_t used;               // bytes used in the main block
    TributaryArenaChunk *overflow; // extra chunks taken when the main block ran out
    size_t overflow_bytes;     // bytes handed out from overflow chunks since the last reset
    size_t limit;              // most bytes one unpack may take; beyond it allocation fails
    size_t high_water;         // bytes used by the largest unpack so far
    int exhausted;             // set when an allocation was refused because of `limit`
} TributaryArena;

/// Prepares `arena` with a first block of `initial` bytes and a ceiling of `limit` bytes.
/// Returns 0 on success, -1 when the first block cannot be allocated.
int tributary_arena_init(TributaryArena *arena, size_t initial, size_t limit);

/// Forgets every allocation; grows the main block when the last round needed overflow chunks.
void tributary_arena_reset(TributaryArena *arena);

/// Frees all memory of the arena.
void tributary_arena_destroy(TributaryArena *arena);

/// Bump-allocates `size` bytes aligned to 16; NULL when the limit is reached or memory runs out.
void *tributary_arena_alloc(TributaryArena *arena, size_t size);

#endif
