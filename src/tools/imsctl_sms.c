/*
 * imsctl sms — `decode` and the command's entry point.
 *
 * decode reads an RP message (TS 24.011 §7.3) or a bare TPDU (TS 23.040
 * §9.2) from hex and prints JSON. Auto-detection: an RP message whose spare
 * MTI bits are zero, that decodes completely (its TPDU included) and has no
 * octets after its last IE is read as RP; anything else as a TPDU (a
 * STATUS-REPORT "06 2a …" would otherwise read as an RP-SMMA with extras). A TPDU's type depends on who sent it
 * (TP-MTI 00 is SMS-DELIVER from the network and SMS-DELIVER-REPORT from
 * the phone): inside RP the RP-MTI says; for a bare TPDU --dir says, and
 * without it MO is tried first, then MT.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms/sms_rp.h"
#include "tools/imsctl_sms.h"

#define HEX_MAX 1024

static const char sms_help[] =
	"usage: imsctl sms decode [--layer auto|rp|tpdu] [--dir mo|mt] [--rp-error] HEX\n"
	"       imsctl sms encode [options] | --json FILE\n"
	"       imsctl sms decode|encode --help\n\n"
	"SMS over IP bodies (application/vnd.3gpp.sms): RP messages of TS 24.011\n"
	"and TPDUs of TS 23.040. decode prints JSON with every field; encode builds\n"
	"SMS-SUBMIT, SMS-DELIVER and RP-DATA and prints hex.\n";

static const char decode_help[] =
	"usage: imsctl sms decode [--layer auto|rp|tpdu] [--dir mo|mt] [--rp-error] HEX\n\n"
	"Decodes an RP message (RP-DATA, RP-ACK, RP-ERROR, RP-SMMA; TS 24.011 §7.3)\n"
	"or a bare TPDU (TS 23.040 §9.2) and prints it as JSON, every field named.\n"
	"HEX may contain spaces or colons (a copy of Wireshark's bytes).\n\n"
	"  --layer auto|rp|tpdu  auto (default): RP when the octets decode as a\n"
	"                        complete RP message with nothing after its last\n"
	"                        IE, else a TPDU\n"
	"  --dir mo|mt           who sent a bare TPDU. TP-MTI alone is ambiguous:\n"
	"                        00 is SMS-DELIVER (mt) or SMS-DELIVER-REPORT (mo),\n"
	"                        01 SMS-SUBMIT (mo) or SMS-SUBMIT-REPORT (mt),\n"
	"                        10 SMS-COMMAND (mo) or SMS-STATUS-REPORT (mt).\n"
	"                        Without it mo is tried first, then mt. Inside RP\n"
	"                        the RP-MTI decides (RP-DATA ms->n carries a SUBMIT)\n"
	"  --rp-error            a bare report came in RP-ERROR (it has TP-FCS)\n\n"
	"Exit status: 0 decoded, 1 malformed input (the reason and the RP cause a\n"
	"receiver answers with on stderr), 2 bad command line.\n\n"
	"examples:\n"
	"  imsctl sms decode 002a00069133860900001711000b916407281553f80000aa0ae8329bfd4697d9ec37\n"
	"  imsctl sms decode --dir mt 040bc87238880900f10000993092516195800ae8329bfd4697d9ec37\n"
	"  imsctl sms decode 052a0116\n";

static const struct imsctl_optdef decode_defs[] = {
	{"layer", true},
	{"dir", true},
	{"rp-error", false},
};

static int opt_index(const struct imsctl_optdef *defs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(defs[i].name, name))
			return (int)i;
	return -1;
}

int imsctl_sms_parse(const char *cmd, const struct imsctl_optdef *defs, size_t ndefs,
		     int argc, char **argv, struct imsctl_opts *o, const char **positional)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->defs = defs;
	o->ndefs = ndefs;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		char name[64];
		size_t nl;
		int k;

		if (strncmp(a, "--", 2) || !a[2]) {
			if (positional && !*positional) {
				*positional = a;
				continue;
			}
			imsctl_err(cmd, "unexpected argument \"%s\"", a);
			return IMSCTL_EXIT_USAGE;
		}
		eq = strchr(a + 2, '=');
		nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name))
			nl = sizeof(name) - 1;
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		k = opt_index(defs, ndefs, name);
		if (k < 0) {
			imsctl_err(cmd, "unknown option --%s (see imsctl %s --help)", name, cmd);
			return IMSCTL_EXIT_USAGE;
		}
		if (o->seen[k]) {
			imsctl_err(cmd, "--%s given twice", name);
			return IMSCTL_EXIT_USAGE;
		}
		o->seen[k] = true;
		if (!defs[k].has_arg) {
			if (eq) {
				imsctl_err(cmd, "--%s takes no value", name);
				return IMSCTL_EXIT_USAGE;
			}
		} else if (eq) {
			o->val[k] = eq + 1;
		} else if (i + 1 < argc) {
			o->val[k] = argv[++i];
		} else {
			imsctl_err(cmd, "--%s needs a value", name);
			return IMSCTL_EXIT_USAGE;
		}
	}
	return 0;
}

/* Hex with optional spaces, colons and a 0x prefix. */
static int read_hex(const char *cmd, const char *s, uint8_t *out, size_t size, size_t *n)
{
	char clean[2 * HEX_MAX + 1];
	size_t l = 0;

	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	for (; *s; s++) {
		if (isspace((unsigned char)*s) || *s == ':')
			continue;
		if (l == sizeof(clean) - 1) {
			imsctl_err(cmd, "input longer than %d octets", HEX_MAX);
			return IMSCTL_EXIT_USAGE;
		}
		clean[l++] = *s;
	}
	if (!l || sms_hex_decode(clean, l, out, size, n)) {
		imsctl_err(cmd, "not a hex string (%zu digits)", l);
		return IMSCTL_EXIT_USAGE;
	}
	return 0;
}

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s) {
		puts(s);
		free(s);
	}
}

