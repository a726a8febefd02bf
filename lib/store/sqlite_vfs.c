/*
 * "certhub-walbuf": a VFS shim over SQLite's "unix" VFS that coalesces a
 * transaction's WAL writes.
 *
 * SQLite appends a WAL frame as two writes (the 24-byte frame header, then
 * the page), so a commit of 50 pages is 100 pwrite calls; on a VM each
 * system call costs microseconds, under the API's writer lock. The shim
 * keeps the WAL file's contiguous writes in a buffer and writes them out
 * with one call per WALBUF_PIECE when the transaction's commit frame has
 * been written (its header carries the database size after the commit,
 * never 0 otherwise): still inside sqlite3WalFrames(), so a failed write
 * fails the commit, before anything can see it.
 *
 * Why no reader sees a frame before its bytes reach the file (wal.c, 3.40):
 * a reader uses frames up to the mxFrame of the wal-index header only, and
 * a commit publishes that header in walIndexWriteHdr(), after all its
 * frames were written (by then the shim has written them: see above). So
 * a commit's frames are in the OS, visible to readers in any process
 * through their own descriptors, before the commit returns: a killed
 * process loses nothing it committed, exactly as without the shim; a power
 * loss is what synchronous=NORMAL allows (frames are checksummed; recovery
 * stops at the last valid commit frame).
 *
 * What a transaction buffers before its commit frame (or when it rolls
 * back) is written before every other event after which the bytes could
 * matter: the database file's xShmBarrier (walIndexWriteHdr's barrier,
 * between its two header copies), xShmLock (before the WAL write lock is
 * released another writer or a TRUNCATE checkpoint may reuse the offsets;
 * a rolled-back transaction's frames are written too, as without the
 * shim) and xShmUnmap; on the WAL file itself xRead (walRewriteChecksums
 * reads back frames of the open transaction), xSync, xTruncate, xFileSize,
 * xFileControl and xClose. A write that does not continue the buffered
 * run (SQLite rewrites a frame in place when a spilled page changes again)
 * writes the run first, so writes reach the file in program order. The
 * buffer grows to WALBUF_CAP at most; a longer run is written as it fills.
 *
 * Only main database and WAL files are wrapped; every other file (rollback
 * journals, temporary files) is the "unix" VFS's own object.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

#define WALBUF_NAME "certhub-walbuf"
#define WALBUF_FIRST ((size_t)256 << 10)
#define WALBUF_CAP ((size_t)4 << 20)
/* The "unix" VFS writes at most 0x1ffff bytes a call (seekAndWriteFd masks
 * the length): a run goes out in pieces of 124 KiB, page-aligned. */
#define WALBUF_PIECE ((size_t)0x1f000)
#define WAL_FRAME_HDR 24

typedef struct wb_file wb_file;
struct wb_file {
  sqlite3_file base; /* pMethods: wb_db_methods or wb_wal_methods */
  sqlite3_file *real;
  bool is_wal;
  wb_file *peer; /* db -> its open WAL, WAL -> its db; NULL: none */
  /* WAL only: the buffered run, len bytes for offset off onwards. */
  unsigned char *buf;
  size_t len, cap;
  sqlite3_int64 off;
  bool commit_frame; /* the last write was a commit frame's header */
  /* the real file follows */
};

static sqlite3_vfs wb_vfs;
static sqlite3_vfs *wb_under;
static sqlite3_io_methods wb_db_methods, wb_wal_methods;
static pthread_once_t wb_once = PTHREAD_ONCE_INIT;
static int wb_reg_rc = SQLITE_ERROR;

unsigned long ch_sq_walbuf_flushes;   /* for tests: pwrites of runs */
unsigned long ch_sq_walbuf_coalesced; /* writes that went into a run */

/* Write the run. A failed write is not retried and its bytes are dropped:
 * SQLite sees the error (the commit fails, or the caller's call does). */
static int flush(wb_file *w)
{
  if(!w || !w->len)
    return SQLITE_OK;
  size_t len = w->len;
  w->len = 0;
  __atomic_add_fetch(&ch_sq_walbuf_flushes, 1, __ATOMIC_RELAXED);
  for(size_t at = 0; at < len; at += WALBUF_PIECE) {
    size_t n = len - at < WALBUF_PIECE ? len - at : WALBUF_PIECE;
    int rc = w->real->pMethods->xWrite(w->real, w->buf + at, (int)n,
                                       w->off + (sqlite3_int64)at);
    if(rc != SQLITE_OK)
      return rc;
  }
  return SQLITE_OK;
}

static int flush_peer(sqlite3_file *f)
{
  wb_file *d = (wb_file *)f;
  return flush(d->peer);
}

/* ---- the WAL file ---------------------------------------------------- */

