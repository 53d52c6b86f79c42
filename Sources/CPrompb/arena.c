#include "tributary_arena.h"

#include <stdint.h>
#include <stdlib.h>

struct TributaryArenaChunk {
    TributaryArenaChunk *next;
    size_t size;
    size_t used;
    // payload follows, 16-aligned because the header is 3 words + padding below
    max_align_t payload[];
};

static size_t round_up16(size_t n) { return (n + 15u) & ~(size_t)15u; }

static void *arena_alloc_cb(void *data, size_t size) {
    return tributary_arena_alloc((TributaryArena *)data, size);
}

// Memory is released in bulk on reset; protobuf-c's per-object frees are no-ops.
static void arena_free_cb(void *data, void *pointer) {
    (void)data;
    (void)pointer;
}

int tributary_arena_init(TributaryArena *arena, size_t initial, size_t limit) {
    arena->allocator.alloc = arena_alloc_cb;
    arena->allocator.free = arena_free_cb;
    arena->allocator.allocator_data = arena;
    arena->block_size = round_up16(initial < 4096 ? 4096 : initial);
    arena->block = aligned_alloc(16, arena->block_size);
    arena->used = 0;
    arena->overflow = NULL;
    arena->overflow_bytes = 0;
    arena->limit = limit;
    arena->high_water = 0;
    arena->exhausted = 0;
    return arena->block ? 0 : -1;
}

static void free_overflow(TributaryArena *arena) {
    TributaryArenaChunk *chunk = arena->overflow;
    while (chunk) {
        TributaryArenaChunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->overflow = NULL;
}

void tributary_arena_reset(TributaryArena *arena) {
    size_t total = arena->used + arena->overflow_bytes;
    if (total > arena->high_water) arena->high_water = total;
    if (arena->overflow) {
        free_overflow(arena);
        // Grow the main block to what this round needed (plus a quarter), so the next request
        // of the same shape fits in one block.
        size_t want = round_up16(total + total / 4);
        char *bigger = aligned_alloc(16, want);
        if (bigger) {
            free(arena->block);
            arena->block = bigger;
            arena->block_size = want;
        }
    }
    arena->used = 0;
    arena->overflow_bytes = 0;
    arena->exhausted = 0;
}

void tributary_arena_destroy(TributaryArena *arena) {
    free_overflow(arena);
    free(arena->block);
    arena->block = NULL;
    arena->block_size = 0;
    arena->used = 0;
}

void *tributary_arena_alloc(TributaryArena *arena, size_t size) {
    size = round_up16(size == 0 ? 1 : size);
    if (arena->used + arena->overflow_bytes + size > arena->limit) {
        arena->exhausted = 1;
        return NULL;
    }
    if (arena->block && arena->block_size - arena->used >= size) {
        void *p = arena->block + arena->used;
        arena->used += size;
        return p;
    }
    TributaryArenaChunk *chunk = arena->overflow;
    if (!chunk || chunk->size - chunk->used < size) {
        size_t chunk_size = arena->block_size > size ? arena->block_size : size;
        chunk = malloc(sizeof(TributaryArenaChunk) + chunk_size);
        if (!chunk) return NULL;
        chunk->next = arena->overflow;
        chunk->size = chunk_size;
        chunk->used = 0;
        arena->overflow = chunk;
    }
    void *p = (char *)chunk->payload + chunk->used;
    chunk->used += size;
    arena->overflow_bytes += size;
    return p;
}
