//go:build wasmtime && cgo

// The C side of the wasmtime engine: the epoch deadline callback and the
// host memory creator (see cgo.go).
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include "wp.h"
#include "_cgo_export.h"


static wasmtime_error_t *wp_epoch(wasmtime_context_t *cx, void *data, uint64_t *delta, wasmtime_update_deadline_kind_t *kind) {
	wp_ctl *c = data;
	if (__atomic_load_n(&c->killed, __ATOMIC_ACQUIRE)) {
		return wasmtime_error_new("wasmpod: killed");
	}
	if (c->inst) {
		wpYield(c->inst); // the CPU meter: charge, and throttle
		if (__atomic_load_n(&c->killed, __ATOMIC_ACQUIRE)) {
			return wasmtime_error_new("wasmpod: killed");
		}
	}
	*delta = 1;
	*kind = 0;
	return NULL;
}

void wp_set_epoch_callback(void *store, wp_ctl *ctl) {
	wasmtime_store_epoch_deadline_callback((wasmtime_store_t *)store, wp_epoch, ctl, NULL);
}

void wp_kill(wp_ctl *ctl) { __atomic_store_n(&ctl->killed, 1, __ATOMIC_RELEASE); }

// wp_mem is one linear memory: a PROT_NONE reservation of cap bytes plus a
// guard, readable and writable up to size. acct is the cgo.Handle of the
// Go accounting of the instance that made it (0: none).

// The instance being instantiated on this thread (its accounting handle):
// wasmtime calls new_memory on the instantiating thread. wp_img is the
// module's initial memory image (image.go), mapped copy-on-write at the
// start of the first memory made.
static __thread uintptr_t wp_current;
static __thread wp_image *wp_img;
void wp_set_current(uintptr_t h, wp_image *img) {
	wp_current = h;
	wp_img = img;
}

#define WP_PAGE 4096
static size_t wp_round(size_t n) { return (n + 65535) & ~(size_t)65535; }

// wp_image_new returns an image holding data, its memfd's size rounded up
// to whole wasm pages (zeros past data), or NULL.
wp_image *wp_image_new(const void *data, size_t len) {
	int fd = memfd_create("wasmpod-memory-image", MFD_CLOEXEC);
	if (fd < 0) return NULL;
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n <= 0) { close(fd); return NULL; }
		p += n; left -= n;
	}
	size_t mlen = wp_round(len);
	if (ftruncate(fd, mlen) != 0) { close(fd); return NULL; }
	void *ro = mmap(NULL, mlen, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED) { close(fd); return NULL; }
	wp_image *img = calloc(1, sizeof *img);
	if (!img) { munmap(ro, mlen); close(fd); return NULL; }
	img->fd = fd; img->len = len; img->mlen = mlen; img->ro = ro; img->refs = 1;
	return img;
}

static void wp_image_ref(wp_image *img) { if (img) __atomic_add_fetch(&img->refs, 1, __ATOMIC_RELAXED); }

