/*
 * The command protocol: runs the endpoint (an absolute path to an
 * executable, no shell) with the SNS message JSON on stdin (the bare
 * message with RawMessageDelivery), as the bus's command target does.
 * Exit 0 delivers; a program that cannot be started is a permanent
 * failure; any other end (exit status, signal, timeout) is retried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/run.h"
#include "certhub/notify.h"
#include "notify_int.h"
#include "proto.h"

#define OUTPUT_CAP 4096 /* bytes of the program's stderr kept */

static ch_err command_check(const char *endpoint, char *why, size_t whylen)
{
  if(endpoint[0] != '/') {
    snprintf(why, whylen,
             "the endpoint must be an absolute path to a "
             "program");
    return CH_ERR_USAGE;
  }
  return CH_OK;
}

static ch_delivery_result command_deliver(const ch_notify_env *env,
                                          const ch_notify_sub *sub,
                                          const ch_notify_msg *m, char *detail,
                                          size_t detaillen)
{
  ch_buf body;
  ch_delivery_result d = CH_DELIVERY_RETRY;
  char e_type[64], e_id[64], e_topic[700], e_sub[800];
  ch_buf_init(&body, (size_t)CERTHUB_MESSAGE_MAX * 2 + 16384);
  if(ch_notify_sns_body(env, sub, m, true, &body, NULL)) {
    snprintf(detail, detaillen, "cannot build the message");
    goto out;
  }
  snprintf(e_type, sizeof(e_type), "CERTHUB_SNS_MESSAGE_TYPE=%s", m->type);
  snprintf(e_id, sizeof(e_id), "CERTHUB_SNS_MESSAGE_ID=%s", m->message_id);
  snprintf(e_topic, sizeof(e_topic), "CERTHUB_SNS_TOPIC_ARN=%s", m->topic_arn);
  snprintf(e_sub, sizeof(e_sub), "CERTHUB_SNS_SUBSCRIPTION_ARN=%s", sub->arn);
  const char *argv[] = {sub->endpoint, NULL};
  const char *envv[] = {e_type, e_id, e_topic, e_sub, NULL};
  ch_run_opts o = {
      .argv = argv,
      .env = envv,
      .stdin_data = body.data ? body.data : "",
      .stdin_len = body.len,
      .timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : 15000,
      .stderr_cap = OUTPUT_CAP,
  };
  ch_run_result r;
  if(ch_run(&o, &r)) {
    snprintf(detail, detaillen, "cannot run the program");
    goto out;
  }
  char what[256];
  ch_run_describe(&r, o.timeout_ms, what, sizeof(what));
  if(r.exec_errno)
    d = CH_DELIVERY_FAILED;
  else if(r.exited && r.exit_status == 0 && !r.timed_out)
    d = CH_DELIVERY_OK;
  /* The program's own words (not its path: it may be a secret). */
  snprintf(detail, detaillen, "%s",
           d == CH_DELIVERY_OK ? "exit status 0" : what);
  ch_run_result_free(&r);
out:
  ch_buf_free(&body);
  return d;
}

const ch_notify_proto ch_notify_proto_command = {
    .name = "command",
    .needs_confirmation = false,
    .check_endpoint = command_check,
    .deliver = command_deliver,
};