static void report_err(const char *what_layer, const struct sms_err *e)
{
	const char *name = sms_rp_cause_name(e->rp_cause);
	char fcs[24] = "";

	if (e->tp_fcs)
		snprintf(fcs, sizeof(fcs), ", TP-FCS 0x%02x", e->tp_fcs);
	imsctl_err("sms decode", "malformed %s: %s at octet %u (RP cause %u %s%s)", what_layer,
		   e->what ? e->what : "?", e->off, e->rp_cause, name ? name : "", fcs);
}

static json_t *j_err(const struct sms_err *e)
{
	return json_pack("{s:s, s:i, s:i, s:i}", "field", e->what ? e->what : "", "offset",
			 e->off, "rp_cause", e->rp_cause, "tp_fcs", e->tp_fcs);
}

static json_t *rp_json(const struct sms_rp *rp)
{
	char hex[2 * SMS_RP_MAX + 1];
	json_t *o = json_pack("{s:s, s:i, s:s, s:i}", "type", sms_rp_mti_name(rp->mti), "mti",
			      (int)rp->mti, "direction",
			      sms_rp_dir(rp->mti) == SMS_DIR_MO ? "ms->n" : "n->ms", "mr", rp->mr);

	if (rp->mti_spare)
		json_object_set_new(o, "spare_bits", json_integer(rp->mti_spare));
	if (rp->mti == SMS_RP_DATA_MO || rp->mti == SMS_RP_DATA_MT) {
		json_object_set_new(o, "originator", imsctl_sms_addr_json(&rp->oa, false));
		json_object_set_new(o, "destination", imsctl_sms_addr_json(&rp->da, false));
	}
	if (rp->mti == SMS_RP_ERROR_MO || rp->mti == SMS_RP_ERROR_MT) {
		const char *name = sms_rp_cause_name(rp->cause);

		sms_hex_encode(rp->diag, rp->ndiag, hex, sizeof(hex));
		json_object_set_new(o, "cause",
				    json_pack("{s:i, s:s, s:o}", "value", rp->cause, "name",
					      name ? name : "unknown",
					      "diagnostic", rp->ndiag ? json_string(hex)
								      : json_null()));
	}
	if (rp->has_ud && !sms_hex_encode(rp->ud, rp->ud_len, hex, sizeof(hex)))
		json_object_set_new(o, "user_data_hex", json_string(hex));
	else
		json_object_set_new(o, "user_data_hex", json_null());
	if (rp->extra_len && !sms_hex_encode(rp->extra, rp->extra_len, hex, sizeof(hex)))
		json_object_set_new(o, "extra_hex", json_string(hex));
	return o;
}

/* RP message and its TPDU; 0 all decoded, 1 the TPDU is malformed. */
static int decode_rp(const struct sms_rp *rp, bool print)
{
	struct sms_tpdu t;
	struct sms_err e;
	struct sms_tpdu_dec_prm prm = {
		.dir = sms_rp_dir(rp->mti),
		.in_error = rp->mti == SMS_RP_ERROR_MO || rp->mti == SMS_RP_ERROR_MT,
	};
	json_t *o;
	int bad = 0;

	if (rp->has_ud)
		bad = sms_tpdu_decode(&t, rp->ud, rp->ud_len, &prm, &e) != 0;
	if (!print)
		return bad;
	o = json_pack("{s:s, s:o}", "layer", "rp", "rp", rp_json(rp));
	if (!rp->has_ud)
		json_object_set_new(o, "tpdu", json_null());
	else if (bad)
		json_object_set_new(o, "tpdu_error", j_err(&e));
	else
		json_object_set_new(o, "tpdu", imsctl_sms_tpdu_json(&t));
	print_json(o);
	json_decref(o);
	if (bad)
		report_err("TPDU in RP-User-Data", &e);
	return bad;
}

