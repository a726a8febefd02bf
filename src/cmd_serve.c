/*
 * certhub serve: the daemon. One thread runs the loop:
 *
 *   evaluate lifecycle (at start, when the UTC day changes, and every
 *   --evaluate-every) -> fire due schedules -> route stored events ->
 *   deliver due outbox rows (a few at a time, checking signals between) ->
 *   sleep until the next due instant, --interval at most, or a signal.
 *
 * Everything it does is persisted before it is acted on (events in the
 * archive, outbox rows), so a crash or SIGKILL at any point loses nothing:
 * the next start picks up where the store says. SIGTERM and SIGINT drain
 * (the delivery in flight finishes and is recorded) and exit 0; SIGHUP
 * reloads the configuration and keeps the old one when the new is invalid.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "certhub/config.h"
#include "certhub/http.h"
#include "certhub/deliver.h"
#include "certhub/findings.h"
#include "cli.h"
#include "notify_cfg.h"
#include "serve_hub.h"
#include "wire.h"

enum {
  OPT_ONCE = 0x100,
  OPT_INTERVAL,
  OPT_EVALUATE_EVERY,
  OPT_BATCH,
  OPT_LISTEN,
  OPT_NO_HTTP,
};

/* Deliveries per step between two looks for due schedules and unrouted
 * events. SIGTERM is looked for before each delivery (serve_stopping), so
 * it waits for the delivery in flight only. */
#define SERVE_STEP_DELIVERIES 8

typedef struct serve {
  cli_ctx *c;
  certhub_store *store;
  wire *w;
  int sfd;                /* signalfd for TERM, INT, HUP */
  int lockfd;             /* DB.serve.lock, held while running */
  int64_t offset;         /* --now minus the wall clock at start */
  unsigned interval_ms;   /* longest sleep */
  unsigned eval_every_ms; /* lifecycle evaluation period */
  bool once;
  bool stop;
  bool hup;          /* SIGHUP read, reload not done yet */
  int64_t last_eval; /* instant of the last evaluation, 0 none */
  wire_stats total;
  certhub_http *http;     /* the HTTP API, NULL when off */
  const char *listen_opt; /* --listen, overrides http.listen */
  bool no_http;
  certhub_notify_engine *ne; /* topic deliveries (lib/notify) */
  cli_notify nc;
  int64_t last_prune; /* instant of the last findings prune, 0 none */
  serve_hub hub;      /* findings forwarding (config hub:) */
  char *sns_pem;      /* SNS signing certificate, served by the HTTP API */
} serve;

static int64_t serve_now(const serve *sv)
{
  return (int64_t)time(NULL) + sv->offset;
}

static void serve_logv(const char *fmt, va_list ap)
{
  char ts[32];
  certhub_time_format((int64_t)time(NULL), ts, sizeof(ts));
  flockfile(stderr); /* the HTTP API's threads log too: whole lines */
  fprintf(stderr, "%s certhub serve: ", ts);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
  funlockfile(stderr);
}

