/*
 * The event bus's moving parts: routing archived events into the outbox,
 * firing schedules, dispatching outbox rows with retries and the
 * dead-letter queue, and archive retention.
 *
 * Crash safety: routing marks an event routed in the same transaction
 * that adds its outbox rows, and the outbox's unique key (event, bus,
 * rule, target) makes a re-run after a crash add nothing twice. A schedule
 * fire (event, outbox rows, next fire time) is one transaction with a
 * dedupe key of the rule and fire time. Dispatch records a row's outcome
 * only after the delivery callback returned: at-least-once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bus_int.h"
#include "certhub/ruleset.h"
#include "certhub/schedule.h"

#define DISPATCH_DEFAULT_MAX 1000
#define ERRLEN 512

/* ---- the matcher ----------------------------------------------------------
 */

/* The enabled pattern rules of every bus, compiled once per route call
 * into one ruleset (include/certhub/ruleset.h): an event is read once,
 * whatever the number of rules. Rule i of the set is r[i]. */
typedef struct route_rule {
  char *bus;
  char *name;
  json_t *targets; /* array */
} route_rule;

typedef struct route_set {
  route_rule *r;
  size_t n, alloc;
  certhub_ruleset *rules;
  certhub_match_scratch *scratch;
} route_set;

static void route_set_free(route_set *rs)
{
  for(size_t i = 0; i < rs->n; i++) {
    free(rs->r[i].bus);
    free(rs->r[i].name);
    json_decref(rs->r[i].targets);
  }
  free(rs->r);
  certhub_ruleset_free(rs->rules);
  certhub_match_scratch_free(rs->scratch);
  memset(rs, 0, sizeof(*rs));
}

static ch_err load_rule(void *ctx, const certhub_bus_rule *r)
{
  route_set *rs = ctx;
  if(!r->enabled || !r->pattern)
    return CH_OK;
  if(rs->n == rs->alloc) {
    size_t na = rs->alloc ? rs->alloc * 2 : 16;
    route_rule *nr = realloc(rs->r, na * sizeof(*nr));
    if(!nr)
      return CH_ERR_NOMEM;
    rs->r = nr;
    rs->alloc = na;
  }
  route_rule *rr = &rs->r[rs->n];
  memset(rr, 0, sizeof(*rr));
  rr->targets = json_loads(r->targets, 0, NULL);
  rr->bus = strdup(r->bus);
  rr->name = strdup(r->name);
  ch_err rc = CH_OK;
  if(!json_is_array(rr->targets) || !rr->bus || !rr->name) {
    rc = json_is_array(rr->targets) || !rr->targets ? CH_ERR_NOMEM : CH_OK;
    goto drop;
  }
  /* Stored rules were validated at put; one that no longer compiles (a
   * newer, stricter certhub) is skipped rather than blocking the bus. */
  size_t index = 0;
  rc = certhub_ruleset_add(rs->rules, r->name, r->pattern, strlen(r->pattern),
                           &index, NULL);
  if(rc) {
    rc = rc == CH_ERR_NOMEM ? rc : CH_OK;
    goto drop;
  }
  if(index != rs->n) { /* the set and r[] grow together */
    rc = CH_ERR_INTERNAL;
    goto drop;
  }
  rs->n++;
  return CH_OK;
drop:
  json_decref(rr->targets);
  free(rr->bus);
  free(rr->name);
  return rc;
}

typedef ch_err (*match_hit)(void *ctx, const route_rule *r);

/* Every rule of bus that the event text matches, in (bus, name) order,
 * through hit: one pass of the compiled ruleset over the event for all
 * the rules, then the other buses' rules are dropped. */
