/*
 * certhub: the command table, global options and the helpers every
 * command shares. Each command group lives in its own cmd_*.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define GLOBAL_OPTIONS                                                        \
  "Global options (before or after the command):\n"                           \
  "  --db PATH            inventory database (env CERTHUB_DB)\n"              \
  "  --config FILE        configuration file (env CERTHUB_CONFIG)\n"          \
  "  --now RFC3339        evaluate expiry at this instant (env "              \
  "CERTHUB_NOW)\n"                                                            \
  "  -o, --output FORMAT  table, json or csv\n"                               \
  "  --color WHEN         auto, always or never\n"                            \
  "  -q, --quiet          no summaries on stderr\n"                           \
  "  -h, --help           show help\n"                                        \
  "      --version        show the version\n"

static int cmd_help(cli_ctx *c, int argc, char **argv);

static const cli_cmd commands[] = {
    {"import", cmd_import, "read certificates from files into the inventory",
     "Usage: certhub import [OPTIONS] [PATH...]\n"
     "\n"
     "Import certificates from files, directories and globs (PEM, DER,\n"
     "PKCS#7, PKCS#12); '-' reads stdin. Without PATH, import the sources of\n"
     "the configuration file.\n"
     "\n"
     "  --tag KEY=VALUE      tag every imported certificate (repeatable)\n"
     "  --account ID         12-digit account label\n"
     "  --region REGION      region label\n"
     "  --exclude GLOB       skip matching paths (repeatable)\n"
     "  --password-file F    PKCS#12 password: the first line of F\n"
     "  --batch-size N       certificates per transaction (default 5000)\n"},
    {"list", cmd_list, "list certificates, soonest expiry first",
     "Usage: certhub list [OPTIONS]\n"
     "\n"
     "  --expiring-within DAYS  not expired, expiring within DAYS days\n"
     "  --expired               expired certificates only\n"
     "  --status STATUS         ISSUED, EXPIRED or INACTIVE\n"
     "  --tag KEY[=VALUE]       tag present (with that value; repeatable)\n"
     "  --issuer TEXT           issuer contains TEXT\n"
     "  --search TEXT           CN, SAN, subject, serial, ID or source\n"
     "                          contains TEXT\n"
     "  --limit N               at most N certificates\n"},
    {"describe", cmd_describe, "show every detail of certificates",
     "Usage: certhub describe REF\n"
     "\n"
     "REF is an ID or ID prefix, a SHA-256 or SHA-1 fingerprint, an ARN or a\n"
     "file path (every certificate seen there).\n"},
    {"tag", cmd_tag, "set or remove tags on a certificate",
     "Usage: certhub tag REF KEY=VALUE... [--remove KEY]...\n"
     "\n"
     "  --remove KEY         remove the tag KEY (repeatable)\n"},
    {"delete", cmd_delete, "delete a certificate from the inventory",
     "Usage: certhub delete REF\n"},
    {"export", cmd_export, "write a certificate as PEM or DER",
     "Usage: certhub export REF [--chain] [--der] [-O FILE]\n"
     "\n"
     "  --chain              append the issuers found in the inventory\n"
     "  --der                one certificate in binary DER\n"
     "  -O, --out FILE       write to FILE instead of stdout\n"},
    {"check", cmd_check, "fail when certificates in files expire soon (CI)",
     "Usage: certhub check --fail-within DAYS [-v] PATH...\n"
     "\n"
     "Read certificates from files without a database; exit 1 when any\n"
     "expires within DAYS days (or has expired), 2 on unreadable input.\n"
     "\n"
     "  --fail-within DAYS   threshold in days\n"
     "  -v, --verbose        print every certificate, not only failing "
     "ones\n"},
    {"config", cmd_config, "validate the configuration file",
     "Usage: certhub config check\n"},
    {"probe", cmd_probe, "fetch and record the chains of live TLS endpoints",
     "Usage: certhub probe [OPTIONS] [TARGET...]\n"
     "\n"
     "TARGET: host, host:port, [v6]:port, https://host[:port]/path,\n"
     "smtp:// submission:// imap:// pop3:// ftp:// ldap:// xmpp://\n"
     "postgres:// (STARTTLS), smtps:// imaps:// pop3s:// ldaps://. Without\n"
     "TARGET or --from, probe the endpoints of the configuration file.\n"
     "Exit 0 when every probe got its chain, 1 when some failed.\n"
     "\n"
     "  --from FILE          targets, one per line: TARGET [sni=NAME]\n"
     "                       [starttls=PROTO] [all-addresses] [tag.K=V]...\n"
     "  --sni NAME           server name to send (TARGET arguments)\n"
     "  --starttls PROTO     STARTTLS dialect (TARGET arguments)\n"
     "  --all-addresses      probe every A/AAAA address\n"
     "  --concurrency N      connections at once (default 256)\n"
     "  --per-host N         connections per address (default 16)\n"
     "  --timeout DUR        per probe: 10s, 500ms or seconds (default 10s)\n"
     "  --ca-file F          trust these CAs instead of the system store\n"
     "  --cert F --key F     client certificate and key (PEM)\n"
     "  --legacy             also test whether TLS 1.0/1.1 are accepted\n"
     "  --tag KEY=VALUE      tag the endpoint and its certificates\n"
     "  --no-store           print only, do not record in the inventory\n"
     "  --sweep CIDR         discover TLS services in an address range\n"
     "  --ports LIST         ports for --sweep, e.g. 443,8443 (default 443)\n"
     "  --max-targets N      largest sweep accepted (default 65536)\n"
     "  --no-findings        store results without updating their findings\n"
     "  --base-url URL       certhub serve's URL, for the findings'\n"
     "                       remediation links (default $CERTHUB_BASE_URL\n"
     "                       or http://localhost:8080)\n"},
    {"endpoints", cmd_endpoints, "list or describe probed endpoints",
     "Usage: certhub endpoints list [--status S] [--problem P] [--owner O]\n"
     "       certhub endpoints describe ENDPOINT\n"
     "\n"
     "ENDPOINT is an endpoint id, its locator, its target or its host.\n"
     "\n"
     "  --status S           last probe status: ok, dns, refused, timeout,\n"
     "                       tls_alert, protocol, error\n"
     "  --problem P          last chain has problem P (unknown_issuer,\n"
     "                       self_signed, missing_intermediate, ...)\n"
     "  --owner O            tagged owner=O\n"},
    {"metrics", cmd_metrics, "print Prometheus metrics of the inventory",
     "Usage: certhub metrics [--compat]\n"
     "\n"
     "  --compat             also emit blackbox_exporter and\n"
     "                       x509-certificate-exporter metric names\n"},
    {"events", cmd_events, "put, list and show events; test event patterns",
     "Usage: certhub events put --source S --detail-type T [--detail "
     "JSON|@F]\n"
     "                          [--bus B] [--resources ARN,...] [--time T]\n"
     "       certhub events put --entries FILE|-\n"
     "       certhub events list [--bus B] [--source S] [--detail-type T]\n"
     "                           [--since T] [--until T] [--limit N]\n"
     "       certhub events show ID\n"
     "       certhub events test-pattern --pattern P --event E\n"
     "\n"
     "put stores events on an event bus (default: default) and prints the\n"
     "PutEvents answer; --entries takes a JSON array of PutEvents entries\n"
     "(Source, DetailType, Detail, EventBusName, Resources, Time). Valid\n"
     "entries are stored even when others fail; the exit status is then 2.\n"
     "list shows the archive, newest first; show prints one event.\n"
     "\n"
     "Print true when the EventBridge event pattern P matches the event E,\n"
     "else false. P and E are JSON text, or @FILE to read a file. An invalid\n"
     "pattern or event is reported on stderr with exit status 2.\n"
     "  --pattern P          the event pattern (JSON or @FILE)\n"
     "  --event E            the event, with its EventBridge envelope\n"
     "\n"
     "Usage: certhub events match --rules RULES.json --events FILE\n"
     "                            [--per-event] [--stats]\n"
     "\n"
     "Match every event of FILE (JSON Lines, plain or .gz) against every\n"
     "rule of RULES.json (an object: rule name -> event pattern); print\n"
     "{\"rule\": count, ...}. A bad rule or event line: exit 2, naming it.\n"
     "  --per-event          print {\"line\": N, \"rules\": [...]} per event\n"
     "  --stats              print events/s of the matching to stderr\n"},
    {"evaluate", cmd_evaluate, "emit the ACM lifecycle events that are due",
     "Usage: certhub evaluate [--dry-run] [--batch]\n"
     "\n"
     "Evaluate every certificate: ACM Certificate Approaching Expiration\n"
     "(daily within its threshold), Expired, Available, and Renewal Action\n"
     "Required (a source's renew_command failed at 45/30/15/3/1 days).\n"
     "Each new event is printed as one EventBridge JSON line; a summary\n"
     "goes to stderr.\n"
     "\n"
     "  --dry-run            run no renewal command and record nothing\n"
     "  --batch              print the weekly batch instead: every active\n"
     "                       certificate within its threshold (JSON)\n"},
    {"rules", cmd_rules, "manage the rules of event buses",
     "Usage: certhub rules put NAME [--bus B] (--pattern P|@F | --schedule "
     "E)\n"
     "                         [--target JSON|@F]... [--description D]\n"
     "                         [--disabled] [--batch expiring-certificates]\n"
     "       certhub rules list [--bus B]\n"
     "       certhub rules describe|enable|disable|delete NAME [--bus B]\n"
     "\n"
     "A rule sends the events matching its EventBridge event pattern, or\n"
     "the Scheduled Events of its schedule expression (rate(...) or\n"
     "cron(...), UTC), to up to 5 targets. Each --target is a JSON object\n"
     "with \"Id\" and \"Type\" (or an array of them); \"RetryPolicy\" and\n"
     "\"DeadLetterConfig\" set retries and the dead-letter queue. With\n"
     "--batch expiring-certificates, a schedule rule's Scheduled Event lists\n"
     "every certificate within its expiry threshold (the weekly digest).\n"},
    {"dlq", cmd_dlq, "list, redrive or purge the dead-letter queue",
     "Usage: certhub dlq list [--limit N]\n"
     "       certhub dlq redrive (ID...|--all)\n"
     "       certhub dlq purge (ID...|--all)\n"
     "\n"
     "redrive puts dead letters back to delivery with their attempts reset;\n"
     "purge deletes them.\n"},
    {"buses", cmd_buses, "create, list or delete event buses",
     "Usage: certhub buses create NAME\n"
     "       certhub buses list\n"
     "       certhub buses delete NAME\n"
     "\n"
     "The default bus always exists. A bus with rules cannot be deleted.\n"},
    {"hub", cmd_hub, "forward findings to a central certhub hub",
     "Usage: certhub hub status\n"
     "       certhub hub forward [--max N]\n"
     "\n"
     "With a hub: section in the configuration (forward_to, token_file),\n"
     "every finding this instance creates or changes is queued for the\n"
     "hub's BatchImportFindings API; certhub serve forwards the queue.\n"
     "status shows the queue; forward sends it now (exit 1 when the hub\n"
     "cannot be reached: nothing is lost, the queue stays).\n"},
    {"serve", cmd_serve, "run the daemon: lifecycle events, schedules, rules",
     "Usage: certhub serve [--once] [--interval DUR] [--evaluate-every DUR]\n"
     "                     [--listen ADDR:PORT] [--no-http]\n"
     "\n"
     "Evaluate the lifecycle events (at start, every UTC day and every\n"
     "--evaluate-every), fire due schedules, route events through the\n"
     "rules and deliver them to their targets with retries, until SIGTERM\n"
     "or SIGINT (the delivery in flight finishes). SIGHUP reloads the\n"
     "configuration. Without a rules: section the seed rules apply.\n"
     "\n"
     "  --once               one pass, then exit (for timers and tests)\n"
     "  --interval DUR       longest sleep between passes (default 60s)\n"
     "  --evaluate-every DUR lifecycle evaluation period (default 1h)\n"
     "  --listen ADDR:PORT   serve the HTTP API here (default http.listen,\n"
     "                       else 127.0.0.1:8080); see certhub-serve(1)\n"
     "  --no-http            run without the HTTP API\n"},
    {"topics", cmd_topics, "create topics, publish to them, read the log",
     "Usage: certhub topics create NAME [--display-name D]\n"
     "       certhub topics list\n"
     "       certhub topics delete NAME\n"
     "       certhub topics publish NAME --message M|@FILE [--subject S]\n"
     "           [--message-attribute NAME=TYPE:VALUE]...\n"
     "           [--message-attributes JSON|@FILE]\n"
     "       certhub topics messages [NAME] [--limit N]\n"
     "       certhub topics send-test --protocol P --endpoint E [--subject S]\n"
     "           [--message M|@FILE] [--html H|@FILE] [--attribute K=V]...\n"
     "\n"
     "Topics are certhub's SNS: NAME is 1 to 256 letters, digits, '-' or\n"
     "'_'. publish checks the message like SNS Publish (not empty, at most\n"
     "256 KiB of UTF-8; a subject of at most 100 printable ASCII\n"
     "characters) and logs it with a new MessageId, which it prints.\n"
     "  --message M          the message text, or @FILE to read a file\n"
     "  --subject S          the subject (optional)\n"
     "  --message-attribute NAME=TYPE:VALUE\n"
     "                       an SNS message attribute, TYPE String,\n"
     "                       String.Array, Number or Binary (at most 10):\n"
     "                       severity=String:HIGH, days=Number:14\n"
     "  --message-attributes JSON|@FILE\n"
     "                       attributes as SNS Publish takes them:\n"
     "                       {\"n\":{\"DataType\":..,\"StringValue\":..}}\n"
     "  --display-name D     the topic's display name (create)\n"
     "  --limit N            newest N messages (messages, deliveries)\n"
     "\n"
     "       certhub topics subscribe NAME --protocol P --endpoint E\n"
     "                                [--attribute K=V ...] [--confirmed]\n"
     "       certhub topics unsubscribe SUBSCRIPTION-ARN [--token T]\n"
     "       certhub topics subscriptions [NAME]\n"
     "       certhub topics confirm NAME|TOPIC-ARN TOKEN\n"
     "       certhub topics deliveries [--topic T] [--subscription ARN]\n"
     "                                 [--status S] [--limit N]\n"
     "       certhub topics dlq list|redrive [ID]|purge [ID] [--topic T]\n"
     "       certhub topics deliver [--once] [--max-seconds N]\n"
     "  --protocol P         http, https, command, file (and the chat and\n"
     "                       email protocols when built in)\n"
     "  --endpoint E         URL, address, program or file; @FILE reads it\n"
     "  --attribute K=V      DeliveryPolicy, RawMessageDelivery, ...\n"
     "                       (V may be @FILE)\n"
     "  --confirmed          pre-confirm (administrator)\n"
     "  --status S           pending, delivered, dead, filtered\n"
     "  --once               deliver what is due now, then exit\n"
     "  --max-seconds N      stop after N seconds (default 60)\n"
     "send-test sends one message through a protocol (email, slack, teams,\n"
     "googlechat, webhook) to try it; see certhub-topics(1).\n"
     "\n"
     "       certhub topics render --event EVENT|@FILE [--topic T]\n"
     "                 [--templates JSON|@FILE] [--base-url URL]\n"
     "                 [--part subject|text|html] [--no-lookup]\n"
     "       certhub topics test-filter --policy P|@FILE\n"
     "                 [--attributes A|@FILE] [--message M|@FILE]\n"
     "                 [--scope MessageAttributes|MessageBody]\n"
     "       certhub topics keygen FILE\n"
     "render prints the subject, text and HTML a bus event becomes;\n"
     "test-filter prints true or false: does a subscription with that\n"
     "filter policy take the message; keygen writes a new 32-byte key\n"
     "(hex, mode 0600) for sealed topics and prints its key id.\n"},
    {"findings", cmd_findings,
     "query, update, export and import security findings",
     "Usage: certhub findings list [--filter JSON|@FILE] [--sort F[:asc|desc]]\n"
     "                             [--max N] [--next-token T] [--limit N]\n"
     "                             [--severity L] [--workflow S]\n"
     "                             [--record-state S]\n"
     "       certhub findings get ID [--product-arn ARN]\n"
     "       certhub findings update ID... [--workflow S] [--note T --by N]\n"
     "                             [--severity L] [--verification-state V]\n"
     "                             [--confidence N] [--criticality N]\n"
     "                             [--field K=V]... [--product-arn ARN]\n"
     "       certhub findings update --request JSON|@FILE\n"
     "       certhub findings insight --group-by ATTR [--filter JSON|@FILE]\n"
     "       certhub findings prune [--older-than 90d]\n"
     "       certhub findings export [--format asff|ocsf] [--out FILE]\n"
     "                               [--jsonl] [--severity L] [--workflow S]\n"
     "                               [--record-state S] [--limit N]\n"
     "       certhub findings import [--format asff|ocsf] FILE|-\n"
     "\n"
     "Findings are certhub's Security Hub, in the AWS Security Finding\n"
     "Format. list is GetFindings: --filter takes the Filters object\n"
     "(AwsSecurityFindingFilters), e.g. {\"SeverityLabel\": [{\"Value\":\n"
     "\"HIGH\", \"Comparison\": \"EQUALS\"}]}; --max shows one page and the\n"
     "token of the next. update is BatchUpdateFindings, insight counts\n"
     "findings by an attribute, prune deletes findings untouched for 90\n"
     "days. import takes a JSON array of findings or {\"Findings\": [...]}\n"
     "(at most 100), like BatchImportFindings, prints SuccessCount,\n"
     "FailedCount and FailedFindings, and exits 2 when some failed.\n"
     "export writes a JSON array (one finding per line; --jsonl: JSON\n"
     "lines) of ASFF or OCSF 1.6.0 findings; import --format ocsf takes\n"
     "OCSF Compliance/Vulnerability/Detection findings (array or lines).\n"
     "See certhub-findings(1) for the filter fields.\n"
     "  --format F           asff (default) or ocsf (export, import)\n"
     "  --out FILE           export to FILE instead of stdout\n"
     "  --jsonl              export JSON lines\n"
     "  --severity L         INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL\n"
     "  --workflow S         NEW, NOTIFIED, RESOLVED or SUPPRESSED\n"
     "  --record-state S     ACTIVE or ARCHIVED\n"
     "  --limit N            at most N findings in all (list, export)\n"},
    {"tokens", cmd_tokens, "create, list or revoke HTTP API tokens",
     "Usage: certhub tokens create NAME --scope S [--scope S] [--expires E]\n"
     "       certhub tokens list\n"
     "       certhub tokens revoke NAME\n"
     "\n"
     "Tokens authenticate calls to the HTTP API of certhub serve\n"
     "(Authorization: Bearer chk_...). create prints the token once; the\n"
     "database keeps only its SHA-256. NAME is 1 to 128 of A-Z a-z 0-9 . _ -\n"
     "  --scope S            read (GET endpoints, GetFindings), findings:write\n"
     "                       (import, update) or admin (everything); repeat\n"
     "  --expires E          90d, 12h, 30m, an RFC 3339 instant, or never\n"
     "                       (the default)\n"},
    {"help", cmd_help, "show help for a command",
     "Usage: certhub help [COMMAND]\n"},
};

enum {
  GOPT_DB = 0x1000,
  GOPT_CONFIG,
  GOPT_NOW,
  GOPT_COLOR,
  GOPT_VERSION,
};

static const struct option global_longopts[] = {
    {"db", required_argument, NULL, GOPT_DB},
    {"config", required_argument, NULL, GOPT_CONFIG},
    {"now", required_argument, NULL, GOPT_NOW},
    {"output", required_argument, NULL, 'o'},
    {"color", required_argument, NULL, GOPT_COLOR},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, GOPT_VERSION},
    {NULL, 0, NULL, 0},
};
#define GLOBAL_SHORTOPTS "o:qh"

static void general_usage(FILE *f)
{
  fputs("Usage: certhub [OPTIONS] COMMAND [ARGS...]\n\nCommands:\n", f);
  for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("\n" GLOBAL_OPTIONS
        "\nRun 'certhub help COMMAND' for a command's options.\n",
        f);
}

static void command_usage(const cli_cmd *cmd, FILE *f)
{
  fputs(cmd->usage, f);
  fputs("\n" GLOBAL_OPTIONS, f);
}

static const cli_cmd *find_command(const char *name)
{
  for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    if(!strcmp(commands[i].name, name))
      return &commands[i];
  }
  return NULL;
}

static void vmsg(cli_ctx *c, const char *fmt, va_list ap)
{
  fputs("certhub: ", stderr);
  if(c->cmd)
    fprintf(stderr, "%s: ", c->cmd->name);
  vfprintf(stderr, fmt, ap);
}

int cli_usage(cli_ctx *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg(c, fmt, ap);
  va_end(ap);
  if(c->cmd)
    fprintf(stderr, " (see 'certhub %s --help')\n", c->cmd->name);
  else
    fputs(" (see 'certhub --help')\n", stderr);
  c->exit_code = CLI_EXIT_USAGE;
  return CLI_EXIT_USAGE;
}

int cli_fail(cli_ctx *c, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg(c, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  c->exit_code = code;
  return code;
}

int cli_exit_for(ch_err e)
{
  switch(e) {
  case CH_OK:
    return CLI_EXIT_OK;
  case CH_ERR_NOMEM:
  case CH_ERR_DB:
  case CH_ERR_BUSY:
  case CH_ERR_INTERNAL:
    return CLI_EXIT_INTERNAL;
  default:
    return CLI_EXIT_USAGE;
  }
}

int cli_parse_num(cli_ctx *c, const char *opt, const char *s, int64_t min,
                  int64_t max, int64_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if(!*s || *end || errno || s[0] == '+' || s[0] == ' ')
    return cli_usage(c, "%s: '%s' is not a number", opt, s);
  if(v < min || v > max)
    return cli_usage(c, "%s: %s is out of range (%lld..%lld)", opt, s,
                     (long long)min, (long long)max);
  *out = v;
  return 0;
}

/* Tag limits as ACM has them. */
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

