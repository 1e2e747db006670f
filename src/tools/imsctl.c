/* imsctl — companion command-line tool (being built up). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: imsctl COMMAND [options]\n");
		return 0;
	}
	fprintf(stderr, "usage: imsctl COMMAND [options]\n");
	return 2;
}
