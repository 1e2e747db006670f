/* Fuzz target: net/addr parsing. Whatever parses must print and parse
 * back to the same address (the form we put in Via and logs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_addr a, b;
	char buf[NET_ADDR_STRLEN], host[NET_ADDR_STRLEN];
	struct pl pl = {(const char *)data, size};

	if (net_addr_parse(&a, pl, 5060))
		return 0;
	net_addr_print(&a, buf, sizeof(buf));
	net_addr_print_host(&a, host, sizeof(host));
	if (net_addr_parse_str(&b, buf, 1) || !net_addr_eq(&a, &b))
		abort();
	if (net_addr_parse_str(&b, host, net_addr_port(&a)) || !net_addr_eq(&a, &b))
		abort();
	return 0;
}
