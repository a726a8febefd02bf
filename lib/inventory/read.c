/*
 * certhub_read_file: map one file (or read stdin or a pipe into a capped
 * buffer) and hand it to certhub_read_buffer().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certhub/inventory.h"
#include "core/core.h"
#include "inventory_int.h"

static ch_err report(certhub_error_cb on_error, void *ctx, ch_err err,
                     const char *reason)
{
  if(on_error)
    on_error(ctx, 0, err, reason);
  return err;
}

/* Pipes and stdin have no size up front: read until EOF or the cap. */
static ch_err slurp(int fd, ch_buf *b, certhub_error_cb on_error, void *ctx)
{
  char reason[160];
  ch_err rc = ch_buf_read_fd(b, fd);
  if(rc == CH_ERR_IO) {
    snprintf(reason, sizeof(reason), "cannot read: %s", strerror(errno));
    return report(on_error, ctx, rc, reason);
  }
  if(rc == CH_ERR_TOOBIG) {
    snprintf(reason, sizeof(reason),
             "file too large (more than %zu bytes, limit 512 MiB)",
             CERTHUB_MAX_FILE_SIZE);
    return report(on_error, ctx, rc, reason);
  }
  if(rc)
    return report(on_error, ctx, rc, certhub_strerror(rc));
  return CH_OK;
}

ch_err certhub_read_file(const char *path, const certhub_read_opts *ro,
                         certhub_cert_cb on_cert, certhub_error_cb on_error,
                         void *ctx)
{
  ch_err rc = CH_OK;
  char reason[160];
  ch_buf b;
  ch_buf_init(&b, CERTHUB_MAX_FILE_SIZE);
  void *map = MAP_FAILED;
  size_t len = 0;
  const uint8_t *data = NULL;
  bool is_stdin = !strcmp(path, "-");
  int fd =
      is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if(fd < 0) {
    snprintf(reason, sizeof(reason), "cannot open: %s", strerror(errno));
    rc = report(on_error, ctx, errno == ENOENT ? CH_ERR_NOTFOUND : CH_ERR_IO,
                reason);
    goto out;
  }
  struct stat st;
  if(fstat(fd, &st) != 0) {
    snprintf(reason, sizeof(reason), "cannot stat: %s", strerror(errno));
    rc = report(on_error, ctx, CH_ERR_IO, reason);
    goto out;
  }
  if(S_ISDIR(st.st_mode)) {
    rc = report(on_error, ctx, CH_ERR_IO, "cannot read: Is a directory");
    goto out;
  }
  if(S_ISREG(st.st_mode)) {
    if((uint64_t)st.st_size > CERTHUB_MAX_FILE_SIZE) {
      snprintf(reason, sizeof(reason),
               "file too large (%lld bytes, limit 512 MiB)",
               (long long)st.st_size);
      rc = report(on_error, ctx, CH_ERR_TOOBIG, reason);
      goto out;
    }
    len = (size_t)st.st_size;
    if(len) {
      map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
      if(map == MAP_FAILED) {
        snprintf(reason, sizeof(reason), "cannot map: %s", strerror(errno));
        rc = report(on_error, ctx, CH_ERR_IO, reason);
        goto out;
      }
      data = map;
    }
  }
  else {
    rc = slurp(fd, &b, on_error, ctx);
    if(rc)
      goto out;
    len = b.len;
    data = (const uint8_t *)b.data;
  }
  if(!len) {
    rc = report(on_error, ctx, CH_ERR_NOTFOUND, CH_INV_EMPTY_FILE);
    goto out;
  }
  certhub_read_opts opts = {0};
  if(ro)
    opts = *ro;
  if(!is_stdin) /* stdin keeps whatever hint the caller gave */
    opts.name_hint = path;
  rc = certhub_read_buffer(data, len, &opts, on_cert, on_error, ctx, NULL);

out:
  if(map != MAP_FAILED)
    munmap(map, len);
  if(fd >= 0 && !is_stdin)
    close(fd);
  ch_buf_free(&b);
  return rc;
}
