/*
 * Private interface of the rules module (the event bus): EventBridge event
 * patterns (pattern.c) and schedules (schedule.c). Later: the compiled
 * matcher over all rules, targets and the bus.
 */
#ifndef CH_RULES_INT_H
#define CH_RULES_INT_H

#include "core/core.h"

#endif