static ch_err bus_match(const route_set *rs, const char *bus,
                        const char *event, size_t len, match_hit hit,
                        void *ctx, uint64_t *errors)
{
  const size_t *idx = NULL;
  size_t n = 0;
  ch_err rc = certhub_ruleset_match(rs->rules, rs->scratch, event, len, &idx,
                                    &n, NULL);
  if(rc == CH_ERR_NOMEM)
    return rc;
  if(rc) {
    /* The envelope was rendered by certhub_bus_put; one that is too large
     * or complex (or was edited by hand) matches nothing. */
    (*errors)++;
    return CH_OK;
  }
  /* The indices are increasing, so hits come in (bus, name) order. */
  for(size_t i = 0; i < n; i++) {
    const route_rule *r = &rs->r[idx[i]];
    if(strcmp(r->bus, bus))
      continue;
    if((rc = hit(ctx, r)))
      return rc;
  }
  return CH_OK;
}

/* ---- routing --------------------------------------------------------------
 */

typedef struct pending_event {
  int64_t seq;
  char *bus;
  char *envelope;
} pending_event;

typedef struct batch {
  pending_event e[CERTHUB_ROUTE_BATCH];
  size_t n;
} batch;

static void batch_free(batch *b)
{
  for(size_t i = 0; i < b->n; i++) {
    free(b->e[i].bus);
    free(b->e[i].envelope);
  }
  b->n = 0;
}

static ch_err take_event(void *ctx, const certhub_bus_event_rec *e)
{
  batch *b = ctx;
  if(b->n >= CERTHUB_ROUTE_BATCH)
    return CH_ERR_INTERNAL;
  pending_event *p = &b->e[b->n];
  p->seq = e->seq;
  p->bus = strdup(e->bus);
  p->envelope = strdup(e->envelope);
  b->n++;
  return p->bus && p->envelope ? CH_OK : CH_ERR_NOMEM;
}

typedef struct enqueue_ctx {
  certhub_store *s;
  int64_t seq;
  int64_t now;
  certhub_bus_stats *st;
} enqueue_ctx;

/* Outbox rows for every target of r. */
static ch_err enqueue(certhub_store *s, int64_t seq, const char *bus,
                      const char *rule, const json_t *targets, int64_t now,
                      certhub_bus_stats *st)
{
  for(size_t i = 0; i < json_array_size(targets); i++) {
    const json_t *t = json_array_get(targets, i);
    const char *id = json_string_value(json_object_get(t, "Id"));
    char *text = json_dumps(t, JSON_COMPACT);
    bool added = false;
    if(!text)
      return certhub_store_set_error(s, CH_ERR_NOMEM, "out of memory");
    ch_err rc = certhub_store_outbox_add(s, seq, bus, rule, id ? id : "", text,
                                         now, &added);
    free(text);
    if(rc)
      return rc;
    if(added)
      st->enqueued++;
  }
  return CH_OK;
}

static ch_err on_hit(void *ctx, const route_rule *r)
{
  enqueue_ctx *q = ctx;
  q->st->matched++;
  return enqueue(q->s, q->seq, r->bus, r->name, r->targets, q->now, q->st);
}

static ch_err route_batch(certhub_store *s, const route_set *rs, batch *b,
                          int64_t now, certhub_bus_stats *st)
{
  ch_err rc = certhub_store_begin(s);
  if(rc)
    return rc;
  for(size_t i = 0; !rc && i < b->n; i++) {
    pending_event *p = &b->e[i];
    enqueue_ctx q = {s, p->seq, now, st};
    /* An event that matches nothing is still marked routed. */
    rc = bus_match(rs, p->bus, p->envelope, strlen(p->envelope), on_hit, &q,
                   &st->match_errors);
    if(!rc)
      rc = certhub_store_event_routed(s, p->seq);
    if(!rc)
      st->routed++;
  }
  if(!rc)
    return certhub_store_commit(s);
  char keep[512];
  snprintf(keep, sizeof(keep), "%s", certhub_store_errmsg(s));
  certhub_store_rollback(s);
  certhub_store_set_error(s, rc, "%s", keep);
  return rc;
}

