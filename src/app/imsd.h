/*
 * app — wiring of the modules into the imsd process.
 */
#ifndef APP_IMSD_H
#define APP_IMSD_H

#define IMSD_VERSION "0.1.0"

/* The whole server: parse arguments, load configuration, run until stopped.
 * Returns the process exit code. */
int imsd_main(int argc, char **argv);

#endif
