int tributary_malloc_placeholder(void);