ch_err certhub_bus_route(certhub_store *s, int64_t now,
                         certhub_bus_stats *stats)
{
  route_set rs = {0};
  certhub_bus_stats local = {0};
  batch *b = NULL;
  if(!s)
    return CH_ERR_USAGE;
  certhub_bus_stats *st = stats ? stats : &local;
  ch_err rc = CH_OK;
  if(!(b = calloc(1, sizeof(*b)))) {
    rc = certhub_store_set_error(s, CH_ERR_NOMEM, "out of memory");
    goto out;
  }
  for(;;) {
    rc = certhub_store_events_unrouted(s, CERTHUB_ROUTE_BATCH, take_event, b);
    /* The rules are compiled only when there is something to route: the
     * daemon calls this on every pass. */
    if(!rc && b->n && !rs.rules) {
      rc = certhub_ruleset_new(&rs.rules);
      if(!rc)
        rc = certhub_match_scratch_new(&rs.scratch);
      if(!rc)
        rc = certhub_store_rule_list(s, NULL, load_rule, &rs);
    }
    if(!rc && b->n)
      rc = route_batch(s, &rs, b, now, st);
    size_t n = b->n;
    batch_free(b);
    if(rc || n < CERTHUB_ROUTE_BATCH)
      break;
  }
out:
  if(rc == CH_ERR_NOMEM && !*certhub_store_errmsg(s))
    certhub_store_set_error(s, rc, "out of memory");
  free(b);
  route_set_free(&rs);
  return rc;
}

/* ---- schedules ------------------------------------------------------------
 */

typedef struct due_rule {
  char *bus, *name, *schedule, *targets;
  int64_t next_fire;
} due_rule;

typedef struct due_list {
  due_rule *r;
  size_t n, alloc;
  int64_t now;
} due_list;

static ch_err collect_due(void *ctx, const certhub_bus_rule *r)
{
  due_list *d = ctx;
  if(!r->enabled || !r->schedule || r->next_fire <= 0 || r->next_fire > d->now)
    return CH_OK;
  if(d->n == d->alloc) {
    size_t na = d->alloc ? d->alloc * 2 : 8;
    due_rule *nr = realloc(d->r, na * sizeof(*nr));
    if(!nr)
      return CH_ERR_NOMEM;
    d->r = nr;
    d->alloc = na;
  }
  due_rule *x = &d->r[d->n++];
  x->bus = strdup(r->bus);
  x->name = strdup(r->name);
  x->schedule = strdup(r->schedule);
  x->targets = strdup(r->targets);
  x->next_fire = r->next_fire;
  return x->bus && x->name && x->schedule && x->targets ? CH_OK : CH_ERR_NOMEM;
}