static int wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 o)
{
  wb_file *w = (wb_file *)f;
  size_t amt = (size_t)n;
  int rc;
  if(w->len && o != w->off + (sqlite3_int64)w->len && (rc = flush(w)))
    return rc;
  if(w->len + amt > w->cap) {
    size_t want = w->cap ? w->cap : WALBUF_FIRST;
    while(want < w->len + amt && want < WALBUF_CAP)
      want *= 2;
    if(want > w->cap) {
      unsigned char *nb = realloc(w->buf, want);
      if(nb) {
        w->buf = nb;
        w->cap = want;
      }
    }
    if(w->len + amt > w->cap) {
      /* full (or no memory): write what is buffered, then this one
       * directly if it does not fit an empty buffer either */
      if((rc = flush(w)))
        return rc;
      if(amt > w->cap)
        return w->real->pMethods->xWrite(w->real, p, n, o);
    }
  }
  if(!w->len)
    w->off = o;
  memcpy(w->buf + w->len, p, amt);
  w->len += amt;
  __atomic_add_fetch(&ch_sq_walbuf_coalesced, 1, __ATOMIC_RELAXED);
  /* A commit frame (its header's second word, the database size after the
   * commit, is non-zero) is written out with its page: a failure is then
   * the commit's, before walIndexWriteHdr publishes it. */
  if(w->commit_frame) {
    w->commit_frame = false;
    return flush(w);
  }
  if(amt == WAL_FRAME_HDR) {
    const unsigned char *h = p;
    w->commit_frame = (h[4] | h[5] | h[6] | h[7]) != 0;
  }
  return SQLITE_OK;
}