static bool has_ctl(const char *s)
{
  for(; *s; s++) {
    if((unsigned char)*s < 0x20 || *s == 0x7f)
      return true;
  }
  return false;
}

int cli_parse_tag(cli_ctx *c, const char *opt, char *arg, bool key_only,
                  certhub_tag *tag)
{
  char *eq = strchr(arg, '=');
  if(!eq && !key_only)
    return cli_usage(c, "%s: '%s' is not KEY=VALUE", opt, arg);
  if(eq)
    *eq = '\0';
  tag->key = arg;
  tag->value = eq ? eq + 1 : NULL;
  if(!*arg)
    return cli_usage(c, "%s: empty tag key", opt);
  if(out_width(arg) > TAG_KEY_MAX)
    return cli_usage(c, "%s: tag key longer than %d characters", opt,
                     TAG_KEY_MAX);
  if(eq && out_width(eq + 1) > TAG_VALUE_MAX)
    return cli_usage(c, "%s: tag value longer than %d characters", opt,
                     TAG_VALUE_MAX);
  if(has_ctl(arg) || (eq && has_ctl(eq + 1)))
    return cli_usage(c, "%s: control character in tag", opt);
  return 0;
}

/* Handle one global option; returns 0, or an exit code for an error or
 * an early stop (--help, --version) with c->exit_code set. */