void wp_image_release(wp_image *img) {
	if (!img || __atomic_sub_fetch(&img->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
	munmap((void *)img->ro, img->mlen);
	close(img->fd);
	free(img);
}

// The pool of freed linear memories (one per engine). A page fault costs
// far more than clearing a resident page (13 µs against 0.2 µs a page on
// the machine measured), and a short-lived guest touches hundreds of
// pages, so a freed memory is reset to its initial contents in place and
// kept, its pages resident, for the next instance: the image's pages that
// the guest wrote get the image's bytes again, every other page it
// touched is zeroed (pagemap says which pages are present, swapped, or
// still the image file's own). Bounded: WP_POOL_MAX memories of at most
// WP_POOL_MEM bytes each, WP_POOL_BYTES of resident pages in all; trimmed
// when the engine is idle (wp_pool_trim).
#define WP_POOL_MAX 16
#define WP_POOL_MEM ((size_t)64 << 20)
#define WP_POOL_BYTES ((size_t)64 << 20)
struct wp_pool {
	pthread_mutex_t mu;
	wp_mem *free;
	size_t n, bytes;
	int closed;
};

wp_pool *wp_pool_new(void) {
	wp_pool *p = calloc(1, sizeof *p);
	if (p) pthread_mutex_init(&p->mu, NULL);
	return p;
}

static void wp_mem_destroy(wp_mem *m) {
	munmap(m->base, m->maplen);
	wp_image_release(m->img);
	free(m);
}

// wp_pool_trim unmaps every pooled memory.
void wp_pool_trim(wp_pool *p) {
	if (!p) return;
	pthread_mutex_lock(&p->mu);
	wp_mem *m = p->free;
	p->free = NULL; p->n = 0; p->bytes = 0;
	pthread_mutex_unlock(&p->mu);
	while (m) {
		wp_mem *next = m->next;
		wp_mem_destroy(m);
		m = next;
	}
}

// wp_pool_close trims p and pools nothing after.
void wp_pool_close(wp_pool *p) {
	if (!p) return;
	pthread_mutex_lock(&p->mu);
	p->closed = 1;
	pthread_mutex_unlock(&p->mu);
	wp_pool_trim(p);
}

size_t wp_pool_len(wp_pool *p) {
	pthread_mutex_lock(&p->mu);
	size_t n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

size_t wp_pool_bytes(wp_pool *p) {
	pthread_mutex_lock(&p->mu);
	size_t n = p->bytes;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static void wp_pool_free(void *env) {
	wp_pool *p = env;
	wp_pool_close(p);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int wp_pagemap_fd = -1;
static pthread_once_t wp_pagemap_once = PTHREAD_ONCE_INIT;
static void wp_pagemap_open(void) { wp_pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC); }

#define PM_PRESENT ((uint64_t)1 << 63)
#define PM_SWAP ((uint64_t)1 << 62)
#define PM_FILE ((uint64_t)1 << 61)

// wp_page_action is what a page needs to hold its initial contents again,
// from its pagemap entry e: 0 nothing (an image page still the file's, or
// a page never touched), 1 the image's bytes (an image page the guest
// wrote: its private copy), 2 zeros (any other page present), 3 discard
// (a swapped page: an image page reverts to the file's, any other to
// zeros).
static int wp_page_action(uint64_t e, int in_image) {
	if (in_image) {
		if ((e & PM_PRESENT) && !(e & PM_FILE)) return 1;
	} else if (e & PM_PRESENT) {
		return 2;
	}
	return (e & PM_SWAP) ? 3 : 0;
}

// wp_mem_reset gives m's accessible pages their initial contents again
// (the image's bytes, zeros past it) and returns the bytes of its pages
// left resident, or -1 (m cannot be reset: unmap it).
static ssize_t wp_mem_reset(wp_mem *m) {
	pthread_once(&wp_pagemap_once, wp_pagemap_open);
	if (wp_pagemap_fd < 0) return -1;
	size_t npages = m->hwm / WP_PAGE, accessible = m->size / WP_PAGE;
	size_t imgpages = m->img ? m->img->mlen / WP_PAGE : 0;
	uint64_t *pm = malloc(npages * sizeof *pm + 1);
	if (!pm) return -1;
	size_t want = npages * sizeof *pm, got = 0;
	off_t off = (off_t)((uintptr_t)m->base / WP_PAGE) * (off_t)sizeof *pm;
	while (got < want) {
		ssize_t n = pread(wp_pagemap_fd, (char *)pm + got, want - got, off + (off_t)got);
		if (n <= 0) { free(pm); return -1; }
		got += n;
	}
	ssize_t resident = 0;
	for (size_t i = 0; i < npages; i++) {
		if (pm[i] & PM_PRESENT) resident += WP_PAGE;
	}
	// Pages past size were never accessible since the last reset: zeros.
	for (size_t i = 0; i < accessible;) {
		int act = wp_page_action(pm[i], i < imgpages);
		size_t j = i + 1;
		while (j < accessible && wp_page_action(pm[j], j < imgpages) == act) j++;
		uint8_t *p = m->base + i * WP_PAGE;
		size_t len = (j - i) * WP_PAGE;
		switch (act) {
		case 1: memcpy(p, m->img->ro + i * WP_PAGE, len); break;
		case 2: memset(p, 0, len); break;
		case 3:
			if (madvise(p, len, MADV_DONTNEED) != 0) { free(pm); return -1; }
			break;
		}
		i = j;
	}
	free(pm);
	return resident;
}

// wp_pool_put resets m and keeps it in its pool, or returns 0 (the caller
// unmaps it).
static int wp_pool_put(wp_mem *m) {
	wp_pool *p = m->pool;
	if (!p || m->hwm > WP_POOL_MEM) return 0;
	pthread_mutex_lock(&p->mu);
	int room = !p->closed && p->n < WP_POOL_MAX;
	pthread_mutex_unlock(&p->mu);
	if (!room) return 0;
	ssize_t resident = wp_mem_reset(m);
	if (resident < 0) return 0;
	pthread_mutex_lock(&p->mu);
	room = !p->closed && p->n < WP_POOL_MAX && p->bytes + (size_t)resident <= WP_POOL_BYTES;
	if (room) {
		m->kept = (size_t)resident;
		m->next = p->free;
		p->free = m;
		p->n++;
		p->bytes += m->kept;
	}
	pthread_mutex_unlock(&p->mu);
	return room;
}

// wp_pool_take returns a pooled memory of the reservation cap+maplen,
// one with the image img if there is one, or NULL.
static wp_mem *wp_pool_take(wp_pool *p, size_t cap, size_t maplen, wp_image *img) {
	if (!p) return NULL;
	pthread_mutex_lock(&p->mu);
	wp_mem **best = NULL;
	for (wp_mem **q = &p->free; *q; q = &(*q)->next) {
		if ((*q)->cap != cap || (*q)->maplen != maplen) continue;
		if (!best || (*q)->img == img) best = q;
		if ((*q)->img == img) break;
	}
	wp_mem *m = NULL;
	if (best) {
		m = *best;
		*best = m->next;
		p->n--;
		p->bytes -= m->kept;
		m->next = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return m;
}

static uint8_t *wp_mem_get(void *env, size_t *size, size_t *cap) {
	wp_mem *m = env;
	*size = m->size;
	*cap = m->cap;
	return m->base;
}

static wasmtime_error_t *wp_mem_grow(void *env, size_t new_size) {
	wp_mem *m = env;
	if (new_size <= m->size) return NULL;
	if (new_size > m->cap) return wasmtime_error_new("memory reservation exceeded");
	if (m->acct && !wpMemGrow(m->acct, m, m->size, new_size)) {
		return wasmtime_error_new("memory limit reached");
	}
	if (mprotect(m->base + m->size, new_size - m->size, PROT_READ | PROT_WRITE) != 0) {
		if (m->acct) wpMemFree(m->acct, new_size - m->size);
		return wasmtime_error_new("mprotect failed");
	}
	m->size = new_size;
	if (new_size > m->hwm) m->hwm = new_size;
	return NULL;
}

static void wp_mem_free(void *env) {
	wp_mem *m = env;
	if (m->acct) wpMemFree(m->acct, m->size);
	m->acct = 0;
	if (!wp_pool_put(m)) wp_mem_destroy(m);
}

// wp_mem_map_image maps img (NULL: none) at the start of m in place of
// the image m has.
static int wp_mem_map_image(wp_mem *m, wp_image *img) {
	size_t old = m->img ? m->img->mlen : 0, neu = img ? img->mlen : 0;
	if (neu > 0 && mmap(m->base, neu, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, img->fd, 0) == MAP_FAILED) return 0;
	if (old > neu && mmap(m->base + neu, old - neu, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) return 0;
	wp_image_release(m->img);
	wp_image_ref(img);
	m->img = img;
	return 1;
}

static wasmtime_error_t *wp_new_memory(void *env, const wasm_memorytype_t *ty, size_t minimum, size_t maximum,
		size_t reserved, size_t guard, wasmtime_linear_memory_t *ret) {
	size_t cap = reserved;
	if (cap == 0) {
		cap = maximum;
		if (cap > ((size_t)1 << 32)) cap = (size_t)1 << 32;
	}
	cap = wp_round(cap);
	if (cap < minimum) return wasmtime_error_new("memory minimum exceeds its reservation");
	size_t maplen = cap + wp_round(guard);
	if (maplen == 0) maplen = 65536;
	// The module's image goes in its first memory, when it fits.
	wp_image *img = wp_img && wp_img->len > 0 && wp_img->mlen <= minimum ? wp_img : NULL;
	wp_img = NULL;
	wp_mem *m = wp_pool_take(env, cap, maplen, img);
	if (m) {
		// A pooled memory: its accessible pages hold its image and zeros.
		if (m->img != img && !wp_mem_map_image(m, img)) {
			wp_mem_destroy(m);
			return wasmtime_error_new("cannot map the memory image (mmap failed)");
		}
		if ((minimum > 0 && mprotect(m->base, minimum, PROT_READ | PROT_WRITE) != 0) ||
				(m->size > minimum && mprotect(m->base + minimum, m->size - minimum, PROT_NONE) != 0)) {
			wp_mem_destroy(m);
			return wasmtime_error_new("mprotect failed");
		}
	} else {
		void *base = mmap(NULL, maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED) return wasmtime_error_new("cannot reserve linear memory (mmap failed)");
		m = calloc(1, sizeof *m);
		if (!m) { munmap(base, maplen); return wasmtime_error_new("out of memory"); }
		m->base = base; m->cap = cap; m->maplen = maplen; m->pool = env;
		if ((minimum > 0 && mprotect(base, minimum, PROT_READ | PROT_WRITE) != 0) || !wp_mem_map_image(m, img)) {
			wp_mem_destroy(m);
			return wasmtime_error_new("cannot map linear memory (mmap failed)");
		}
	}
	m->size = minimum;
	if (minimum > m->hwm) m->hwm = minimum;
	m->acct = wp_current;
	if (m->acct && !wpMemNew(m->acct, m, minimum)) {
		m->acct = 0;
		if (!wp_pool_put(m)) wp_mem_destroy(m);
		return wasmtime_error_new("the module's initial memory exceeds the memory limit or budget");
	}
	ret->env = m;
	ret->get_memory = wp_mem_get;
	ret->grow_memory = wp_mem_grow;
	ret->finalizer = wp_mem_free;
	return NULL;
}

void wp_set_memory_creator(void *cfg, wp_pool *pool) {
	wasmtime_memory_creator_t c;
	memset(&c, 0, sizeof c);
	c.env = pool;
	c.new_memory = wp_new_memory;
	c.finalizer = wp_pool_free;
	wasmtime_config_host_memory_creator_set((wasm_config_t *)cfg, &c);
}
