/* imsd — process entry point; everything else is in app/imsd.c. */
#include "app/imsd.h"

int main(int argc, char **argv)
{
	return imsd_main(argc, argv);
}