static int global_opt(cli_ctx *c, int opt, const char *arg, bool *stop)
{
  *stop = false;
  switch(opt) {
  case GOPT_DB:
    c->db_opt = arg;
    break;
  case GOPT_CONFIG:
    c->config_opt = arg;
    break;
  case GOPT_NOW:
    c->now_opt = arg;
    break;
  case 'o':
    c->output_opt = arg;
    break;
  case GOPT_COLOR:
    c->color_opt = arg;
    break;
  case 'q':
    c->quiet = true;
    break;
  case 'h':
    if(c->cmd)
      command_usage(c->cmd, stdout);
    else
      general_usage(stdout);
    *stop = true;
    c->exit_code = 0;
    break;
  case GOPT_VERSION:
    printf("certhub %s\n", certhub_version());
    *stop = true;
    c->exit_code = 0;
    break;
  default:
    return -1;
  }
  return 0;
}

static bool is_global(int opt)
{
  return opt == 'o' || opt == 'q' || opt == 'h' ||
         (opt >= GOPT_DB && opt <= GOPT_VERSION);
}

/* Validate and resolve the global options once all are known. */
static int finish_globals(cli_ctx *c)
{
  const char *now = c->now_opt, *label = "--now";
  if(!now) {
    now = getenv("CERTHUB_NOW");
    label = "CERTHUB_NOW";
    if(now && !*now)
      now = NULL;
  }
  if(now) {
    if(certhub_time_parse(now, &c->now)) {
      /* global, so not prefixed with the command */
      fprintf(stderr, "certhub: %s: invalid RFC 3339 time '%s'\n", label, now);
      return c->exit_code = CLI_EXIT_USAGE;
    }
  }
  else
    c->now = certhub_now();

  c->format = OUT_TABLE;
  if(c->output_opt && out_format_parse(c->output_opt, &c->format))
    return cli_usage(c, "--output: unknown format '%s' (table, json, csv)",
                     c->output_opt);

  const char *col = c->color_opt ? c->color_opt : "auto";
  if(!strcmp(col, "always"))
    c->color = true;
  else if(!strcmp(col, "never"))
    c->color = false;
  else if(!strcmp(col, "auto"))
    c->color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
  else
    return cli_usage(c, "--color: '%s' is not auto, always or never", col);
  return 0;
}

