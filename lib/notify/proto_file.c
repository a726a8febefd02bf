/*
 * The file protocol: appends one SNS message object per line (JSON lines)
 * to the endpoint, an absolute path. Each line is one write() to a file
 * opened O_APPEND, then fdatasync, so concurrent writers do not interleave
 * and a delivered line survives a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "certhub/notify.h"
#include "notify_int.h"
#include "proto.h"

static ch_err file_check(const char *endpoint, char *why, size_t whylen)
{
  if(endpoint[0] != '/') {
    snprintf(why, whylen, "the endpoint must be an absolute file path");
    return CH_ERR_USAGE;
  }
  return CH_OK;
}

static ch_delivery_result file_deliver(const ch_notify_env *env,
                                       const ch_notify_sub *sub,
                                       const ch_notify_msg *m, char *detail,
                                       size_t detaillen)
{
  ch_buf body;
  char *line = NULL;
  ch_delivery_result d = CH_DELIVERY_RETRY;
  ch_buf_init(&body, (size_t)CERTHUB_MESSAGE_MAX * 2 + 16384);
  /* Always the SNS object: a line must be one JSON value. */
  if(ch_notify_sns_body(env, sub, m, false, &body, NULL)) {
    snprintf(detail, detaillen, "cannot build the message");
    goto out;
  }
  json_t *o = json_loadb(body.data, body.len, 0, NULL);
  line = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
  json_decref(o);
  if(!line) {
    snprintf(detail, detaillen, "cannot build the message");
    goto out;
  }
  size_t n = strlen(line);
  line[n++] = '\n'; /* replaces the NUL; written by length */
  int fd =
      open(sub->endpoint, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if(fd < 0) {
    snprintf(detail, detaillen, "cannot open the file: %s", strerror(errno));
    goto out;
  }
  ssize_t w = write(fd, line, n);
  int werr = errno;
  if(w == (ssize_t)n && fdatasync(fd) == 0) {
    d = CH_DELIVERY_OK;
    snprintf(detail, detaillen, "%zu bytes appended", n);
  }
  else
    snprintf(detail, detaillen, "cannot write the file: %s",
             strerror(w < 0   ? werr
                      : errno ? errno
                              : EIO));
  close(fd);
out:
  free(line);
  ch_buf_free(&body);
  return d;
}

const ch_notify_proto ch_notify_proto_file = {
    .name = "file",
    .needs_confirmation = false,
    .check_endpoint = file_check,
    .deliver = file_deliver,
};
