/*
 * Fuzz target: the configuration language (config/cfg_lang) over
 * cfg_lang_load_buf with includes forbidden. A tree that loads is dumped
 * and merged into itself to exercise cfg_lang_dump and cfg_lang_merge.
 */
#include <stdint.h>
#include <stdio.h>

#include "config/cfg_lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct cfg_lang_err err;
	json_t *root = NULL;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (cfg_lang_load_buf((const char *)data, size, "fuzz.cfg", NULL, &root, &err)) {
		if (devnull)
			cfg_lang_err_print(&err, devnull);
		return 0;
	}
	if (devnull)
		cfg_lang_dump(root, devnull);
	cfg_lang_merge(root, root);
	json_decref(root);
	return 0;
}