static int wal_read(sqlite3_file *f, void *p, int n, sqlite3_int64 o)
{
  wb_file *w = (wb_file *)f;
  int rc = flush(w);
  return rc ? rc : w->real->pMethods->xRead(w->real, p, n, o);
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
  wb_file *w = (wb_file *)f;
  int rc = flush(w);
  return rc ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
  wb_file *w = (wb_file *)f;
  int rc = flush(w);
  return rc ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int wal_size(sqlite3_file *f, sqlite3_int64 *size)
{
  wb_file *w = (wb_file *)f;
  int rc = flush(w);
  return rc ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int wal_fcntl(sqlite3_file *f, int op, void *arg)
{
  wb_file *w = (wb_file *)f;
  int rc = flush(w);
  return rc ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int any_close(sqlite3_file *f)
{
  wb_file *w = (wb_file *)f;
  int rc = w->is_wal ? flush(w) : SQLITE_OK;
  if(w->peer)
    w->peer->peer = NULL;
  w->peer = NULL;
  free(w->buf);
  w->buf = NULL;
  w->cap = w->len = 0;
  int rc2 = w->real->pMethods->xClose(w->real);
  return rc ? rc : rc2;
}

/* ---- the database file: everything passed on, the shm calls flush ---- */

#define REAL(f) (((wb_file *)(f))->real)

static int db_read(sqlite3_file *f, void *p, int n, sqlite3_int64 o)
{
  return REAL(f)->pMethods->xRead(REAL(f), p, n, o);
}
static int db_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 o)
{
  return REAL(f)->pMethods->xWrite(REAL(f), p, n, o);
}
static int db_truncate(sqlite3_file *f, sqlite3_int64 size)
{
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int db_sync(sqlite3_file *f, int flags)
{
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int db_size(sqlite3_file *f, sqlite3_int64 *size)
{
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int any_lock(sqlite3_file *f, int l)
{
  return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int any_unlock(sqlite3_file *f, int l)
{
  return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int any_reserved(sqlite3_file *f, int *out)
{
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int db_fcntl(sqlite3_file *f, int op, void *arg)
{
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int any_sector(sqlite3_file *f)
{
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int any_devchar(sqlite3_file *f)
{
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int db_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
                      void volatile **pp)
{
  return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int db_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
  /* What is buffered here belongs to no commit (a commit's frames went out
   * with its commit frame): an unlock happens whatever the write did, a
   * lock fails with its error. */
  int rc = flush_peer(f);
  int rc2 = REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
  if(flags & SQLITE_SHM_UNLOCK)
    return rc2;
  if(rc && rc2 == SQLITE_OK)
    REAL(f)->pMethods->xShmLock(
        REAL(f), offset, n, (flags & ~SQLITE_SHM_LOCK) | SQLITE_SHM_UNLOCK);
  return rc ? rc : rc2;
}
static void db_shm_barrier(sqlite3_file *f)
{
  /* Normally empty here (see wal_write); xShmBarrier cannot fail, and a
   * failed write is the next WAL call's error at the latest. */
  flush_peer(f);
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int db_shm_unmap(sqlite3_file *f, int del)
{
  int rc = flush_peer(f);
  int rc2 = REAL(f)->pMethods->xShmUnmap(REAL(f), del);
  return rc ? rc : rc2;
}
static int db_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
  return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int db_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
  return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

/* ---- the VFS ---------------------------------------------------------- */

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                   int flags, int *out_flags)
{
  (void)vfs;
  bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  if(!wal && !(flags & SQLITE_OPEN_MAIN_DB))
    return wb_under->xOpen(wb_under, name, f, flags, out_flags);
  wb_file *w = (wb_file *)f;
  memset(w, 0, sizeof(*w));
  w->real = (sqlite3_file *)(w + 1);
  int rc = wb_under->xOpen(wb_under, name, w->real, flags, out_flags);
  if(rc != SQLITE_OK || !w->real->pMethods) {
    w->base.pMethods = NULL;
    return rc;
  }
  w->is_wal = wal;
  if(wal && name) {
    /* The pager's database file, our wrapper (it was opened by this VFS:
     * a WAL is opened through its database's VFS). */
    wb_file *d = (wb_file *)sqlite3_database_file_object(name);
    if(d && d->base.pMethods == &wb_db_methods) {
      w->peer = d;
      d->peer = w;
    }
  }
  const sqlite3_io_methods *rm = w->real->pMethods;
  sqlite3_io_methods *m = wal ? &wb_wal_methods : &wb_db_methods;
  /* Same method version as the real file (3 for unix). */
  if(rm->iVersion != m->iVersion) {
    rm->xClose(w->real);
    if(w->peer)
      w->peer->peer = NULL;
    w->base.pMethods = NULL;
    return SQLITE_CANTOPEN;
  }
  w->base.pMethods = m;
  return SQLITE_OK;
}

#define PASS(name, sig, args)                                                 \
  static int wb_##name sig                                                    \
  {                                                                           \
    (void)vfs;                                                                \
    return wb_under->x##name args;                                            \
  }
PASS(Delete, (sqlite3_vfs * vfs, const char *n, int sync), (wb_under, n, sync))
PASS(Access, (sqlite3_vfs * vfs, const char *n, int fl, int *out),
     (wb_under, n, fl, out))
PASS(FullPathname, (sqlite3_vfs * vfs, const char *n, int len, char *out),
     (wb_under, n, len, out))
PASS(Randomness, (sqlite3_vfs * vfs, int n, char *out), (wb_under, n, out))
PASS(Sleep, (sqlite3_vfs * vfs, int us), (wb_under, us))
PASS(CurrentTime, (sqlite3_vfs * vfs, double *out), (wb_under, out))
PASS(GetLastError, (sqlite3_vfs * vfs, int n, char *out), (wb_under, n, out))
PASS(CurrentTimeInt64, (sqlite3_vfs * vfs, sqlite3_int64 *out),
     (wb_under, out))
#undef PASS

static void *wb_dlopen(sqlite3_vfs *vfs, const char *n)
{
  (void)vfs;
  return wb_under->xDlOpen(wb_under, n);
}
static void wb_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
  (void)vfs;
  wb_under->xDlError(wb_under, n, out);
}
static void (*wb_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
  (void)vfs;
  return wb_under->xDlSym(wb_under, h, sym);
}
static void wb_dlclose(sqlite3_vfs *vfs, void *h)
{
  (void)vfs;
  wb_under->xDlClose(wb_under, h);
}

static void wb_register(void)
{
  wb_under = sqlite3_vfs_find("unix");
  if(!wb_under || wb_under->iVersion < 2)
    return;
  sqlite3_io_methods common = {
      .iVersion = 3,
      .xClose = any_close,
      .xRead = db_read,
      .xWrite = db_write,
      .xTruncate = db_truncate,
      .xSync = db_sync,
      .xFileSize = db_size,
      .xLock = any_lock,
      .xUnlock = any_unlock,
      .xCheckReservedLock = any_reserved,
      .xFileControl = db_fcntl,
      .xSectorSize = any_sector,
      .xDeviceCharacteristics = any_devchar,
      .xShmMap = db_shm_map,
      .xShmLock = db_shm_lock,
      .xShmBarrier = db_shm_barrier,
      .xShmUnmap = db_shm_unmap,
      .xFetch = db_fetch,
      .xUnfetch = db_unfetch,
  };
  wb_db_methods = common;
  wb_wal_methods = common;
  wb_wal_methods.xRead = wal_read;
  wb_wal_methods.xWrite = wal_write;
  wb_wal_methods.xTruncate = wal_truncate;
  wb_wal_methods.xSync = wal_sync;
  wb_wal_methods.xFileSize = wal_size;
  wb_wal_methods.xFileControl = wal_fcntl;
  /* A WAL file has no shm or mmap of its own: SQLite never calls these on
   * it; passing them on keeps the method table complete. */
  wb_vfs = (sqlite3_vfs){
      .iVersion = 2,
      .szOsFile = (int)sizeof(wb_file) + wb_under->szOsFile,
      .mxPathname = wb_under->mxPathname,
      .zName = WALBUF_NAME,
      .xOpen = wb_open,
      .xDelete = wb_Delete,
      .xAccess = wb_Access,
      .xFullPathname = wb_FullPathname,
      .xDlOpen = wb_dlopen,
      .xDlError = wb_dlerror,
      .xDlSym = wb_dlsym,
      .xDlClose = wb_dlclose,
      .xRandomness = wb_Randomness,
      .xSleep = wb_Sleep,
      .xCurrentTime = wb_CurrentTime,
      .xGetLastError = wb_GetLastError,
      .xCurrentTimeInt64 = wb_CurrentTimeInt64,
  };
  wb_reg_rc = sqlite3_vfs_register(&wb_vfs, 0);
}

const char *ch_sq_walbuf_vfs(void)
{
  pthread_once(&wb_once, wb_register);
  return wb_reg_rc == SQLITE_OK ? WALBUF_NAME : NULL;
}
