/*
 * core/mem — reference-counted memory.
 *
 * Long-lived objects (bindings, dialogs, peers, transactions) are allocated
 * with mem_zalloc() and an optional destructor; every holder takes a
 * reference with mem_ref() and drops it with mem_deref(). The destructor runs
 * when the last reference goes, then the memory is freed.
 */
#ifndef CORE_MEM_H
#define CORE_MEM_H

#include <stddef.h>

typedef void (mem_destroy_h)(void *data);

void *mem_zalloc(size_t size, mem_destroy_h *dh);
/* Same without zeroing: for hot paths that initialize what they use. */
void *mem_alloc(size_t size, mem_destroy_h *dh);
void *mem_ref(void *data);
/* Returns NULL so callers can write `p = mem_deref(p);`. */
void *mem_deref(void *data);
unsigned mem_nrefs(const void *data);
/* Number of live mem_zalloc objects (leak checks in tests). */
size_t mem_live_count(void);

#endif
