/* imsd — entry point (being built up: configuration, loop, monitor). */
#include <stdio.h>
#include <string.h>

#include "config/cfg_lang.h"

/* --dump-config FILE: print the evaluated configuration as strict JSON. */
static int dump_config(const char *path)
{
	struct cfg_lang_err err;
	json_t *root;
	int rc;

	if (cfg_lang_load_file(path, &root, &err)) {
		cfg_lang_err_print(&err, stderr);
		return 1;
	}
	rc = cfg_lang_dump(root, stdout) ? 1 : 0;
	json_decref(root);
	if (rc)
		fprintf(stderr, "imsd: cannot write the configuration to stdout\n");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: imsd [--dump-config] CONFIG_FILE\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--dump-config"))
		return dump_config(argv[2]);
	fprintf(stderr, "imsd: usage: imsd [--dump-config] CONFIG_FILE\n");
	return 2;
}
