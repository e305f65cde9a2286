//go:build wasmtime && cgo

// Declarations shared by wp.c and cgo.go (see cgo.go).
#ifndef WASMPOD_WP_H
#define WASMPOD_WP_H
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

typedef struct wasm_config_t wasm_config_t;
typedef struct wasm_memorytype_t wasm_memorytype_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef uint8_t wasmtime_update_deadline_kind_t;

typedef uint8_t *(*wasmtime_memory_get_callback_t)(void *env, size_t *byte_size, size_t *byte_capacity);
typedef wasmtime_error_t *(*wasmtime_memory_grow_callback_t)(void *env, size_t new_size);
typedef struct wasmtime_linear_memory {
	void *env;
	wasmtime_memory_get_callback_t get_memory;
	wasmtime_memory_grow_callback_t grow_memory;
	void (*finalizer)(void *);
} wasmtime_linear_memory_t;
typedef wasmtime_error_t *(*wasmtime_new_memory_callback_t)(
	void *env, const wasm_memorytype_t *ty, size_t minimum, size_t maximum,
	size_t reserved_size_in_bytes, size_t guard_size_in_bytes,
	wasmtime_linear_memory_t *memory_ret);
typedef struct wasmtime_memory_creator {
	void *env;
	wasmtime_new_memory_callback_t new_memory;
	void (*finalizer)(void *);
} wasmtime_memory_creator_t;

extern void wasmtime_config_host_memory_creator_set(wasm_config_t *, wasmtime_memory_creator_t *);
extern wasmtime_error_t *wasmtime_error_new(const char *);
extern void wasmtime_store_epoch_deadline_callback(
	wasmtime_store_t *store,
	wasmtime_error_t *(*func)(wasmtime_context_t *context, void *data,
		uint64_t *epoch_deadline_delta, wasmtime_update_deadline_kind_t *update_kind),
	void *data, void (*finalizer)(void *));


// wp_ctl is one instance's kill flag, read by the epoch callback on the
// guest's thread and set by Kill on any thread; inst is the instance's
// cgo.Handle (its CPU meter's Yield runs at each epoch deadline).
typedef struct { int killed; uintptr_t inst; } wp_ctl;

// wp_image is a module's initial memory image (image.go): a memfd of
// mlen bytes (len rounded up to whole wasm pages), a read-only shared
// mapping of it, and a reference count (the module's and one per memory
// that maps it).
typedef struct {
	int fd;
	size_t len, mlen;
	const uint8_t *ro;
	int refs;
} wp_image;

typedef struct wp_pool wp_pool;

typedef struct wp_mem {
	uint8_t *base;
	size_t size, cap, maplen;
	size_t hwm; // the largest size it ever had: pages past it were never accessible
	uintptr_t acct;
	wp_image *img; // mapped at [0, img->mlen), or NULL
	wp_pool *pool;
	size_t kept; // in the pool: the bytes of its resident pages
	struct wp_mem *next;
} wp_mem;

void wp_set_epoch_callback(void *store, wp_ctl *ctl);
void wp_kill(wp_ctl *ctl);
void wp_set_current(uintptr_t h, wp_image *img);
wp_image *wp_image_new(const void *data, size_t len);
void wp_image_release(wp_image *img);
wp_pool *wp_pool_new(void);
void wp_pool_trim(wp_pool *p);
void wp_pool_close(wp_pool *p);
size_t wp_pool_len(wp_pool *p);
size_t wp_pool_bytes(wp_pool *p);
void wp_set_memory_creator(void *cfg, wp_pool *pool);

#endif
