/*
 * command target (the Lambda analogue): run a program with the input on
 * stdin. Uses ch_run (no shell; timeout kills the process group).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/run.h"
#include "target_int.h"

#define ARGV_MAX 256
#define ARG_MAX_LEN 4096
#define ENV_MAX 100
#define ENV_VALUE_MAX 4096
#define OUTPUT_CAP (64 * 1024)
#define DETAIL_TAIL 512

struct command {
  char **argv; /* NULL-terminated */
  char **env;  /* "NAME=value", NULL-terminated, 3 slots left for ours */
  size_t nenv;
  long timeout_s;
};

static const char *const fields[] = {"Command", "TimeoutSeconds",
                                     "Environment", NULL};

/* Set by certhub for every run; the target may not override them. */
static const char *const reserved[] = {"CERTHUB_RULE", "CERTHUB_BUS",
                                       "CERTHUB_EVENT_ID"};

static void command_free(void *state)
{
  struct command *c = state;
  if(!c)
    return;
  for(size_t i = 0; c->argv && c->argv[i]; i++)
    free(c->argv[i]);
  for(size_t i = 0; c->env && c->env[i]; i++)
    free(c->env[i]);
  free(c->argv);
  free(c->env);
  free(c);
}

static bool env_name_ok(const char *s)
{
  if(!s[0] || (s[0] >= '0' && s[0] <= '9') || strlen(s) > 128)
    return false;
  for(; *s; s++)
    if(!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
         (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

static ch_err command_parse(json_t *spec, void **state, char **errmsg)
{
  ch_err rc = CH_OK;
  struct command *c = calloc(1, sizeof(*c));
  if(!c)
    return CH_ERR_NOMEM;
  json_t *argv = json_object_get(spec, "Command");
  if(!argv) {
    rc = ch_target_err(errmsg, "Command: required (an array: the program "
                               "and its arguments)");
    goto out;
  }
  if(!json_is_array(argv) || json_array_size(argv) == 0 ||
     json_array_size(argv) > ARGV_MAX) {
    rc = ch_target_err(errmsg,
                       "Command: must be an array of 1-%d strings (the "
                       "program and its arguments)",
                       ARGV_MAX);
    goto out;
  }
  c->argv = calloc(json_array_size(argv) + 1, sizeof(*c->argv));
  if(!c->argv) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < json_array_size(argv); i++) {
    json_t *a = json_array_get(argv, i);
    if(!json_is_string(a) || json_string_length(a) > ARG_MAX_LEN ||
       strlen(json_string_value(a)) != json_string_length(a)) {
      rc = ch_target_err(errmsg,
                         "Command[%zu]: must be a string of at most %d "
                         "characters without NUL",
                         i, ARG_MAX_LEN);
      goto out;
    }
    if(i == 0 && json_string_length(a) == 0) {
      rc = ch_target_err(errmsg, "Command[0]: the program may not be empty");
      goto out;
    }
    if(!(c->argv[i] = strdup(json_string_value(a)))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  if((rc = ch_target_int_field(spec, "TimeoutSeconds", 1, 900, 60,
                               &c->timeout_s, errmsg)))
    goto out;
  json_t *env = json_object_get(spec, "Environment");
  size_t ne = env ? json_object_size(env) : 0;
  if(env && (!json_is_object(env) || ne > ENV_MAX)) {
    rc = ch_target_err(errmsg,
                       "Environment: must be an object of at most %d "
                       "\"NAME\": \"value\" strings",
                       ENV_MAX);
    goto out;
  }
  c->env = calloc(ne + CH_ARRAY_LEN(reserved) + 1, sizeof(*c->env));
  if(!c->env) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  const char *k;
  json_t *v;
  json_object_foreach(env, k, v)
  {
    if(!env_name_ok(k)) {
      rc = ch_target_err(errmsg,
                         "Environment: \"%.64s\" is not a variable name "
                         "(A-Z a-z 0-9 _, not starting with a digit)",
                         k);
      goto out;
    }
    for(size_t i = 0; i < CH_ARRAY_LEN(reserved); i++)
      if(strcmp(k, reserved[i]) == 0) {
        rc = ch_target_err(errmsg,
                           "Environment.%s: set by certhub, may "
                           "not be given",
                           k);
        goto out;
      }
    if(!json_is_string(v) || json_string_length(v) > ENV_VALUE_MAX ||
       strlen(json_string_value(v)) != json_string_length(v)) {
      rc = ch_target_err(errmsg,
                         "Environment.%s: must be a string of at most %d "
                         "characters without NUL",
                         k, ENV_VALUE_MAX);
      goto out;
    }
    if(!(c->env[c->nenv++] =
             ch_target_fmt("%s=%s", k, json_string_value(v)))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
out:
  if(rc)
    command_free(c);
  else
    *state = c;
  return rc;
}

/* The last DETAIL_TAIL bytes of stderr on one line. */
static void tail(const ch_run_result *r, char *buf, size_t n)
{
  size_t len = r->err_len;
  while(len && (r->err[len - 1] == '\n' || r->err[len - 1] == '\r' ||
                r->err[len - 1] == ' '))
    len--;
  size_t from = len > DETAIL_TAIL ? len - DETAIL_TAIL : 0;
  size_t k = 0;
  for(size_t i = from; i < len && k + 1 < n; i++) {
    unsigned char ch = (unsigned char)r->err[i];
    buf[k++] = ch == '\n' ? '|' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
  }
  buf[k] = '\0';
}

static certhub_delivery command_deliver(const void *state,
                                        const certhub_target_ctx *ctx,
                                        const ch_target_input *in,
                                        char **detail)
{
  (void)ctx;
  const struct command *c = state;
  char *env[CH_ARRAY_LEN(reserved) + ENV_MAX + 1];
  certhub_delivery d = CERTHUB_DELIVERY_RETRY;
  size_t k = 0;
  for(size_t i = 0; i < c->nenv; i++)
    env[k++] = c->env[i];
  char *own[3] = {ch_target_fmt("CERTHUB_RULE=%s", in->rule),
                  ch_target_fmt("CERTHUB_BUS=%s", in->bus),
                  ch_target_fmt("CERTHUB_EVENT_ID=%s", in->event_id)};
  for(size_t i = 0; i < 3; i++)
    env[k++] = own[i];
  env[k] = NULL;
  if(!own[0] || !own[1] || !own[2]) {
    *detail = NULL;
    goto out;
  }
  ch_run_opts o = {
      .argv = (const char *const *)c->argv,
      .env = (const char *const *)env,
      .stdin_data = in->data,
      .stdin_len = in->len,
      .timeout_ms = c->timeout_s * 1000,
      .stdout_cap = OUTPUT_CAP,
      .stderr_cap = OUTPUT_CAP,
  };
  ch_run_result r;
  ch_err rc = ch_run(&o, &r);
  if(rc) {
    *detail =
        ch_target_fmt("cannot run %s: %s", c->argv[0], certhub_strerror(rc));
    goto out;
  }
  char what[256], err[DETAIL_TAIL + 1];
  ch_run_describe(&r, o.timeout_ms, what, sizeof(what));
  tail(&r, err, sizeof(err));
  if(r.exec_errno) {
    d = CERTHUB_DELIVERY_FAILED;
    *detail = ch_target_fmt("%s: %s", c->argv[0], what);
  }
  else if(r.exited && r.exit_status == 0 && !r.timed_out) {
    d = CERTHUB_DELIVERY_OK;
    *detail = NULL;
  }
  else {
    *detail = ch_target_fmt("%s: %s%s%s", c->argv[0], what,
                            err[0] ? "; stderr: " : "", err);
  }
  ch_run_result_free(&r);
out:
  for(size_t i = 0; i < 3; i++)
    free(own[i]);
  return d;
}

const struct ch_target_ops ch_target_command = {
    .name = "command",
    .fields = fields,
    .parse = command_parse,
    .deliver = command_deliver,
    .free = command_free,
};
