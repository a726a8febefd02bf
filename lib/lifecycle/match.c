/*
 * Which configured source or endpoint holds a sighting, and so which
 * threshold and renewal command apply to a certificate.
 *
 * File sightings carry the realpath of the file (lib/inventory/import.c).
 * A configured path holds a file when it is that file, a directory above
 * it, or a glob matching it or a directory above it (the walk expands
 * globs and descends into directories). Relative paths are taken from the
 * current directory, as `certhub import` does. Both the path as written
 * (made absolute) and its realpath are compared, so a symlinked directory
 * matches either way. A file matching one of the source's excludes (full
 * path or base name) is not held by it.
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certhub/probe.h"
#include "lifecycle_int.h"

static bool is_glob(const char *p)
{
  return strpbrk(p, "*?[") != NULL;
}

static char *absolute(const char *p)
{
  if(p[0] == '/')
    return strdup(p);
  char cwd[PATH_MAX];
  if(!getcwd(cwd, sizeof(cwd)))
    return strdup(p);
  size_t n = strlen(cwd) + strlen(p) + 2;
  char *out = malloc(n);
  if(out)
    snprintf(out, n, "%s/%s", cwd, p);
  return out;
}

/* realpath of the directory part before a glob's first wildcard, joined
 * with the rest: "/srv/link/site-*.pem" -> "/data/site-*.pem". */
static char *real_glob(const char *abs)
{
  const char *w = strpbrk(abs, "*?[");
  const char *slash = w;
  while(slash > abs && *slash != '/')
    slash--;
  if(slash <= abs)
    return NULL;
  char *dir = strndup(abs, (size_t)(slash - abs));
  char real[PATH_MAX];
  char *out = NULL;
  if(dir && realpath(dir, real) && strcmp(real, dir)) {
    size_t n = strlen(real) + strlen(slash) + 1;
    out = malloc(n);
    if(out)
      snprintf(out, n, "%s%s", real, slash);
  }
  free(dir);
  return out;
}

ch_err ch_lc_match_init(lc_match *m, const certhub_config *cfg)
{
  memset(m, 0, sizeof(*m));
  m->cfg = cfg;
  if(cfg->n_sources) {
    m->paths = calloc(cfg->n_sources, sizeof(*m->paths));
    if(!m->paths)
      return CH_ERR_NOMEM;
  }
  for(size_t i = 0; i < cfg->n_sources; i++) {
    const certhub_source_cfg *src = &cfg->sources[i];
    m->paths[i] = calloc(src->n_paths + 1, sizeof(**m->paths));
    if(!m->paths[i])
      return CH_ERR_NOMEM;
    for(size_t k = 0; k < src->n_paths; k++) {
      lc_path *p = &m->paths[i][k];
      char real[PATH_MAX];
      p->glob = is_glob(src->paths[k]);
      p->abs = absolute(src->paths[k]);
      if(!p->abs)
        return CH_ERR_NOMEM;
      if(p->glob)
        p->real = real_glob(p->abs);
      else if(realpath(p->abs, real) && strcmp(real, p->abs))
        p->real = strdup(real);
    }
  }
  if(cfg->n_endpoints) {
    m->ep_locators = calloc(cfg->n_endpoints, sizeof(*m->ep_locators));
    if(!m->ep_locators)
      return CH_ERR_NOMEM;
  }
  for(size_t i = 0; i < cfg->n_endpoints; i++) {
    const certhub_endpoint_cfg *ep = &cfg->endpoints[i];
    certhub_target t;
    char *err = NULL;
    char loc[1024];
    if(!ep->threshold_days)
      continue; /* only endpoints with their own threshold matter here */
    memset(&t, 0, sizeof(t));
    if(certhub_target_parse(ep->target, ep->sni, ep->starttls, &t, &err) ==
           CH_OK &&
       certhub_target_locator(&t, NULL, loc, sizeof(loc)) == CH_OK)
      m->ep_locators[i] = strdup(loc);
    free(err);
    certhub_target_free(&t);
  }
  return CH_OK;
}

void ch_lc_match_free(lc_match *m)
{
  if(!m)
    return;
  for(size_t i = 0; m->paths && i < m->cfg->n_sources; i++) {
    for(lc_path *p = m->paths[i]; p && p->abs; p++) {
      free(p->abs);
      free(p->real);
    }
    free(m->paths[i]);
  }
  free(m->paths);
  for(size_t i = 0; m->ep_locators && i < m->cfg->n_endpoints; i++)
    free(m->ep_locators[i]);
  free(m->ep_locators);
  memset(m, 0, sizeof(*m));
}

