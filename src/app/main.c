/* imsd — entry point (being built up: configuration, loop, monitor). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: imsd [--dump-config] CONFIG_FILE\n");
		return 0;
	}
	fprintf(stderr, "imsd: usage: imsd [--dump-config] CONFIG_FILE\n");
	return 2;
}