static ch_err fire_one(certhub_store *s, const due_rule *r, int64_t now,
                       const certhub_bus_schedule_hook *hook,
                       certhub_bus_stats *st)
{
  char *detail = NULL, *arn = NULL, *dedupe = NULL;
  certhub_schedule *sc = NULL;
  json_t *targets = NULL;
  int64_t next = 0, seq = 0;
  bool stored = false, in_tx = false;
  char id[37];
  ch_err rc = CH_OK;

  if(hook && hook->detail_for) {
    rc = hook->detail_for(hook->ctx, r->name, r->bus, &detail);
    if(rc) {
      certhub_store_set_error(s, rc,
                              "rule %s: the scheduled event's detail: %s",
                              r->name, certhub_strerror(rc));
      goto out;
    }
  }
  rc = certhub_schedule_parse(r->schedule, &sc, NULL);
  if(!rc) {
    rc = certhub_schedule_next(sc, now, &next);
    if(rc == CH_ERR_NOTFOUND) {
      next = 0; /* never again */
      rc = CH_OK;
    }
  }
  if(rc) {
    certhub_store_set_error(s, rc, "rule %s: schedule '%s': %s", r->name,
                            r->schedule, certhub_strerror(rc));
    goto out;
  }
  arn = certhub_bus_rule_arn(hook ? hook->region : NULL,
                             hook ? hook->account : NULL, r->bus, r->name);
  targets = json_loads(r->targets, 0, NULL);
  int n = snprintf(NULL, 0, "schedule:%s/%s:%lld", r->bus, r->name,
                   (long long)r->next_fire);
  dedupe = n > 0 ? malloc((size_t)n + 1) : NULL;
  if(!arn || !targets || !dedupe) {
    rc = certhub_store_set_error(s, CH_ERR_NOMEM, "out of memory");
    goto out;
  }
  snprintf(dedupe, (size_t)n + 1, "schedule:%s/%s:%lld", r->bus, r->name,
           (long long)r->next_fire);
  const char *res[1] = {arn};
  certhub_event ev = {
      .bus = r->bus,
      .source = "aws.events",
      .detail_type = CERTHUB_DT_SCHEDULED,
      .account = hook ? hook->account : NULL,
      .region = hook ? hook->region : NULL,
      .time = r->next_fire,
      .resources = res,
      .n_resources = 1,
      .detail = detail ? detail : "{}",
      .dedupe_key = dedupe,
  };
  if((rc = certhub_store_begin(s)))
    goto out;
  in_tx = true;
  /* A detail from the hook is certhub's own batch (every expiring
   * certificate): it may exceed PutEvents' 256 KiB, up to the internal
   * cap; targets with a smaller limit (topics) cut it themselves. */
  rc = ch_bus_put(s, &ev, now, detail ? CERTHUB_BATCH_EVENT_MAX : 0, id,
                  &stored, &seq);
  /* The scheduled event goes to its own rule only: enqueue directly and
   * mark it routed so the pattern rules never see it. */
  if(!rc && stored)
    rc = enqueue(s, seq, r->bus, r->name, targets, now, st);
  if(!rc && stored)
    rc = certhub_store_event_routed(s, seq);
  if(!rc)
    rc = certhub_store_rule_fired(s, r->bus, r->name, r->next_fire, next);
  if(!rc) {
    rc = certhub_store_commit(s);
    in_tx = false;
    if(!rc && stored)
      st->fired++;
  }
out:
  if(in_tx) {
    char keep[512];
    snprintf(keep, sizeof(keep), "%s", certhub_store_errmsg(s));
    certhub_store_rollback(s);
    certhub_store_set_error(s, rc, "%s", keep);
  }
  json_decref(targets);
  certhub_schedule_free(sc);
  free(detail);
  free(arn);
  free(dedupe);
  return rc;
}

ch_err certhub_bus_fire_schedules(certhub_store *s, int64_t now,
                                  const certhub_bus_schedule_hook *hook,
                                  certhub_bus_stats *stats)
{
  due_list d = {.now = now};
  certhub_bus_stats local = {0};
  if(!s)
    return CH_ERR_USAGE;
  ch_err rc = certhub_store_rule_list(s, NULL, collect_due, &d);
  for(size_t i = 0; !rc && i < d.n; i++)
    rc = fire_one(s, &d.r[i], now, hook, stats ? stats : &local);
  for(size_t i = 0; i < d.n; i++) {
    free(d.r[i].bus);
    free(d.r[i].name);
    free(d.r[i].schedule);
    free(d.r[i].targets);
  }
  free(d.r);
  if(rc == CH_ERR_NOMEM && !*certhub_store_errmsg(s))
    certhub_store_set_error(s, rc, "out of memory");
  return rc;
}

/* ---- dispatch -------------------------------------------------------------
 */

typedef struct due_row {
  int64_t id;
  char *bus, *rule, *target, *event;
  char *key;        /* bus \n rule \n target Id: the breaker's key */
  char *last_error; /* kept as is when the row is postponed */
  unsigned attempts;
  int64_t ingested_at, last_attempt_at;
} due_row;