/* pattern matches locator or one of its parent directories. */
static bool glob_holds(const char *pattern, const char *locator)
{
  char buf[PATH_MAX];
  size_t n = strlen(locator);
  if(n >= sizeof(buf))
    return false;
  memcpy(buf, locator, n + 1);
  for(;;) {
    if(fnmatch(pattern, buf, FNM_PATHNAME) == 0)
      return true;
    char *slash = strrchr(buf, '/');
    if(!slash || slash == buf)
      return false;
    *slash = '\0';
  }
}

static bool path_holds(const char *path, const char *locator)
{
  size_t n = strlen(path);
  while(n > 1 && path[n - 1] == '/')
    n--;
  if(strncmp(path, locator, n))
    return false;
  return locator[n] == '\0' || locator[n] == '/' || (n == 1 && *path == '/');
}

static bool excluded(const certhub_source_cfg *src, const char *locator)
{
  const char *base = strrchr(locator, '/');
  base = base ? base + 1 : locator;
  for(size_t i = 0; i < src->n_excludes; i++)
    if(fnmatch(src->excludes[i], locator, 0) == 0 ||
       fnmatch(src->excludes[i], base, 0) == 0)
      return true;
  return false;
}

long ch_lc_source_of(const lc_match *m, const char *locator)
{
  for(size_t i = 0; i < m->cfg->n_sources; i++) {
    const certhub_source_cfg *src = &m->cfg->sources[i];
    bool hit = false;
    for(const lc_path *p = m->paths[i]; !hit && p->abs; p++) {
      if(p->glob)
        hit = glob_holds(p->abs, locator) ||
              (p->real && glob_holds(p->real, locator));
      else
        hit = path_holds(p->abs, locator) ||
              (p->real && path_holds(p->real, locator));
    }
    if(hit && !excluded(src, locator))
      return (long)i;
  }
  return -1;
}

/* "host:443" configured matches the sighting "host:443" and, when every
 * address is probed, "host:443 addr=IP". */
static bool endpoint_holds(const char *cfg_loc, const char *locator)
{
  size_t n = strlen(cfg_loc);
  return !strncmp(cfg_loc, locator, n) &&
         (locator[n] == '\0' || !strncmp(locator + n, " addr=", 6));
}

static int place_threshold(const lc_match *m, const lc_place *p)
{
  const certhub_config *cfg = m->cfg;
  if(!strcmp(p->kind, CERTHUB_SOURCE_FILE)) {
    long i = ch_lc_source_of(m, p->locator);
    if(i >= 0 && cfg->sources[i].threshold_days > 0)
      return cfg->sources[i].threshold_days;
  }
  else if(!strcmp(p->kind, CERTHUB_SOURCE_ENDPOINT)) {
    for(size_t i = 0; i < cfg->n_endpoints; i++)
      if(m->ep_locators && m->ep_locators[i] &&
         endpoint_holds(m->ep_locators[i], p->locator))
        return cfg->endpoints[i].threshold_days;
  }
  return cfg->threshold_days > 0 ? cfg->threshold_days
                                 : CERTHUB_DEFAULT_THRESHOLD_DAYS;
}

/* Strict decimal 1..365, as the config's expiry_threshold_days. */
static int parse_days(const char *s)
{
  int v = 0;
  if(!*s)
    return -1;
  for(; *s; s++) {
    if(*s < '0' || *s > '9' || v > 365)
      return -1;
    v = v * 10 + (*s - '0');
  }
  return v >= 1 && v <= 365 ? v : -1;
}

int ch_lc_threshold(const lc_match *m, const lc_cert *c, bool *bad_tag)
{
  *bad_tag = false;
  if(c->tag_threshold) {
    int v = parse_days(c->tag_threshold);
    if(v > 0)
      return v;
    *bad_tag = true;
  }
  int best = 0;
  for(size_t i = 0; i < c->n_places; i++) {
    int t = place_threshold(m, &c->places[i]);
    if(t > best)
      best = t;
  }
  if(!best)
    best = m->cfg->threshold_days > 0 ? m->cfg->threshold_days
                                      : CERTHUB_DEFAULT_THRESHOLD_DAYS;
  return best;
}

const certhub_source_cfg *
ch_lc_renew_source(const lc_match *m, const lc_cert *c, const char **locator)
{
  for(size_t i = 0; i < c->n_places; i++) {
    if(strcmp(c->places[i].kind, CERTHUB_SOURCE_FILE))
      continue;
    long k = ch_lc_source_of(m, c->places[i].locator);
    if(k >= 0 && m->cfg->sources[k].renew_argv) {
      *locator = c->places[i].locator;
      return &m->cfg->sources[k];
    }
  }
  *locator = NULL;
  return NULL;
}
