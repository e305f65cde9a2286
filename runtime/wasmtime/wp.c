//go:build wasmtime && cgo

// The C side of the wasmtime engine: the epoch deadline callback and the
// host memory creator (see cgo.go).
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
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
// wasmtime calls new_memory on the instantiating thread.
// img_fd and img_len are the module's initial memory image (image.go),
// mapped copy-on-write at the start of the first memory made.
static __thread uintptr_t wp_current;
static __thread int wp_img_fd = -1;
static __thread size_t wp_img_len;
void wp_set_current(uintptr_t h, int img_fd, size_t img_len) {
	wp_current = h;
	wp_img_fd = img_fd;
	wp_img_len = img_len;
}

static size_t wp_round(size_t n);

// wp_image_new returns a memfd holding data, its size rounded up to whole
// wasm pages (zeros past data), or -1.
int wp_image_new(const void *data, size_t len) {
	int fd = memfd_create("wasmpod-memory-image", MFD_CLOEXEC);
	if (fd < 0) return -1;
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n <= 0) { close(fd); return -1; }
		p += n; left -= n;
	}
	if (ftruncate(fd, wp_round(len)) != 0) { close(fd); return -1; }
	return fd;
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
	return NULL;
}

static void wp_mem_free(void *env) {
	wp_mem *m = env;
	munmap(m->base, m->maplen);
	if (m->acct) wpMemFree(m->acct, m->size);
	free(m);
}

static size_t wp_round(size_t n) { return (n + 65535) & ~(size_t)65535; }

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
	void *base = mmap(NULL, maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) return wasmtime_error_new("cannot reserve linear memory (mmap failed)");
	wp_mem *m = calloc(1, sizeof *m);
	if (!m) { munmap(base, maplen); return wasmtime_error_new("out of memory"); }
	m->base = base; m->cap = cap; m->maplen = maplen; m->acct = wp_current;
	if (m->acct && !wpMemNew(m->acct, m, minimum)) {
		munmap(base, maplen); free(m);
		return wasmtime_error_new("the module's initial memory exceeds the memory limit or budget");
	}
	if (minimum > 0 && mprotect(base, minimum, PROT_READ | PROT_WRITE) != 0) {
		if (m->acct) wpMemFree(m->acct, minimum);
		munmap(base, maplen); free(m);
		return wasmtime_error_new("mprotect failed");
	}
	if (wp_img_len > 0 && wp_img_fd >= 0 && wp_round(wp_img_len) <= minimum) {
		if (mmap(base, wp_round(wp_img_len), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, wp_img_fd, 0) == MAP_FAILED) {
			if (m->acct) wpMemFree(m->acct, minimum);
			munmap(base, maplen); free(m);
			return wasmtime_error_new("cannot map the memory image (mmap failed)");
		}
		wp_img_len = 0; // the module's memory 0 only
	}
	m->size = minimum;
	ret->env = m;
	ret->get_memory = wp_mem_get;
	ret->grow_memory = wp_mem_grow;
	ret->finalizer = wp_mem_free;
	return NULL;
}

void wp_set_memory_creator(void *cfg) {
	wasmtime_memory_creator_t c;
	memset(&c, 0, sizeof c);
	c.new_memory = wp_new_memory;
	wasmtime_config_host_memory_creator_set((wasm_config_t *)cfg, &c);
}
