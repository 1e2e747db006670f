/* core/mem — reference-counted memory; see mem.h. */
#include "core/mem.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct mem_hdr {
	mem_destroy_h *dh;
	unsigned nrefs;
	/* keeps the payload 16-byte aligned on 64-bit targets */
	uint32_t magic;
};

#define MEM_MAGIC 0x6d656d31u

static atomic_size_t mem_live;

static struct mem_hdr *mem_hdr(const void *data)
{
	return (struct mem_hdr *)((uintptr_t)data - sizeof(struct mem_hdr));
}

static void *mem_new(size_t size, mem_destroy_h *dh, bool zero)
{
	struct mem_hdr *h;

	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = zero ? calloc(1, sizeof(*h) + size) : malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->dh = dh;
	h->nrefs = 1;
	h->magic = MEM_MAGIC;
	atomic_fetch_add(&mem_live, 1);
	return h + 1;
}

void *mem_zalloc(size_t size, mem_destroy_h *dh)
{
	return mem_new(size, dh, true);
}

void *mem_alloc(size_t size, mem_destroy_h *dh)
{
	return mem_new(size, dh, false);
}

void *mem_ref(void *data)
{
	if (data)
		mem_hdr(data)->nrefs++;
	return data;
}

void *mem_deref(void *data)
{
	struct mem_hdr *h;

	if (!data)
		return NULL;
	h = mem_hdr(data);
	if (--h->nrefs > 0)
		return NULL;
	if (h->dh)
		h->dh(data);
	h->magic = 0;
	free(h);
	atomic_fetch_sub(&mem_live, 1);
	return NULL;
}

unsigned mem_nrefs(const void *data)
{
	return data ? mem_hdr(data)->nrefs : 0;
}

size_t mem_live_count(void)
{
	return atomic_load(&mem_live);
}