typedef struct due_rows {
  due_row *r;
  size_t n, cap;
} due_rows;

static ch_err take_row(void *ctx, const certhub_bus_outbox_row *o)
{
  due_rows *d = ctx;
  if(d->n >= d->cap)
    return CH_ERR_INTERNAL;
  due_row *x = &d->r[d->n++];
  x->id = o->id;
  x->attempts = o->attempts;
  x->ingested_at = o->ingested_at;
  x->bus = strdup(o->bus);
  x->rule = strdup(o->rule);
  x->target = strdup(o->target);
  x->event = strdup(o->event ? o->event : "");
  x->last_error = strdup(o->last_error ? o->last_error : "");
  x->last_attempt_at = o->last_attempt_at;
  if(asprintf(&x->key, "%s\n%s\n%s", o->bus, o->rule,
              o->target_id ? o->target_id : "") < 0)
    x->key = NULL;
  return x->bus && x->rule && x->target && x->event && x->last_error && x->key
             ? CH_OK
             : CH_ERR_NOMEM;
}

/* ---- breaker: see certhub_bus_dispatch_guarded --------------------------
 */

typedef struct brk {
  char *key;
  unsigned fails;     /* consecutive retryable failures */
  int64_t open_until; /* its other rows wait until then */
} brk;

struct certhub_bus_breaker {
  brk *v;
  size_t n;
};

certhub_bus_breaker *certhub_bus_breaker_new(void)
{
  certhub_bus_breaker *b = calloc(1, sizeof(*b));
  if(b && !(b->v = calloc(CERTHUB_BUS_BREAKER_MAX, sizeof(*b->v)))) {
    free(b);
    b = NULL;
  }
  return b;
}

void certhub_bus_breaker_free(certhub_bus_breaker *b)
{
  if(!b)
    return;
  for(size_t i = 0; i < b->n; i++)
    free(b->v[i].key);
  free(b->v);
  free(b);
}

static brk *brk_find(certhub_bus_breaker *b, const char *key)
{
  for(size_t i = 0; b && i < b->n; i++)
    if(!strcmp(b->v[i].key, key))
      return &b->v[i];
  return NULL;
}

static void brk_close(certhub_bus_breaker *b, const char *key)
{
  brk *e = brk_find(b, key);
  if(!e)
    return;
  free(e->key);
  *e = b->v[--b->n];
}

/* Exponential backoff with equal jitter before attempt number
 * attempts + 1: d = 1 s * 2^(attempts-1), capped at 5 min; the wait is
 * uniform in [d/2, d] (at least 1 s). */
