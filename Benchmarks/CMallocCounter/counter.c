int tributary_malloc_placeholder(void) { return 0; }
