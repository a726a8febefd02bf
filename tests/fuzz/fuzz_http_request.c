/* Fuzz the HTTP API's request handling past the socket: the input is
 * "METHOD PATH[?QUERY]\n" then the body. The path goes through the route
 * table (captures, percent-decoding), the query string through the
 * handlers' parameter parsing, the body through their JSON request
 * parsing, all against a real SQLite store (writes rolled back, so the
 * store stays small). Every answer must be JSON with a status, and every
 * error the {"error": {"code", "message"}} shape. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certhub/store.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static certhub_store *store;
static char dir[64];

static void cleanup(void)
{
  char cmd[128];
  certhub_store_close(store);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if(system(cmd) != 0)
    fprintf(stderr, "fuzz_http_request: could not remove %s\n", dir);
}

/* "a=1&b=2" lookup, first match; values are not decoded here. */
typedef struct qs {
  char *text;
} qs;

static const char *query(void *ctx, const char *name)
{
  qs *q = ctx;
  size_t nl = strlen(name);
  for(char *p = q->text; p && *p;) {
    char *amp = strchr(p, '&');
    if(!strncmp(p, name, nl) && p[nl] == '=') {
      if(amp)
        *amp = '\0'; /* the input is ours: cut in place */
      return p + nl + 1;
    }
    p = amp ? amp + 1 : NULL;
  }
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static char caps[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX];
  if(!store) {
    char path[96];
    snprintf(dir, sizeof(dir), "/tmp/fuzz_http.XXXXXX");
    if(!mkdtemp(dir))
      abort();
    snprintf(path, sizeof(path), "%s/h.db", dir);
    if(certhub_store_open(path, &store, NULL))
      abort();
    atexit(cleanup);
  }
  char *in = malloc(size + 1);
  if(!in)
    return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  char *nl = memchr(in, '\n', size);
  char *body = nl ? nl + 1 : NULL;
  size_t body_len = nl ? size - (size_t)(body - in) : 0;
  if(nl)
    *nl = '\0';
  char *sp = strchr(in, ' ');
  if(!sp || strlen(in) != (size_t)(nl ? nl - in : (ptrdiff_t)size))
    goto out; /* a NUL inside the request line: the server never sees one */
  *sp = '\0';
  char *path = sp + 1;
  char *qm = strchr(path, '?');
  qs q = {.text = qm ? qm + 1 : NULL};
  if(qm)
    *qm = '\0';
  const ch_http_route *r = NULL;
  size_t n = 0;
  char allow[128];
  ch_err rc = ch_http_route_find(ch_http_routes, ch_http_n_routes, in, path,
                                 &r, caps, &n, allow, sizeof(allow));
  if(rc)
    goto out;
  ch_http_req rq = {.method = in,
                    .path = path,
                    .n_caps = n,
                    .body = body,
                    .body_len = body_len,
                    .store = (r->flags & CH_HTTP_NOSTORE) ? NULL : store,
                    .now = 1795428000,
                    .scopes = CERTHUB_SCOPE_ADMIN,
                    .base_url = "http://127.0.0.1:1",
                    .query = query,
                    .query_ctx = &q};
  for(size_t i = 0; i < n; i++)
    rq.caps[i] = caps[i];
  ch_http_resp rs = {0};
  bool write = r->flags & CH_HTTP_WRITE;
  if(write && certhub_store_begin(store))
    abort();
  ch_http_dispatch(r, &rq, &rs);
  if(write)
    certhub_store_rollback(store);
  if(rs.status < 200 || rs.status > 599 || !rs.type)
    abort();
  if(!strncmp(rs.type, "application/json", 16)) {
    json_t *j = json_loadb(rs.body, rs.len, 0, NULL);
    if(!j)
      abort();
    if(rs.status >= 400) {
      json_t *e = json_object_get(j, "error");
      if(!json_is_string(json_object_get(e, "code")) ||
         !json_is_string(json_object_get(e, "message")))
        abort();
    }
    json_decref(j);
  }
  free(rs.body);
out:
  free(in);
  return 0;
}