/* rp_err: the RP reading's error, reported instead when neither reading works. */
static int decode_tpdu(const uint8_t *p, size_t n, const char *dir, bool in_error,
		       const struct sms_err *rp_err)
{
	struct sms_tpdu t;
	struct sms_err e, e1;
	struct sms_tpdu_dec_prm prm = {.dir = SMS_DIR_MO, .in_error = in_error};
	json_t *o;
	int err;

	if (dir && !strcmp(dir, "mt"))
		prm.dir = SMS_DIR_MT;
	err = sms_tpdu_decode(&t, p, n, &prm, &e);
	if (err && !dir) {
		e1 = e;
		prm.dir = SMS_DIR_MT;
		err = sms_tpdu_decode(&t, p, n, &prm, &e);
		if (err)
			e = e1; /* report the MO reading */
	}
	if (err) {
		if (rp_err)
			report_err("RP message", rp_err);
		else
			report_err("TPDU", &e);
		return IMSCTL_EXIT_FAIL;
	}
	o = json_pack("{s:s, s:s, s:o}", "layer", "tpdu", "direction",
		      prm.dir == SMS_DIR_MO ? "mo" : "mt", "tpdu", imsctl_sms_tpdu_json(&t));
	print_json(o);
	json_decref(o);
	return 0;
}

static int run_decode(int argc, char **argv)
{
	struct imsctl_opts o;
	const char *hex = NULL, *layer, *dir;
	uint8_t in[HEX_MAX];
	size_t n;
	struct sms_rp rp;
	struct sms_err e;
	int err = imsctl_sms_parse("sms decode", decode_defs,
				   sizeof(decode_defs) / sizeof(decode_defs[0]), argc, argv, &o,
				   &hex);

	if (err)
		return err;
	layer = imsctl_opt(&o, "layer");
	dir = imsctl_opt(&o, "dir");
	if (layer && strcmp(layer, "auto") && strcmp(layer, "rp") && strcmp(layer, "tpdu")) {
		imsctl_err(o.cmd, "--layer: expected auto, rp or tpdu, got \"%s\"", layer);
		return IMSCTL_EXIT_USAGE;
	}
	if (dir && strcmp(dir, "mo") && strcmp(dir, "mt")) {
		imsctl_err(o.cmd, "--dir: expected mo or mt, got \"%s\"", dir);
		return IMSCTL_EXIT_USAGE;
	}
	if (!hex) {
		imsctl_err(o.cmd, "missing HEX (see imsctl sms decode --help)");
		return IMSCTL_EXIT_USAGE;
	}
	err = read_hex(o.cmd, hex, in, sizeof(in), &n);
	if (err)
		return err;
	if (layer && !strcmp(layer, "tpdu"))
		return decode_tpdu(in, n, dir, imsctl_flag(&o, "rp-error"), NULL);
	err = sms_rp_decode(&rp, in, n, &e);
	if (layer && !strcmp(layer, "rp")) {
		if (err) {
			report_err("RP message", &e);
			return IMSCTL_EXIT_FAIL;
		}
		return decode_rp(&rp, true) ? IMSCTL_EXIT_FAIL : 0;
	}
	if (!err && !rp.mti_spare && !rp.extra_len && !decode_rp(&rp, false))
		return decode_rp(&rp, true);
	/* an RP message type octet (spare bits 0, a known MTI) and an RP
	 * error: that is what the operator wants to hear about */
	return decode_tpdu(in, n, dir, imsctl_flag(&o, "rp-error"),
			   err && in[0] <= SMS_RP_SMMA && !dir ? &e : NULL);
}

int imsctl_sms_main(int argc, char **argv)
{
	bool help = false;

	for (int i = 0; i < argc; i++)
		help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
	if (argc < 1 || (help && strcmp(argv[0], "decode") && strcmp(argv[0], "encode"))) {
		fputs(sms_help, help ? stdout : stderr);
		return help ? IMSCTL_EXIT_OK : IMSCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[0], "decode")) {
		if (help) {
			fputs(decode_help, stdout);
			return IMSCTL_EXIT_OK;
		}
		return run_decode(argc - 1, argv + 1);
	}
	if (!strcmp(argv[0], "encode"))
		return imsctl_sms_encode_main(argc - 1, argv + 1, help);
	imsctl_err("sms", "unknown subcommand \"%s\" (decode or encode)", argv[0]);
	return IMSCTL_EXIT_USAGE;
}
