#include <isa-l/igzip_lib.h>

/* The level buffer ISA-L suggests for level 1 (a macro expression Swift cannot import). */
static inline uint32_t tributary_isal_level1_buffer_size(void) { return ISAL_DEF_LVL1_DEFAULT; }

/* Whether a stream that was given end_of_stream has written everything, trailer included. */
static inline int tributary_isal_finished(const struct isal_zstream *s) { return s->internal_state.state == ZSTATE_END; }
#include <isa-l/crc.h>
