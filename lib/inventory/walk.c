/*
 * certhub_walk: expand globs, walk directories in sorted order (symlinks
 * followed), hand regular files to a callback.
 *
 * Memory: one sorted listing per directory on the current path (so bounded
 * by the depth times the largest listing), plus a (dev, ino) set of the
 * directories already walked, which is what lets each be walked once.
 * Directory file descriptors are closed before descending.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certhub/inventory.h"
#include "core/core.h"

typedef struct dirid {
  dev_t dev;
  ino_t ino;
} dirid;

typedef struct walker {
  const certhub_walk_opts *o;
  certhub_file_cb cb;
  void *ctx;
  unsigned problems;
  dirid *set; /* open addressing; ino 0 marks an empty slot */
  size_t set_cap;
  size_t set_n;
  struct {
    dirid id;
    const char *path;
  } stack[CERTHUB_MAX_WALK_DEPTH + 1];
  size_t depth;
  const char *root; /* the walked argument, for relative exclude matching */
  size_t root_len;
} walker;

typedef struct entry {
  char *name;
  unsigned char type; /* d_type */
} entry;

static void problem(walker *w, const char *path, ch_err err, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void problem(walker *w, const char *path, ch_err err, const char *fmt,
                    ...)
{
  char reason[2 * PATH_MAX + 128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  w->problems++;
  if(w->o && w->o->on_problem)
    w->o->on_problem(w->o->ctx, path, 0, err, reason);
}

static size_t id_hash(dirid id, size_t cap)
{
  uint64_t h = (uint64_t)id.ino * 0x9e3779b97f4a7c15ull ^
               (uint64_t)id.dev * 0xc2b2ae3d27d4eb4full;
  return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Insert id; *seen is set when it was there already. */
static ch_err set_add(walker *w, dirid id, bool *seen)
{
  *seen = false;
  /* Inode 0 is not a real inode; store it as ~0 so 0 can mean empty. */
  if(id.ino == 0)
    id.ino = (ino_t)-1;
  if((w->set_n + 1) * 2 > w->set_cap) {
    size_t ncap = w->set_cap ? w->set_cap * 2 : 256;
    dirid *ns = calloc(ncap, sizeof(*ns));
    if(!ns)
      return CH_ERR_NOMEM;
    for(size_t i = 0; i < w->set_cap; i++) {
      if(!w->set[i].ino)
        continue;
      size_t j = id_hash(w->set[i], ncap);
      while(ns[j].ino)
        j = (j + 1) & (ncap - 1);
      ns[j] = w->set[i];
    }
    free(w->set);
    w->set = ns;
    w->set_cap = ncap;
  }
  size_t j = id_hash(id, w->set_cap);
  while(w->set[j].ino) {
    if(w->set[j].ino == id.ino && w->set[j].dev == id.dev) {
      *seen = true;
      return CH_OK;
    }
    j = (j + 1) & (w->set_cap - 1);
  }
  w->set[j] = id;
  w->set_n++;
  return CH_OK;
}

static bool excluded(const walker *w, const char *path)
{
  if(!w->o || !w->o->n_excludes)
    return false;
  const char *base = strrchr(path, '/');
  base = base && base[1] ? base + 1 : path;
  /* Also match relative to the walked argument, so "old/ *" style
   * patterns work without spelling out the whole prefix. */
  const char *rel = NULL;
  if(w->root && !strncmp(path, w->root, w->root_len)) {
    rel = path + w->root_len;
    while(*rel == '/')
      rel++;
  }
  for(size_t i = 0; i < w->o->n_excludes; i++) {
    const char *p = w->o->excludes[i];
    if(!fnmatch(p, path, 0) || !fnmatch(p, base, 0) ||
       (rel && *rel && !fnmatch(p, rel, 0)))
      return true;
  }
  return false;
}

static char *join(const char *dir, const char *name)
{
  size_t dl = strlen(dir), nl = strlen(name);
  bool slash = dl && dir[dl - 1] == '/';
  char *p = malloc(dl + nl + 2);
  if(!p)
    return NULL;
  memcpy(p, dir, dl);
  if(!slash)
    p[dl++] = '/';
  memcpy(p + dl, name, nl + 1);
  return p;
}

/* stat() failed on path: say why, naming a dangling symlink's target. */
static void stat_problem(walker *w, const char *path, int err)
{
  struct stat lst;
  if(err == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    problem(w, path, CH_ERR_NOTFOUND, "dangling symlink: %s -> %s", path,
            target);
    return;
  }
  if(err == ELOOP) {
    problem(w, path, CH_ERR_LOOP, "symlink loop: %s: %s", path, strerror(err));
    return;
  }
  problem(w, path, err == ENOENT ? CH_ERR_NOTFOUND : CH_ERR_IO,
          "cannot stat: %s", strerror(err));
}

static const char *special_kind(mode_t m)
{
  if(S_ISFIFO(m))
    return "a fifo";
  if(S_ISSOCK(m))
    return "a socket";
  if(S_ISCHR(m))
    return "a character device";
  if(S_ISBLK(m))
    return "a block device";
  return "not a regular file";
}

static int cmp_entry(const void *pa, const void *pb)
{
  return strcmp(((const entry *)pa)->name, ((const entry *)pb)->name);
}

static void entries_free(entry *v, size_t n)
{
  for(size_t i = 0; i < n; i++)
    free(v[i].name);
  free(v);
}

/* The whole listing of path, sorted; problems are reported here. */
static ch_err list_dir(walker *w, const char *path, entry **out, size_t *n_out)
{
  ch_err rc = CH_OK;
  entry *v = NULL;
  size_t n = 0, cap = 0;
  *out = NULL;
  *n_out = 0;
  DIR *d = opendir(path);
  if(!d) {
    problem(w, path, CH_ERR_IO, "cannot open directory: %s", strerror(errno));
    return CH_OK;
  }
  for(;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if(!de) {
      if(errno)
        problem(w, path, CH_ERR_IO, "cannot read directory: %s",
                strerror(errno));
      break;
    }
    if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if(n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      entry *nv = realloc(v, ncap * sizeof(*nv));
      if(!nv) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
      v = nv;
      cap = ncap;
    }
    v[n].name = strdup(de->d_name);
    if(!v[n].name) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    v[n].type = de->d_type;
    n++;
  }
  if(n > 1) /* v is NULL for an empty directory */
    qsort(v, n, sizeof(*v), cmp_entry);
  *out = v;
  *n_out = n;
  v = NULL;
  n = 0;

out:
  closedir(d);
  entries_free(v, n);
  return rc;
}

static ch_err walk_dir(walker *w, const char *path, const struct stat *st);

/* One entry found inside a directory or by a glob: never explicit. */
static ch_err visit(walker *w, const char *path, unsigned char type)
{
  if(excluded(w, path))
    return CH_OK;
  if(type == DT_REG)
    return w->cb(w->ctx, path, false);
  struct stat st;
  if(stat(path, &st) != 0) {
    stat_problem(w, path, errno);
    return CH_OK;
  }
  if(S_ISDIR(st.st_mode))
    return walk_dir(w, path, &st);
  if(S_ISREG(st.st_mode))
    return w->cb(w->ctx, path, false);
  return CH_OK; /* special files inside directories are skipped quietly */
}

static ch_err walk_dir(walker *w, const char *path, const struct stat *st)
{
  ch_err rc = CH_OK;
  entry *ents = NULL;
  size_t n = 0;
  dirid id = {st->st_dev, st->st_ino};
  for(size_t i = 0; i < w->depth; i++) {
    if(w->stack[i].id.dev == id.dev && w->stack[i].id.ino == id.ino) {
      problem(w, path, CH_ERR_LOOP, "symlink loop: %s -> %s", path,
              w->stack[i].path);
      return CH_OK;
    }
  }
  if(w->depth > CERTHUB_MAX_WALK_DEPTH) {
    problem(w, path, CH_ERR_TOOBIG,
            "directory nesting deeper than %d levels, not entered",
            CERTHUB_MAX_WALK_DEPTH);
    return CH_OK;
  }
  bool seen;
  rc = set_add(w, id, &seen);
  if(rc || seen) /* reached before by another route: walked already */
    return rc;
  rc = list_dir(w, path, &ents, &n);
  if(rc)
    goto out;
  w->stack[w->depth].id = id;
  w->stack[w->depth].path = path;
  w->depth++;
  for(size_t i = 0; i < n && !rc; i++) {
    char *child = join(path, ents[i].name);
    if(!child) {
      rc = CH_ERR_NOMEM;
      break;
    }
    rc = visit(w, child, ents[i].type);
    free(child);
  }
  w->depth--;

out:
  entries_free(ents, n);
  return rc;
}

/* A path named by the caller. */
static ch_err explicit_path(walker *w, const char *path)
{
  struct stat st;
  if(stat(path, &st) != 0) {
    stat_problem(w, path, errno);
    return CH_OK;
  }
  if(S_ISREG(st.st_mode))
    return w->cb(w->ctx, path, true);
  if(S_ISDIR(st.st_mode)) {
    w->root = path;
    w->root_len = strlen(path);
    return walk_dir(w, path, &st);
  }
  problem(w, path, CH_ERR_UNSUPPORTED, "not a regular file (%s)",
          special_kind(st.st_mode));
  return CH_OK;
}

static ch_err glob_path(walker *w, const char *pattern)
{
  ch_err rc = CH_OK;
  glob_t g;
  int r = glob(pattern, 0, NULL, &g);
  if(r == GLOB_NOMATCH) {
    problem(w, pattern, CH_ERR_NOTFOUND, "no file matches the pattern");
    goto out;
  }
  if(r == GLOB_NOSPACE) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(r) {
    problem(w, pattern, CH_ERR_IO, "cannot expand the pattern");
    goto out;
  }
  /* Matches behave like directory entries: excludes apply, and
   * special files are skipped. glob(3) sorted them already. */
  for(size_t i = 0; i < g.gl_pathc && !rc; i++) {
    w->root = g.gl_pathv[i];
    w->root_len = strlen(g.gl_pathv[i]);
    rc = visit(w, g.gl_pathv[i], DT_UNKNOWN);
  }

out:
  globfree(&g);
  return rc;
}

ch_err certhub_walk(const char *const *paths, size_t n_paths,
                    const certhub_walk_opts *o, certhub_file_cb cb, void *ctx,
                    unsigned *n_problems)
{
  ch_err rc = CH_OK;
  walker w = {.o = o, .cb = cb, .ctx = ctx};
  if(n_problems)
    *n_problems = 0;
  for(size_t i = 0; i < n_paths && !rc; i++) {
    const char *p = paths[i];
    w.root = NULL;
    w.root_len = 0;
    if(!strcmp(p, "-"))
      rc = cb(ctx, p, true);
    else if(strpbrk(p, "*?["))
      rc = glob_path(&w, p);
    else
      rc = explicit_path(&w, p);
  }
  free(w.set);
  if(n_problems)
    *n_problems = w.problems;
  return rc;
}
