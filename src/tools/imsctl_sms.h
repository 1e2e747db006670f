/*
 * imsctl sms — decode and encode SMS over IP bodies (TS 24.011 RP messages
 * and TS 23.040 TPDUs) for operators reading captures. `decode` prints one
 * JSON document with every field; `encode` builds SMS-SUBMIT, SMS-DELIVER
 * and RP-DATA from options or a JSON document and prints hex.
 */
#ifndef TOOLS_IMSCTL_SMS_H
#define TOOLS_IMSCTL_SMS_H

#include <jansson.h>

#include "sms/sms_tpdu.h"
#include "tools/imsctl.h"

/* argv after "sms": "decode …", "encode …", "--help". Returns an exit status. */
int imsctl_sms_main(int argc, char **argv);

/* The command name ("sms decode"), its options, and the parsed values. */
int imsctl_sms_parse(const char *cmd, const struct imsctl_optdef *defs, size_t ndefs,
		     int argc, char **argv, struct imsctl_opts *o, const char **positional);
/* `sms encode`: argv after "encode"; help prints its usage. */
int imsctl_sms_encode_main(int argc, char **argv, bool help);
/* An address as JSON (null when absent); tp: a TP address (length, alphanumeric). */
json_t *imsctl_sms_addr_json(const struct sms_addr *a, bool tp);
/* TPDU as a JSON object with every field. */
json_t *imsctl_sms_tpdu_json(const struct sms_tpdu *t);

#endif