static int bad_option(cli_ctx *c, int r, char **argv)
{
  const char *given = argv[optind - 1];
  if(r == ':')
    return cli_usage(c, "option '%s' needs a value", given);
  if(optopt && optopt < 0x100 && strncmp(given, "--", 2))
    return cli_usage(c, "unknown option '-%c'", optopt);
  return cli_usage(c, "unknown option '%s'", given);
}

static ch_err merge_opts(cli_ctx *c, const char *shortopts,
                         const struct option *longopts)
{
  size_t nl = 0, ng = sizeof(global_longopts) / sizeof(global_longopts[0]);
  while(longopts && longopts[nl].name)
    nl++;
  c->longopts = calloc(nl + ng, sizeof(struct option));
  size_t sl = strlen(shortopts);
  c->shortopts = malloc(1 + sl + sizeof(GLOBAL_SHORTOPTS));
  if(!c->longopts || !c->shortopts)
    return CH_ERR_NOMEM;
  if(nl)
    memcpy(c->longopts, longopts, nl * sizeof(struct option));
  memcpy(c->longopts + nl, global_longopts, ng * sizeof(struct option));
  /* leading ':' to tell a missing value from an unknown option */
  c->shortopts[0] = ':';
  memcpy(c->shortopts + 1, shortopts, sl);
  memcpy(c->shortopts + 1 + sl, GLOBAL_SHORTOPTS, sizeof(GLOBAL_SHORTOPTS));
  return CH_OK;
}

