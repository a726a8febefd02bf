/*
 * Private core helpers shared by every module: a bump arena, a bounded
 * growing buffer, hex. Internal names are ch_<thing>_*.
 */
#ifndef CH_CORE_H
#define CH_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "certhub/certhub.h"

#define CH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Free p and set it to NULL. Safe on NULL. */
#define ch_safefree(p) \
  do {                 \
    free(p);           \
    (p) = NULL;        \
  } while (0)

/*
 * ch_arena: bump allocator in chunks. Everything allocated from it is freed
 * at once by ch_arena_free() (or dropped by ch_arena_reset(), which keeps
 * the first chunk for reuse). `cap` bounds the total bytes; an allocation
 * past it fails (returns NULL) so hostile input cannot grow it unbounded.
 */
struct ch_arena;
struct ch_arena *ch_arena_new(size_t cap);
void ch_arena_free(struct ch_arena *a);
void ch_arena_reset(struct ch_arena *a);
void *ch_arena_alloc(struct ch_arena *a, size_t n);    /* 8-byte aligned */
char *ch_arena_strndup(struct ch_arena *a, const char *s, size_t n);
char *ch_arena_strdup(struct ch_arena *a, const char *s);
char *ch_arena_printf(struct ch_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t ch_arena_used(const struct ch_arena *a);

/*
 * ch_buf: growing byte buffer with a hard cap, like curl's dynbuf. On any
 * failure (allocation, cap) the buffer is freed and the error returned, so
 * callers need not clean up after a failed append.
 */
typedef struct ch_buf {
  char *data;   /* NUL-terminated while len < alloc */
  size_t len;
  size_t alloc;
  size_t cap;   /* maximum len */
} ch_buf;

void ch_buf_init(ch_buf *b, size_t cap);
void ch_buf_free(ch_buf *b);
void ch_buf_reset(ch_buf *b); /* len = 0, memory kept */
ch_err ch_buf_add(ch_buf *b, const void *p, size_t n);
ch_err ch_buf_addstr(ch_buf *b, const char *s);
ch_err ch_buf_addc(ch_buf *b, char c);
ch_err ch_buf_printf(ch_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
ch_err ch_buf_vprintf(ch_buf *b, const char *fmt, va_list ap);
/* Hand the data to the caller (malloc'd, NUL-terminated); b is reset. */
char *ch_buf_take(ch_buf *b);
/* Append everything read from fd until EOF. CH_ERR_IO with errno set on a
 * read error, CH_ERR_TOOBIG at the cap (b is then freed, as above). */
ch_err ch_buf_read_fd(ch_buf *b, int fd);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void ch_hex_encode(const uint8_t *p, size_t n, char *out);
/* Hex digit value or -1. */
int ch_hex_val(int c);

#endif
