// Everything the Swift side needs from the generated prompb code and its arena.
#include "prometheus/types.pb-c.h"
#include "prometheus/remote.pb-c.h"
#include "prometheus/write/v2/types.pb-c.h"
#include "tributary_arena.h"
