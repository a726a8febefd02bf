/*
 * file target: append the input as one line of compact JSON. One write(2)
 * on an O_APPEND descriptor, so lines from concurrent deliveries (and
 * other processes) never interleave on a local file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target_int.h"

#define PATH_MAX_LEN 4096

struct file {
  char *path;
};

static const char *const fields[] = {"Path", NULL};

static void file_free(void *state)
{
  struct file *f = state;
  if(f)
    free(f->path);
  free(f);
}

static ch_err file_parse(json_t *spec, void **state, char **errmsg)
{
  const char *p;
  ch_err rc =
      ch_target_str_field(spec, "Path", PATH_MAX_LEN, true, true, &p, errmsg);
  if(rc)
    return rc;
  if(p[0] != '/')
    return ch_target_err(errmsg,
                         "Path: must be an absolute path (got "
                         "\"%.200s\")",
                         p);
  if(p[strlen(p) - 1] == '/')
    return ch_target_err(errmsg,
                         "Path: names a directory (\"%.200s\"); "
                         "give a file",
                         p);
  struct file *f = calloc(1, sizeof(*f));
  if(!f || !(f->path = strdup(p))) {
    free(f);
    return CH_ERR_NOMEM;
  }
  *state = f;
  return CH_OK;
}

static certhub_delivery file_deliver(const void *state,
                                     const certhub_target_ctx *ctx,
                                     const ch_target_input *in, char **detail)
{
  (void)ctx;
  const struct file *f = state;
  certhub_delivery d = CERTHUB_DELIVERY_RETRY;
  char *line = NULL;
  int fd = -1;
  /* Re-encode compactly: the input may hold newlines (pretty JSON, a
   * constant Input); a text template's output becomes a JSON string. */
  json_t *v = in->json ? json_loadb(in->data, in->len, JSON_DECODE_ANY, NULL)
                       : json_stringn(in->data, in->len);
  if(!v) {
    d = CERTHUB_DELIVERY_FAILED;
    *detail = ch_target_fmt("the input is not %s",
                            in->json ? "valid JSON" : "valid UTF-8");
    goto out;
  }
  line = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                           JSON_REAL_PRECISION(17));
  json_decref(v);
  if(!line) {
    *detail = ch_target_fmt("out of memory encoding the line");
    goto out;
  }
  size_t n = strlen(line);
  line[n] = '\n'; /* json_dumps' NUL becomes the newline */
  fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
            0640);
  if(fd < 0) {
    *detail = ch_target_fmt("cannot open %s: %s", f->path, strerror(errno));
    goto out;
  }
  ssize_t w;
  do
    w = write(fd, line, n + 1);
  while(w < 0 && errno == EINTR);
  if(w < 0) {
    *detail = ch_target_fmt("cannot write %s: %s", f->path, strerror(errno));
    goto out;
  }
  if((size_t)w != n + 1) {
    *detail = ch_target_fmt("short write to %s: %zd of %zu bytes", f->path, w,
                            n + 1);
    goto out;
  }
  if(close(fd) != 0) {
    fd = -1;
    *detail = ch_target_fmt("cannot write %s: %s", f->path, strerror(errno));
    goto out;
  }
  fd = -1;
  d = CERTHUB_DELIVERY_OK;
out:
  if(fd >= 0)
    close(fd);
  free(line);
  return d;
}

const struct ch_target_ops ch_target_file = {
    .name = "file",
    .fields = fields,
    .parse = file_parse,
    .deliver = file_deliver,
    .free = file_free,
};
