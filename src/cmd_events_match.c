/*
 * certhub events match --rules RULES.json --events EVENTS.jsonl[.gz]
 *                      [--per-event] [--stats]
 *
 * Matches every event of a JSON Lines file (plain or gzip, told apart by
 * zlib) against every rule of RULES.json, an object of name -> event
 * pattern, with the compiled ruleset (include/certhub/ruleset.h).
 *
 * Output (stdout): {"rule": count, ...} with every rule, in the file's
 * order, 0 included; with --per-event instead one JSON line per event:
 * {"line": N, "rules": ["name", ...]} (N is the 1-based line number in the
 * file, rules in the file's order). Empty (or all-blank) lines are
 * skipped. The first bad event stops the run: exit 2 naming FILE:LINE and
 * the problem (lines already printed stay). A bad rule: exit 2 naming it.
 * --stats prints to stderr the events, the seconds spent matching (the
 * loop over the lines, without the time in reading and decompressing),
 * wall-clock and CPU, and events per second of each.
 *
 * Memory: the file is read in chunks, so it is bounded by the rules and
 * one event (at most CERTHUB_EVENT_MAX_LEN bytes per line).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <jansson.h>

#include "certhub/pattern.h"
#include "certhub/ruleset.h"
#include "cli.h"

enum { OPT_RULES = 0x100, OPT_EVENTS, OPT_PER_EVENT, OPT_STATS };

#define RULES_FILE_MAX (64u << 20)
#define CHUNK (1u << 20)

static double clock_s(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
  return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this process: on a shared machine, the time it ran. */