static int64_t backoff(unsigned attempts)
{
  unsigned sh = attempts > 0 ? attempts - 1 : 0;
  int64_t d =
      sh >= 16 ? CERTHUB_BACKOFF_CAP : (int64_t)CERTHUB_BACKOFF_FIRST << sh;
  if(d > CERTHUB_BACKOFF_CAP)
    d = CERTHUB_BACKOFF_CAP;
  uint32_t r = 0;
  if(RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    r = 0;
  int64_t lo = d / 2;
  int64_t w = lo + (int64_t)(r % (uint32_t)(d - lo + 1));
  return w < 1 ? 1 : w;
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A retryable failure of key's target: open (longer each time) until the
 * returned instant; 0 when the table is full (no breaker). now is the
 * pass's instant, from before the attempt: the wait starts after it. */
static int64_t brk_fail(certhub_bus_breaker *b, const char *key, int64_t now)
{
  brk *e = brk_find(b, key);
  if(!e && b->n == CERTHUB_BUS_BREAKER_MAX) {
    /* make room: targets whose wait is long over */
    for(size_t i = 0; i < b->n;)
      if(b->v[i].open_until + CERTHUB_BACKOFF_CAP < now) {
        free(b->v[i].key);
        b->v[i] = b->v[--b->n];
      }
      else
        i++;
  }
  if(!e && b->n < CERTHUB_BUS_BREAKER_MAX) {
    char *k = strdup(key);
    if(!k)
      return 0;
    e = &b->v[b->n++];
    *e = (brk){k, 0, 0};
  }
  if(!e)
    return 0;
  if(e->fails < 64)
    e->fails++;
  e->open_until = now + backoff(e->fails);
  return e->open_until;
}

static ch_err give_up(certhub_store *s, const due_row *r,
                      const ch_bus_policy *pol, unsigned attempts,
                      const char *why, int64_t now, certhub_bus_stats *st)
{
  const char *state =
      pol->dead_letter ? CERTHUB_OUTBOX_DEAD : CERTHUB_OUTBOX_FAILED;
  ch_err rc = certhub_store_outbox_set(s, r->id, state, attempts, 0, why, now);
  if(!rc) {
    if(pol->dead_letter)
      st->dead++;
    else
      st->dropped++;
  }
  return rc;
}

static ch_err dispatch_one(certhub_store *s, const due_row *r, int64_t now,
                           certhub_bus_deliver_cb deliver, void *ctx,
                           certhub_bus_breaker *br, certhub_bus_stats *st,
                           bool *skipped)
{
  ch_bus_policy pol;
  char why[ERRLEN];
  json_t *t = json_loads(r->target, 0, NULL);
  ch_err rc = ch_bus_policy_parse(t, &pol, why, sizeof(why));
  json_decref(t);
  if(rc) /* a snapshot validated at put: only a hand-edited one */
    return certhub_store_outbox_set(s, r->id, CERTHUB_OUTBOX_FAILED,
                                    r->attempts, 0, why, now);
  if(now - r->ingested_at > pol.max_age) {
    snprintf(why, sizeof(why),
             "event older than MaximumEventAgeInSeconds (%lld s)",
             (long long)pol.max_age);
    return give_up(s, r, &pol, r->attempts, why, now, st);
  }
  certhub_bus_delivery res = CERTHUB_BUS_RETRY;
  char *detail = NULL;
  st->attempted++;
  int64_t t0 = mono_ms();
  ch_err cbrc = deliver(ctx, r->rule, r->bus, r->target, r->event,
                        strlen(r->event), &res, &detail);
  /* a slow failure (a timeout) must not use up the target's wait */
  int64_t spent = (mono_ms() - t0 + 999) / 1000;
  if(!cbrc && res == CERTHUB_BUS_SKIPPED) { /* untouched, due as before */
    st->attempted--;
    *skipped = true;
    free(detail);
    return CH_OK;
  }
  if(cbrc) {
    res = CERTHUB_BUS_RETRY;
    if(!detail) {
      snprintf(why, sizeof(why), "delivery error: %s", certhub_strerror(cbrc));
      detail = strdup(why);
    }
  }
  unsigned attempts = r->attempts + 1;
  const char *err = detail ? detail : "";
  switch(res) {
  case CERTHUB_BUS_DELIVERED:
    rc = certhub_store_outbox_set(s, r->id, CERTHUB_OUTBOX_DELIVERED, attempts,
                                  0, "", now);
    if(!rc)
      st->delivered++;
    brk_close(br, r->key);
    break;
  case CERTHUB_BUS_FAILED:
    snprintf(why, sizeof(why), "failed: %s", err);
    rc = give_up(s, r, &pol, attempts, why, now, st);
    break;
  default: {
    int64_t next = now + backoff(attempts);
    /* The target's other rows wait until open; this one goes after them,
     * so one event that keeps failing does not hold up the rest. */
    int64_t open = br ? brk_fail(br, r->key, now + spent) : 0;
    if(open && next <= open)
      next = open + 1;
    /* attempts counts every try; retries are attempts - 1. */
    if(attempts > pol.max_retries) {
      snprintf(why, sizeof(why),
               "retries exhausted (MaximumRetryAttempts %u): %s",
               pol.max_retries, err);
      rc = give_up(s, r, &pol, attempts, why, now, st);
    }
    else if(next - r->ingested_at > pol.max_age) {
      snprintf(why, sizeof(why),
               "event would be older than MaximumEventAgeInSeconds (%lld "
               "s) at the next retry: %s",
               (long long)pol.max_age, err);
      rc = give_up(s, r, &pol, attempts, why, now, st);
    }
    else {
      rc = certhub_store_outbox_set(s, r->id, CERTHUB_OUTBOX_PENDING, attempts,
                                    next, err, now);
      if(!rc)
        st->retried++;
    }
  }
  }
  free(detail);
  return rc;
}

ch_err certhub_bus_dispatch(certhub_store *s, int64_t now,
                            certhub_bus_deliver_cb deliver, void *ctx,
                            size_t max, certhub_bus_stats *stats)
{
  return certhub_bus_dispatch_guarded(s, now, deliver, ctx, max, NULL, stats);
}

ch_err certhub_bus_dispatch_guarded(certhub_store *s, int64_t now,
                                    certhub_bus_deliver_cb deliver, void *ctx,
                                    size_t max, certhub_bus_breaker *br,
                                    certhub_bus_stats *stats)
{
  certhub_bus_stats local = {0};
  due_rows d = {0};
  if(!s || !deliver)
    return CH_ERR_USAGE;
  d.cap = max ? max : DISPATCH_DEFAULT_MAX;
  if(!(d.r = calloc(d.cap, sizeof(*d.r))))
    return certhub_store_set_error(s, CH_ERR_NOMEM, "out of memory");
  ch_err rc = certhub_store_outbox_due(s, now, d.cap, take_row, &d);
  bool skipped = false;
  certhub_bus_stats *st = stats ? stats : &local;
  for(size_t i = 0; !rc && !skipped && i < d.n; i++) {
    const due_row *r = &d.r[i];
    brk *e = brk_find(br, r->key);
    if(e && e->open_until > now) {
      /* its target is failing: wait with it, nothing else changes */
      rc = certhub_store_outbox_set(s, r->id, CERTHUB_OUTBOX_PENDING,
                                    r->attempts, e->open_until, r->last_error,
                                    r->last_attempt_at);
      if(!rc)
        st->postponed++;
      continue;
    }
    rc = dispatch_one(s, r, now, deliver, ctx, br, st, &skipped);
  }
  for(size_t i = 0; i < d.n; i++) {
    free(d.r[i].bus);
    free(d.r[i].rule);
    free(d.r[i].target);
    free(d.r[i].event);
    free(d.r[i].key);
    free(d.r[i].last_error);
  }
  free(d.r);
  if(rc == CH_ERR_NOMEM && !*certhub_store_errmsg(s))
    certhub_store_set_error(s, rc, "out of memory");
  return rc;
}

ch_err certhub_bus_next_due(certhub_store *s, int64_t *when, bool *found)
{
  return certhub_store_bus_next_due(s, when, found);
}

/* ---- dead-letter queue, retention ----------------------------------------
 */

ch_err certhub_bus_dlq_redrive(certhub_store *s, int64_t id, int64_t now,
                               uint64_t *n)
{
  return certhub_store_outbox_redrive(s, id, now, n);
}

ch_err certhub_bus_dlq_purge(certhub_store *s, int64_t id, uint64_t *n)
{
  return certhub_store_outbox_purge(s, id, n);
}

ch_err certhub_bus_prune(certhub_store *s, int64_t now,
                         unsigned retention_days, uint64_t *n_deleted)
{
  unsigned days =
      retention_days ? retention_days : CERTHUB_EVENT_RETENTION_DAYS;
  return certhub_store_event_prune(s, now - (int64_t)days * 86400, n_deleted);
}
