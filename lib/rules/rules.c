/*
 * The rules module: EventBridge-compatible patterns and schedules.
 * This file holds what the module's files share.
 */
#include "rules_int.h"

/* Version of the event-pattern semantics implemented (for diagnostics). */
const char *ch_rules_semantics(void);
const char *ch_rules_semantics(void)
{
  return "eventbridge-2024";
}