static void serve_log(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void serve_log(void *ctx, const char *fmt, ...)
{
  (void)ctx;
  va_list ap;
  va_start(ap, fmt);
  serve_logv(fmt, ap);
  va_end(ap);
}

static bool serve_stopping(void *ctx);

/* Build the wiring for cfg and put its rules into the store. */
static ch_err serve_wire(serve *sv, const certhub_config *cfg, wire **out)
{
  char *err = NULL;
  wire *w = NULL;
  ch_err rc = wire_new(sv->store, cfg, serve_log, sv, &w, &err);
  if(!rc) {
    wire_set_stop(w, serve_stopping, sv);
    rc = wire_apply_config(w, serve_now(sv), &err);
  }
  if(rc) {
    serve_log(sv, "configuration: %s", err ? err : certhub_strerror(rc));
    wire_free(w);
    w = NULL;
  }
  free(err);
  *out = w;
  return rc;
}

/* The HTTP API options from cfg (and --listen). False when it is off. */
static bool http_opts(const serve *sv, const certhub_config *cfg,
                      certhub_http_opts *o)
{
  const certhub_http_cfg *h = &cfg->http;
  *o = (certhub_http_opts){
      .db_target = sv->c->db_target,
      .listen = sv->listen_opt ? sv->listen_opt : h->listen,
      .tls_cert_file = h->tls_cert_file,
      .tls_key_file = h->tls_key_file,
      .base_url = h->base_url,
      .max_body = h->max_body,
      .threads = h->threads,
      .metrics_auth = h->metrics_auth_set ? h->metrics_auth : -1,
      .now_offset = sv->offset,
      .log = serve_log,
      .log_ctx = (void *)sv,
      .sns_cert_pem = sv->sns_pem,
  };
  return !sv->no_http && (!o->listen || strcmp(o->listen, "off"));
}

static ch_err serve_http_start(serve *sv, const certhub_config *cfg)
{
  certhub_http_opts o;
  char *err = NULL;
  if(!http_opts(sv, cfg, &o))
    return CH_OK;
  ch_err rc = certhub_http_start(&o, &sv->http, &err);
  if(rc)
    serve_log(sv, "http: %s", err ? err : certhub_strerror(rc));
  else if(!sv->c->quiet)
    serve_log(sv, "http: API at %s", certhub_http_url(sv->http));
  free(err);
  return rc;
}

/* SIGHUP with a new configuration: restart the API when its listener or
 * TLS material changed (requests in flight finish first). */
static void serve_http_reload(serve *sv, const certhub_config *cfg)
{
  certhub_http_opts o;
  bool on = http_opts(sv, cfg, &o);
  if(sv->http && on && !certhub_http_differs(sv->http, &o))
    return;
  if(!sv->http && !on)
    return;
  certhub_http_stop(sv->http);
  sv->http = NULL;
  if(on && serve_http_start(sv, cfg))
    serve_log(sv, "SIGHUP: the HTTP API is off until the next reload");
  else if(!on)
    serve_log(sv, "SIGHUP: the HTTP API is off");
}

/* The signing certificate of nc's settings into sv->sns_pem (kept as it
 * was when it cannot be read: the engine reports why). */
static void serve_sns_pem(serve *sv, const cli_notify *nc)
{
  char *pem = NULL;
  if(certhub_notify_signing_cert_pem(nc->cfg.signing_key_file,
                                     nc->cfg.signing_cert_file,
                                     nc->cfg.data_dir, &pem) == CH_OK) {
    free(sv->sns_pem);
    sv->sns_pem = pem;
  }
}

/* Messages' SubscribeURL, UnsubscribeURL and SigningCertURL point at the
 * HTTP API: notify.base_url when set, else the API's own URL. */
static void serve_notify_base(serve *sv, cli_notify *nc)
{
  if(!nc->cfg.base_url && sv->http)
    nc->cfg.base_url = certhub_http_url(sv->http);
}

/* Findings' Remediation Urls open on the running API too. */
static void serve_findings_base(serve *sv)
{
  if(sv->w)
    wire_set_base_url(sv->w, sv->http ? certhub_http_url(sv->http) : NULL);
}

/* SIGHUP: load the file again; on any error keep running with the old. */
static void serve_reload(serve *sv)
{
  cli_ctx *c = sv->c;
  if(!c->config_from_file) {
    serve_log(sv, "SIGHUP: no configuration file to reload");
    return;
  }
  certhub_config *cfg = NULL;
  char *err = NULL;
  ch_err rc = certhub_config_load(c->config->file, &cfg, &err);
  if(rc) {
    serve_log(sv, "SIGHUP: keeping the running configuration: %s",
              err ? err : certhub_strerror(rc));
    free(err);
    return;
  }
  wire *w = NULL;
  if(serve_wire(sv, cfg, &w)) {
    serve_log(sv, "SIGHUP: keeping the running configuration");
    certhub_config_free(cfg);
    return;
  }
  if((cfg->db || c->config->db) &&
     (!cfg->db || !c->config->db || strcmp(cfg->db, c->config->db)))
    serve_log(sv, "SIGHUP: db: changes take effect at the next start");
  wire_free(sv->w);
  certhub_config_free(c->config);
  c->config = cfg;
  sv->w = w;
  sv->last_eval = 0; /* thresholds may have changed */
  /* Topics and delivery settings: a new engine; the old one first
   * finishes what it has in flight (the rest stays pending). The API
   * restarts before it when the signing certificate changed, and the
   * engine takes the API's URL (links). */
  cli_notify nc;
  certhub_notify_engine *ne = NULL;
  char *nwhy = NULL;
  bool nc_ok = cli_notify_setup(c, sv->store, &nc) == 0;
  if(nc_ok)
    serve_sns_pem(sv, &nc);
  serve_http_reload(sv, cfg);
  serve_findings_base(sv);
  if(nc_ok) {
    serve_notify_base(sv, &nc);
    nc.cfg.log = serve_log;
    nc.cfg.log_ctx = sv;
    if(certhub_notify_engine_new(sv->store, &nc.cfg, &ne, &nwhy) == CH_OK) {
      certhub_notify_engine_free(sv->ne, 5000);
      cli_notify_free(&sv->nc);
      sv->ne = ne;
      sv->nc = nc;
      sv->nc.cfg.data_dir = sv->nc.dir;
    }
    else {
      serve_log(sv,
                "SIGHUP: topics: keeping the running delivery settings: "
                "%s",
                nwhy ? nwhy : "engine");
      cli_notify_free(&nc);
    }
  }
  else {
    serve_log(sv, "SIGHUP: topics: keeping the running delivery settings");
    cli_notify_free(&nc);
  }
  free(nwhy);
  serve_hub_config(&sv->hub, sv->store, cfg, serve_now(sv), serve_log, sv);
  serve_log(sv, "SIGHUP: configuration reloaded from %s", cfg->file);
}

/* Read pending signals without blocking; a SIGHUP is only noted (a
 * delivery may be in progress on the current wiring). */
static void serve_read_signals(serve *sv)
{
  struct signalfd_siginfo si;
  for(;;) {
    ssize_t n = read(sv->sfd, &si, sizeof(si));
    if(n != (ssize_t)sizeof(si))
      return;
    if(si.ssi_signo == SIGHUP)
      sv->hup = true;
    else if(!sv->stop) {
      serve_log(sv, "%s: draining and stopping",
                si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
      sv->stop = true;
    }
  }
}

/* Between steps: read the signals and reload when asked. */
static void serve_signals(serve *sv)
{
  serve_read_signals(sv);
  if(sv->hup) {
    sv->hup = false;
    serve_reload(sv);
  }
}

/* The wiring's stop check, before each delivery. */
static bool serve_stopping(void *ctx)
{
  serve *sv = ctx;
  serve_read_signals(sv);
  return sv->stop;
}

static void stats_add(wire_stats *t, const wire_stats *s)
{
  t->emitted += s->emitted;
  t->deduped += s->deduped;
  t->fired += s->fired;
  t->routed += s->routed;
  t->enqueued += s->enqueued;
  t->delivered += s->delivered;
  t->retried += s->retried;
  t->dead += s->dead;
}

static bool evaluation_due(const serve *sv, int64_t now)
{
  if(!sv->last_eval)
    return true;
  if(now / 86400 != sv->last_eval / 86400) /* a new UTC day */
    return true;
  return (now - sv->last_eval) * 1000 >= (int64_t)sv->eval_every_ms;
}

/* Topic deliveries: drive the engine until nothing is due or in flight,
 * at most NOTIFY_SLICE_MS per pass so the bus is not starved. */
#define NOTIFY_SLICE_MS 2000
static void serve_notify(serve *sv)
{
  certhub_notify_stats st = {0};
  int64_t until = certhub_now_ms() + NOTIFY_SLICE_MS;
  while(sv->ne && !sv->stop && certhub_now_ms() < until) {
    ch_err rc = certhub_notify_engine_step(sv->ne, 50, &st);
    if(rc) {
      serve_log(sv, "topics: %s", certhub_store_errmsg(sv->store));
      break;
    }
    serve_read_signals(sv);
    int64_t due = INT64_MAX;
    if(!certhub_notify_engine_in_flight(sv->ne) &&
       (certhub_notify_engine_next_due(sv->ne, &due) ||
        due > certhub_now_ms()))
      break;
  }
  if(st.attempted || st.filtered)
    serve_log(sv,
              "topics: %llu delivered, %llu to retry, %llu dead-lettered, "
              "%llu filtered",
              (unsigned long long)st.delivered, (unsigned long long)st.retried,
              (unsigned long long)st.dead, (unsigned long long)st.filtered);
}

/* One pass: evaluation when due, then schedules, routing and deliveries
 * until nothing is due or a stop is asked. Errors are logged; a storage
 * error ends the pass, and the next pass tries again. */
static void serve_pass(serve *sv)
{
  wire_stats st = {0};
  char *err = NULL;
  int64_t now = serve_now(sv);
  ch_err rc;
  if(evaluation_due(sv, now)) {
    rc = wire_evaluate(sv->w, now, &st, &err);
    if(rc)
      serve_log(sv, "evaluate: %s", err ? err : certhub_strerror(rc));
    else
      sv->last_eval = now;
    free(err);
    err = NULL;
  }
  /* Findings retention (Security Hub keeps 90 days), once a UTC day. */
  if(now / 86400 != sv->last_prune / 86400) {
    uint64_t n = 0;
    rc = certhub_findings_prune(sv->store, now,
                                CERTHUB_FINDINGS_RETENTION_DAYS, &n);
    if(rc)
      serve_log(sv, "findings prune: %s", certhub_store_errmsg(sv->store));
    else {
      sv->last_prune = now;
      if(n)
        serve_log(sv, "%llu findings pruned (not updated for %d days)",
                  (unsigned long long)n, CERTHUB_FINDINGS_RETENTION_DAYS);
    }
  }
  bool more = true;
  while(more && !sv->stop) {
    rc = wire_step(sv->w, serve_now(sv), SERVE_STEP_DELIVERIES, &st, &more,
                   &err);
    if(rc) {
      serve_log(sv, "bus: %s", err ? err : certhub_strerror(rc));
      free(err);
      err = NULL;
      break;
    }
    serve_signals(sv);
  }
  serve_notify(sv);
  if(st.emitted || st.fired || st.routed || st.delivered || st.retried ||
     st.dead)
    serve_log(sv,
              "%llu events emitted, %llu schedules fired, %llu routed, "
              "%llu delivered, %llu to retry, %llu given up",
              (unsigned long long)st.emitted, (unsigned long long)st.fired,
              (unsigned long long)st.routed, (unsigned long long)st.delivered,
              (unsigned long long)st.retried, (unsigned long long)st.dead);
  stats_add(&sv->total, &st);
  if(!sv->stop)
    serve_hub_pass(&sv->hub, sv->store, sv->c->config, serve_now(sv),
                   serve_log, sv);
}

/* Milliseconds to sleep: until the next due instant, at most interval. */
static int serve_sleep_ms(serve *sv)
{
  int64_t due = INT64_MAX, now = serve_now(sv);
  int64_t ms = sv->interval_ms;
  if(wire_next_due(sv->w, &due) == CH_OK) {
    int64_t hub = serve_hub_next(&sv->hub);
    if(hub < due)
      due = hub;
  }
  if(due != INT64_MAX) {
    int64_t d = due <= now ? 0 : (due - now) * 1000;
    if(d < ms)
      ms = d;
  }
  int64_t nd = INT64_MAX;
  if(sv->ne &&
     (certhub_notify_engine_in_flight(sv->ne) ||
      (!certhub_notify_engine_next_due(sv->ne, &nd) && nd != INT64_MAX))) {
    int64_t d =
        certhub_notify_engine_in_flight(sv->ne) ? 0 : nd - certhub_now_ms();
    if(d < 0)
      d = 0;
    if(d < ms)
      ms = d;
  }
  if(sv->eval_every_ms && sv->last_eval) {
    int64_t e = (sv->last_eval - now) * 1000 + sv->eval_every_ms;
    if(e < 0)
      e = 0;
    if(e < ms)
      ms = e;
  }
  /* wake at the next UTC midnight for the day's evaluation */
  int64_t midnight = (now / 86400 + 1) * 86400;
  if((midnight - now) * 1000 < ms)
    ms = (midnight - now) * 1000;
  return ms < 0 ? 0 : (int)ms;
}

/* One daemon per database: two dispatchers would deliver the same outbox
 * rows twice. The lock is a file beside an SQLite database (flock, not
 * the database file itself: closing another descriptor of that file
 * would drop SQLite's own POSIX locks). */
static int serve_lock(serve *sv)
{
  const char *t = sv->c->db_target;
  if(!t || strstr(t, "://"))
    return 0;
  if(!strncmp(t, "sqlite:", 7))
    t += 7;
  char path[4096];
  if(snprintf(path, sizeof(path), "%s.serve.lock", t) >= (int)sizeof(path))
    return cli_fail(sv->c, CLI_EXIT_USAGE, "database path too long");
  sv->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if(sv->lockfd < 0)
    return cli_fail(sv->c, CLI_EXIT_INTERNAL, "cannot open %s: %s", path,
                    strerror(errno));
  if(flock(sv->lockfd, LOCK_EX | LOCK_NB) != 0) {
    if(errno == EWOULDBLOCK)
      return cli_fail(sv->c, CLI_EXIT_USAGE,
                      "another certhub serve is running on %s (%s is "
                      "locked)",
                      t, path);
    return cli_fail(sv->c, CLI_EXIT_INTERNAL, "cannot lock %s: %s", path,
                    strerror(errno));
  }
  return 0;
}

static int parse_dur(cli_ctx *c, const char *opt, const char *arg,
                     unsigned *ms)
{
  ch_err rc = certhub_duration_parse(arg, ms);
  if(rc)
    return cli_usage(c,
                     "%s: '%s' is not a duration over zero and of at "
                     "most an hour (e.g. 30s, 500ms, 5m)",
                     opt, arg);
  return 0;
}

int cmd_serve(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"once", no_argument, NULL, OPT_ONCE},
      {"interval", required_argument, NULL, OPT_INTERVAL},
      {"evaluate-every", required_argument, NULL, OPT_EVALUATE_EVERY},
      {"listen", required_argument, NULL, OPT_LISTEN},
      {"no-http", no_argument, NULL, OPT_NO_HTTP},
      {NULL, 0, NULL, 0},
  };
  serve sv = {.c = c,
              .sfd = -1,
              .lockfd = -1,
              .interval_ms = 60000,
              .eval_every_ms = 3600000};
  sigset_t set, old;
  bool masked = false;
  int r, code;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_ONCE:
      sv.once = true;
      break;
    case OPT_INTERVAL:
      if((code = parse_dur(c, "--interval", optarg, &sv.interval_ms)))
        return code;
      break;
    case OPT_EVALUATE_EVERY:
      if((code = parse_dur(c, "--evaluate-every", optarg, &sv.eval_every_ms)))
        return code;
      break;
    case OPT_LISTEN:
      sv.listen_opt = optarg;
      break;
    case OPT_NO_HTTP:
      sv.no_http = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  /* --now starts the daemon's clock at that instant; it then runs. */
  sv.offset = c->now - (int64_t)time(NULL);

  /* Signals first: from the moment the lock is held, SIGTERM drains. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if(sigprocmask(SIG_BLOCK, &set, &old) != 0) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "sigprocmask: %s", strerror(errno));
    goto out;
  }
  masked = true;
  sv.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if(sv.sfd < 0) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "signalfd: %s", strerror(errno));
    goto out;
  }
  if((code = cli_config(c, false)))
    goto out;
  /* The API's writer keeps its page cache (lib/http/server.c): its pages
   * in one region of huge pages, reserved before the first open. Without
   * the API no handle keeps a large cache. */
  if(!sv.no_http && certhub_store_reserve_cache(1))
    serve_log(NULL, "page cache region not reserved (SQLite already in use)");
  if((code = cli_open_store(c, &sv.store)))
    goto out;
  if((code = serve_lock(&sv)))
    goto out;
  ch_err wrc = serve_wire(&sv, c->config, &sv.w);
  if(wrc) {
    /* 2 for a configuration the rules reject, 3 when the store failed
     * (e.g. locked by another process past the busy timeout). */
    code = c->exit_code = cli_exit_for(wrc);
    goto out;
  }
  /* Topic deliveries share the loop's store handle (one thread). */
  if((code = cli_notify_setup(c, sv.store, &sv.nc)))
    goto out;
  serve_sns_pem(&sv, &sv.nc);
  serve_hub_config(&sv.hub, sv.store, c->config, serve_now(&sv), serve_log,
                   &sv);
  if(!c->quiet)
    serve_log(&sv, "started (pid %ld%s%s)", (long)getpid(),
              c->config_from_file ? ", config " : "",
              c->config_from_file ? c->config->file : "");
  /* After the store is open and locked: the API's own handles then find
   * the schema migrated. A listener that cannot start is an error (2: the
   * address or TLS files given are wrong). */
  if(!sv.once && (wrc = serve_http_start(&sv, c->config))) {
    /* The default listener is best effort (another service may hold
     * 127.0.0.1:8080); one asked for must work. */
    if(!sv.listen_opt && !c->config->http.listen &&
       !c->config->http.tls_cert_file && wrc == CH_ERR_IO)
      serve_log(&sv, "http: the API is off (use --listen or http.listen)");
    else {
      code = c->exit_code = wrc == CH_ERR_DB || wrc == CH_ERR_NOMEM
                                ? CLI_EXIT_INTERNAL
                                : CLI_EXIT_USAGE;
      goto out;
    }
  }
  /* After the API: messages link to its URL unless notify.base_url. */
  serve_notify_base(&sv, &sv.nc);
  serve_findings_base(&sv);
  sv.nc.cfg.log = serve_log;
  sv.nc.cfg.log_ctx = &sv;
  char *nwhy = NULL;
  ch_err nrc = certhub_notify_engine_new(sv.store, &sv.nc.cfg, &sv.ne, &nwhy);
  if(nrc) {
    code = cli_fail(c, cli_exit_for(nrc), "%s", nwhy ? nwhy : "topics");
    free(nwhy);
    goto out;
  }

  while(!sv.stop) {
    serve_pass(&sv);
    if(sv.once || sv.stop)
      break;
    struct pollfd pfd = {.fd = sv.sfd, .events = POLLIN};
    int n = poll(&pfd, 1, serve_sleep_ms(&sv));
    if(n < 0 && errno != EINTR) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "poll: %s", strerror(errno));
      goto out;
    }
    if(n > 0)
      serve_signals(&sv);
  }
  if(!c->quiet)
    serve_log(&sv,
              "stopped: %llu events emitted, %llu delivered, %llu to "
              "retry, %llu given up",
              (unsigned long long)sv.total.emitted,
              (unsigned long long)sv.total.delivered,
              (unsigned long long)sv.total.retried,
              (unsigned long long)sv.total.dead);
  code = 0;
out:
  /* Requests in flight finish before the store closes. */
  certhub_http_stop(sv.http);
  /* In-flight topic deliveries get a moment to finish and be recorded;
   * the rest stay pending for the next start (at least once). */
  certhub_notify_engine_free(sv.ne, 5000);
  cli_notify_free(&sv.nc);
  serve_hub_free(&sv.hub);
  free(sv.sns_pem);
  wire_free(sv.w);
  if(sv.sfd >= 0)
    close(sv.sfd);
  if(sv.lockfd >= 0)
    close(sv.lockfd); /* releases the flock */
  if(masked)
    sigprocmask(SIG_SETMASK, &old, NULL);
  certhub_store_close(sv.store);
  return code;
}
