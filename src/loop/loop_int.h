/*
 * loop internals shared by loop.c, loop_timer.c, loop_signal.c and
 * loop_work.c. Not for other modules.
 */
#ifndef LOOP_LOOP_INT_H
#define LOOP_LOOP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "loop/loop.h"

bool loop_ready(void);	  /* between loop_init and loop_close */
bool loop_stopping(void); /* loop_stop() was called */

/* The end of the nap after a wake-up at wake_ns from an epoll_wait entered
 * at wait_ns that returned n events, or 0 for none; *avg_ns is the moving
 * average of the waits, updated here. A nap follows events when that
 * average is under half a nap (loop.c). */
uint64_t loop_nap_plan(uint64_t *avg_ns, uint64_t wait_ns, uint64_t wake_ns, int n,
		       uint64_t nap_ns);

/* loop_timer.c */
int loop_timer_init(void);
void loop_timer_close(void);
/* Runs the timers due at `now` that were started before this call. */
void loop_timer_expire(uint64_t now);
/* Arms the timerfd for the next timer; returns the epoll_wait timeout:
 * 0 when a timer is already due, else -1 (the timerfd wakes us). */
int loop_timer_arm(uint64_t now);

/* loop_signal.c */
void loop_signal_close(void);

/* loop_work.c */
void loop_work_close(void);

#endif
