/*
 * api_cmd_table — every message of the remote API (manual §6.5, §6.6) and
 * every event (§6.7). A service's messages (sms, mt_call, dialog_get,
 * ipsec...) are added here, one line each, with their handler in their own
 * api_cmd_<service>.c; help lists this table.
 */
#include "api/api_int.h"

#include <string.h>

const struct api_cmd api_cmds[] = {
    {"authenticate", api_cmd_authenticate},
    {"config_get", api_cmd_config_get},
    {"config_set", api_cmd_config_set},
    {"dialog_get", api_cmd_dialog_get},
    {"dialog_set", api_cmd_dialog_set},
    {"help", api_cmd_help},
    {"impu_add", api_cmd_impu_add},
    {"impu_del", api_cmd_impu_del},
    {"impu_set", api_cmd_impu_set},
    {"ipsec", api_cmd_ipsec},
    {"license", api_cmd_license},
    {"log_get", api_cmd_log_get},
    {"log_reset", api_cmd_log_reset},
    {"log_set", api_cmd_log_set},
    {"mt_call", api_cmd_mt_call},
    {"quit", api_cmd_quit},
    {"register", api_cmd_register},
    {"sms", api_cmd_sms},
    {"sms_flush", api_cmd_sms_flush},
    {"stats", api_cmd_stats},
    {"unregister", api_cmd_unregister},
    {"user_set", api_cmd_user_set},
    {"users_add", api_cmd_users_add},
    {"users_get", api_cmd_users_get},
    {NULL, NULL},
};

const char *const api_events[] = {"users_update", "sms", "dialog", NULL};

const struct api_cmd *api_cmd_find(const char *name)
{
	for (const struct api_cmd *c = api_cmds; c->name; c++) {
		if (!strcmp(c->name, name))
			return c;
	}
	return NULL;
}