static double cpu_s(void)
{
  return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* Compile RULES.json into *rs; *names gets each rule's name as a JSON
 * string (for the output). Returns an exit code. */
static int load_rules(cli_ctx *c, const char *path, certhub_ruleset **rs,
                      char ***names)
{
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  int code = 0;
  if(!root) {
    /* jansson's text for a missing file names it and errno's reason */
    return cli_fail(c, CLI_EXIT_USAGE, "--rules %s: line %d column %d: %s",
                    path, jerr.line, jerr.column, jerr.text);
  }
  if(!json_is_object(root)) {
    json_decref(root);
    return cli_fail(c, CLI_EXIT_USAGE,
                    "--rules %s: expected an object of rule name -> event "
                    "pattern",
                    path);
  }
  if(certhub_ruleset_new(rs) != CH_OK ||
     !(*names = calloc(json_object_size(root) + 1, sizeof(char *)))) {
    json_decref(root);
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  }
  const char *name;
  json_t *pat;
  size_t i = 0;
  json_object_foreach(root, name, pat)
  {
    if(!json_is_object(pat)) {
      code = cli_fail(c, CLI_EXIT_USAGE,
                      "--rules %s: rule '%s': the pattern must be a JSON "
                      "object",
                      path, name);
      break;
    }
    /* The pattern is compiled from its compact text (same meaning). */
    char *text = json_dumps(pat, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *js = json_string(name);
    char *err = NULL;
    (*names)[i] = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    if(!text || !(*names)[i]) {
      free(text);
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      break;
    }
    ch_err e = certhub_ruleset_add(*rs, name, text, strlen(text), NULL, &err);
    free(text);
    if(e != CH_OK) {
      code = cli_fail(c, cli_exit_for(e), "--rules %s: rule '%s': %s", path,
                      name, err ? err : "out of memory");
      free(err);
      break;
    }
    i++;
  }
  json_decref(root);
  return code;
}

struct run {
  cli_ctx *c;
  const char *path;
  const certhub_ruleset *rs;
  certhub_match_scratch *sc;
  char **names;
  size_t *counts;
  bool per_event;
  size_t events;
};

/* One line (without its '\n'). Returns an exit code. */
static int one_line(struct run *r, const char *line, size_t len, size_t ln)
{
  size_t k = 0;
  while(k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
    k++;
  if(k == len)
    return 0; /* blank */
  const size_t *mv;
  size_t nm;
  char *err = NULL;
  ch_err e = certhub_ruleset_match(r->rs, r->sc, line, len, &mv, &nm, &err);
  if(e != CH_OK) {
    int code =
        cli_fail(r->c, e == CH_ERR_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE,
                 "%s:%zu: %s", r->path, ln, err ? err : certhub_strerror(e));
    free(err);
    return code;
  }
  r->events++;
  for(size_t i = 0; i < nm; i++)
    r->counts[mv[i]]++;
  if(r->per_event) {
    printf("{\"line\":%zu,\"rules\":[", ln);
    for(size_t i = 0; i < nm; i++) {
      if(i)
        putchar(',');
      fputs(r->names[mv[i]], stdout);
    }
    fputs("]}\n", stdout);
  }
  return 0;
}

/* Read the file in chunks, matching whole lines. *read_s gets the time
 * spent in gzread. Returns an exit code. */
static int run_file(struct run *r, gzFile gz, double *read_s, double *read_cpu)
{
  size_t cap = CHUNK + CERTHUB_EVENT_MAX_LEN + 2, have = 0, ln = 0;
  char *buf = malloc(cap);
  int code = 0;
  bool eof = false;
  if(!buf)
    return cli_fail(r->c, CLI_EXIT_INTERNAL, "out of memory");
  while(!code) {
    if(!eof) {
      double t0 = now_s(), c0 = cpu_s();
      int n = gzread(gz, buf + have, (unsigned)(cap - have - 1));
      *read_s += now_s() - t0;
      *read_cpu += cpu_s() - c0;
      if(n < 0) {
        int zerr;
        const char *msg = gzerror(gz, &zerr);
        code = cli_fail(r->c, CLI_EXIT_USAGE, "--events %s: %s", r->path,
                        zerr == Z_ERRNO ? strerror(errno) : msg);
        break;
      }
      if(n == 0) {
        /* zlib reports a gzip stream cut short only here (Z_BUF_ERROR at
         * end of input): without this check a truncated download counts
         * fewer events, or blames a half line's JSON. */
        int zerr = Z_OK;
        (void)gzerror(gz, &zerr);
        if(zerr == Z_BUF_ERROR) {
          code = cli_fail(r->c, CLI_EXIT_USAGE,
                          "--events %s: gzip data ends early (truncated "
                          "file?) after line %zu",
                          r->path, ln);
          break;
        }
        eof = true;
      }
      have += (size_t)n;
    }
    size_t start = 0;
    for(;;) {
      char *nl = memchr(buf + start, '\n', have - start);
      if(!nl)
        break;
      size_t len = (size_t)(nl - (buf + start));
      code = one_line(r, buf + start, len, ++ln);
      if(code)
        break;
      start += len + 1;
    }
    if(code)
      break;
    if(eof) {
      if(start < have) /* a last line without '\n' */
        code = one_line(r, buf + start, have - start, ++ln);
      break;
    }
    memmove(buf, buf + start, have - start);
    have -= start;
    if(have > CERTHUB_EVENT_MAX_LEN) {
      code = cli_fail(r->c, CLI_EXIT_USAGE,
                      "%s:%zu: event: longer than the limit of %d bytes",
                      r->path, ln + 1, CERTHUB_EVENT_MAX_LEN);
      break;
    }
  }
  free(buf);
  return code;
}

int cmd_events_match(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"rules", required_argument, NULL, OPT_RULES},
      {"events", required_argument, NULL, OPT_EVENTS},
      {"per-event", no_argument, NULL, OPT_PER_EVENT},
      {"stats", no_argument, NULL, OPT_STATS},
      {NULL, 0, NULL, 0},
  };
  const char *rules = NULL, *events = NULL;
  bool per_event = false, stats = false;
  int r;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_RULES:
      rules = optarg;
      break;
    case OPT_EVENTS:
      events = optarg;
      break;
    case OPT_PER_EVENT:
      per_event = true;
      break;
    case OPT_STATS:
      stats = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(!rules || !events)
    return cli_usage(c, "events match needs --rules and --events");

  certhub_ruleset *rs = NULL;
  char **names = NULL;
  gzFile gz = NULL;
  struct run run = {c, events, NULL, NULL, NULL, NULL, per_event, 0};
  int code = load_rules(c, rules, &rs, &names);
  if(code)
    goto out;
  size_t n = certhub_ruleset_count(rs);
  run.rs = rs;
  run.names = names;
  if(certhub_match_scratch_new(&run.sc) != CH_OK ||
     !(run.counts = calloc(n + 1, sizeof(*run.counts)))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if(!(gz = gzopen(events, "rb"))) {
    code = cli_fail(c, CLI_EXIT_USAGE, "--events %s: cannot open: %s", events,
                    errno ? strerror(errno) : "out of memory");
    goto out;
  }
  gzbuffer(gz, 1u << 18);
  double read_s = 0, read_cpu = 0, t0 = now_s(), c0 = cpu_s();
  code = run_file(&run, gz, &read_s, &read_cpu);
  double match_s = now_s() - t0 - read_s;
  double match_cpu = cpu_s() - c0 - read_cpu;
  if(code)
    goto out;
  if(stats)
    fprintf(stderr,
            "events %zu rules %zu match_seconds %.6f events_per_s %.0f "
            "match_cpu_seconds %.6f events_per_cpu_s %.0f read_seconds "
            "%.6f\n",
            run.events, n, match_s,
            match_s > 0 ? (double)run.events / match_s : 0.0, match_cpu,
            match_cpu > 0 ? (double)run.events / match_cpu : 0.0, read_s);
  if(!per_event) {
    fputs("{", stdout);
    for(size_t i = 0; i < n; i++)
      printf("%s\n  %s: %zu", i ? "," : "", names[i], run.counts[i]);
    fputs(n ? "\n}\n" : "}\n", stdout);
  }
out:
  if(gz)
    gzclose(gz);
  if(names)
    for(size_t i = 0; names[i]; i++)
      free(names[i]);
  free(names);
  free(run.counts);
  certhub_match_scratch_free(run.sc);
  certhub_ruleset_free(rs);
  return code;
}