int cli_getopt(cli_ctx *c, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
  if(!c->longopts && merge_opts(c, shortopts, longopts)) {
    cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    return CLI_OPT_STOP;
  }
  for(;;) {
    int r = getopt_long(argc, argv, c->shortopts, c->longopts, NULL);
    if(r == -1)
      return finish_globals(c) ? CLI_OPT_STOP : -1;
    if(r == '?' || r == ':') {
      bad_option(c, r, argv);
      return CLI_OPT_STOP;
    }
    if(!is_global(r))
      return r;
    bool stop;
    global_opt(c, r, optarg, &stop);
    if(stop)
      return CLI_OPT_STOP;
  }
}

/* The default config path, if that file exists; malloc'd or NULL. */
static char *default_config_path(void)
{
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  char *p = NULL;
  if(xdg && *xdg) {
    if(asprintf(&p, "%s/certhub/config.yaml", xdg) < 0)
      return NULL;
  }
  else if(home && *home) {
    if(asprintf(&p, "%s/.config/certhub/config.yaml", home) < 0)
      return NULL;
  }
  struct stat st;
  if(p && stat(p, &st) != 0) {
    free(p);
    p = NULL;
  }
  return p;
}

int cli_config(cli_ctx *c, bool required)
{
  if(c->config)
    return 0;
  char *dflt = NULL, *errmsg = NULL;
  const char *path = c->config_opt;
  if(!path) {
    path = getenv("CERTHUB_CONFIG");
    if(path && !*path)
      path = NULL;
  }
  if(!path)
    path = dflt = default_config_path();
  int code = 0;
  if(!path) {
    if(required) {
      code =
          cli_fail(c, CLI_EXIT_USAGE, "no configuration file (use --config)");
      goto out;
    }
    if(certhub_config_default(&c->config))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  ch_err rc = certhub_config_load(path, &c->config, &errmsg);
  if(rc) {
    c->config = NULL;
    /* the message names the file and line already */
    fprintf(stderr, "certhub: %s\n", errmsg ? errmsg : certhub_strerror(rc));
    code = c->exit_code =
        rc == CH_ERR_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
    goto out;
  }
  c->config_from_file = true;
out:
  free(errmsg);
  free(dflt);
  return code;
}

int cli_open_store(cli_ctx *c, certhub_store **s)
{
  char *owned = NULL, *errmsg = NULL;
  const char *target = c->db_opt;
  int code = 0;
  if(!target) {
    target = getenv("CERTHUB_DB");
    if(target && !*target)
      target = NULL;
  }
  if(!target) {
    code = cli_config(c, false);
    if(code)
      goto out;
    target = c->config->db;
  }
  if(!target) {
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int r = -1;
    if(xdg && *xdg)
      r = asprintf(&owned, "%s/certhub/certhub.db", xdg);
    else if(home && *home)
      r = asprintf(&owned, "%s/.local/state/certhub/certhub.db", home);
    else {
      code = cli_fail(c, CLI_EXIT_USAGE,
                      "no database: set --db, CERTHUB_DB or HOME");
      goto out;
    }
    if(r < 0) {
      owned = NULL;
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
    target = owned;
  }
  free(c->db_target);
  c->db_target = strdup(target);
  ch_err rc =
      c->db_target ? certhub_store_open(target, s, &errmsg) : CH_ERR_NOMEM;
  if(rc) {
    *s = NULL;
    code = cli_fail(c, CLI_EXIT_INTERNAL, "%s",
                    errmsg ? errmsg : certhub_strerror(rc));
  }
out:
  free(errmsg);
  free(owned);
  return code;
}

/* Read with a growing buffer up to cap: a large cap costs memory only for
 * the input there is. */
int cli_read_file(cli_ctx *c, const char *opt, const char *path, size_t cap,
                  char **out, size_t *len)
{
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  size_t n = 0, alloc = 0;
  char *buf = NULL;
  int code = 0;
  *out = NULL;
  *len = 0;
  if(!f)
    return cli_fail(c, CLI_EXIT_USAGE, "%s: cannot open '%s': %s", opt, path,
                    strerror(errno));
  /* Room for cap bytes, one more to tell a larger input, and the NUL. */
  const size_t max = cap + 2;
  for(;;) {
    if(alloc - n < 65536 && alloc < max) {
      size_t na = alloc ? alloc * 2 : 65536;
      if(na > max || na < alloc)
        na = max;
      char *nb = realloc(buf, na);
      if(!nb) {
        code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
        goto out;
      }
      buf = nb;
      alloc = na;
    }
    size_t r = fread(buf + n, 1, alloc - n - 1, f);
    n += r;
    if(n > cap) {
      code = cli_fail(c, CLI_EXIT_USAGE, "%s: '%s' is larger than %zu bytes",
                      opt, path, cap);
      goto out;
    }
    if(r == 0)
      break;
  }
  if(ferror(f)) {
    code = cli_fail(c, CLI_EXIT_USAGE, "%s: cannot read '%s'", opt, path);
    goto out;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
out:
  free(buf);
  if(f != stdin)
    fclose(f);
  return code;
}

int cli_arg_text(cli_ctx *c, const char *opt, const char *arg, size_t cap,
                 char **out, size_t *len)
{
  size_t n = 0;
  if(arg[0] == '@')
    return cli_read_file(c, opt, arg + 1, cap, out, len ? len : &n);
  if(!(*out = strdup(arg)))
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  if(len)
    *len = strlen(arg);
  return 0;
}

int cli_store_fail(cli_ctx *c, certhub_store *s, ch_err e, const char *what)
{
  const char *detail = s ? certhub_store_errmsg(s) : "";
  if(detail && *detail)
    return cli_fail(c, cli_exit_for(e), "%s: %s: %s", what,
                    certhub_strerror(e), detail);
  return cli_fail(c, cli_exit_for(e), "%s: %s", what, certhub_strerror(e));
}

int cli_resolve(cli_ctx *c, certhub_store *s, const char *ref,
                int64_t **rowids, size_t *n)
{
  *rowids = NULL;
  *n = 0;
  ch_err rc = certhub_store_resolve(s, ref, rowids, n);
  if(rc == CH_OK && *n == 0)
    rc = CH_ERR_NOTFOUND;
  switch(rc) {
  case CH_OK:
    return 0;
  case CH_ERR_NOTFOUND:
    free(*rowids);
    *rowids = NULL;
    return cli_fail(c, CLI_EXIT_USAGE, "no certificate matches '%s'", ref);
  case CH_ERR_AMBIGUOUS:
    return cli_fail(c, CLI_EXIT_USAGE,
                    "'%s' matches several certificates; use more characters",
                    ref);
  default:
    return cli_store_fail(c, s, rc, ref);
  }
}

int cli_one_ref(cli_ctx *c, int argc, char **argv, const char **ref)
{
  if(optind >= argc)
    return cli_usage(c, "missing REF");
  if(argc - optind > 1)
    return cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
  *ref = argv[optind];
  return 0;
}

int cli_resolve_one(cli_ctx *c, certhub_store *s, const char *ref,
                    int64_t *rowid)
{
  int64_t *ids = NULL;
  size_t n = 0;
  int code = cli_resolve(c, s, ref, &ids, &n);
  if(code)
    return code;
  if(n > 1)
    code =
        cli_fail(c, CLI_EXIT_USAGE,
                 "'%s' matches %zu certificates; name one by its ID", ref, n);
  else
    *rowid = ids[0];
  free(ids);
  return code;
}

static ch_err row_name_cb(void *ctx, const certhub_cert_row *row)
{
  cli_row_name *o = ctx;
  snprintf(o->id, sizeof(o->id), "%s", row->id);
  snprintf(o->cn, sizeof(o->cn), "%s",
           row->common_name ? row->common_name : "");
  o->found = true;
  return CH_OK;
}

ch_err cli_row_name_get(cli_ctx *c, certhub_store *s, int64_t rowid,
                        cli_row_name *out)
{
  certhub_filter f = {.rowid = rowid};
  memset(out, 0, sizeof(*out));
  ch_err rc = certhub_store_list(s, &f, c->now, row_name_cb, out);
  if(!rc && !out->found)
    rc = CH_ERR_NOTFOUND;
  return rc;
}

static int cmd_help(cli_ctx *c, int argc, char **argv)
{
  int r;
  while((r = cli_getopt(c, argc, argv, "", NULL)) != -1) {
    if(r == CLI_OPT_STOP)
      return c->exit_code;
  }
  if(optind >= argc) {
    general_usage(stdout);
    return 0;
  }
  if(argc - optind > 1)
    return cli_usage(c, "one command at a time");
  const cli_cmd *cmd = find_command(argv[optind]);
  if(!cmd)
    return cli_usage(c, "no command '%s'", argv[optind]);
  command_usage(cmd, stdout);
  return 0;
}

int main(int argc, char **argv)
{
  cli_ctx c = {0};
  int code;
  opterr = 0;

  /* Global options before the command; '+' stops at the command name. */
  static const char pre_short[] = "+:" GLOBAL_SHORTOPTS;
  for(;;) {
    int r = getopt_long(argc, argv, pre_short, global_longopts, NULL);
    if(r == -1)
      break;
    if(r == '?' || r == ':') {
      code = bad_option(&c, r, argv);
      goto out;
    }
    bool stop;
    global_opt(&c, r, optarg, &stop);
    if(stop) {
      code = c.exit_code;
      goto out;
    }
  }
  if(optind >= argc) {
    general_usage(stderr);
    code = CLI_EXIT_USAGE;
    goto out;
  }
  c.cmd = find_command(argv[optind]);
  if(!c.cmd) {
    fprintf(stderr,
            "certhub: '%s' is not a certhub command (see 'certhub --help')\n",
            argv[optind]);
    code = CLI_EXIT_USAGE;
    goto out;
  }
  int sub_argc = argc - optind;
  char **sub_argv = argv + optind;
  optind = 0; /* full re-initialisation of GNU getopt */
  code = c.cmd->run(&c, sub_argc, sub_argv);
  if(fflush(stdout) != 0 && code == 0) {
    /* a full disk or closed pipe must not look like success */
    fprintf(stderr, "certhub: writing output: %s\n", strerror(errno));
    code = CLI_EXIT_INTERNAL;
  }
out:
  certhub_config_free(c.config);
  free(c.db_target);
  free(c.longopts);
  free(c.shortopts);
  return code;
}
