/*
 * imsctl sms encode — SMS-SUBMIT or SMS-DELIVER (TS 23.040 §9.2.2.1/2),
 * optionally in RP-DATA (TS 24.011 §7.3.1), from options or from a JSON
 * document with the same names. Text longer than one SMS is split with a
 * concatenation header, in GSM 7-bit when it fits the alphabet, else UCS2;
 * one hex line per part.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sms/sms_rp.h"
#include "tools/imsctl_sms.h"

static const char encode_help[] =
	"usage: imsctl sms encode [--type submit|deliver] [--rp mo|mt] [options]\n"
	"       imsctl sms encode --json FILE   (\"-\" reads stdin)\n\n"
	"Builds an SMS-SUBMIT (the phone's message, TS 23.040 §9.2.2.2) or an\n"
	"SMS-DELIVER (the network's, §9.2.2.1) and prints it as hex, one line per\n"
	"part. With --rp the TPDU goes in RP-DATA (TS 24.011 §7.3.1): --rp mo\n"
	"(ms->n, RP-DA = --smsc) for a submit, --rp mt (n->ms, RP-OA = --smsc,\n"
	"RP-DA empty) for a deliver.\n\n"
	"  --type submit|deliver  default submit\n"
	"  --to NUMBER            submit: TP-DA (+E.164, digits, or text)\n"
	"  --from NUMBER          deliver: TP-OA (+E.164, digits, or up to 11\n"
	"                         GSM characters, sent alphanumeric)\n"
	"  --text TEXT            UTF-8 text; longer than one SMS: concatenated parts\n"
	"  --ucs2                 UCS2 even when GSM 7-bit would do\n"
	"  --ref N --ref16        concatenation reference (8-bit, or 16-bit IE 08)\n"
	"  --ud-hex HEX           binary user data instead of text (8-bit or UCS2\n"
	"                         --dcs, default 4), --udh-hex HEX its header\n"
	"  --dcs N --pid N        TP-DCS, TP-PID (decimal or 0x..)\n"
	"  --mr N                 submit: TP-MR (default 0)\n"
	"  --vp N                 submit: relative TP-VP value 0-255\n"
	"  --srr --rd             submit: status report request, reject duplicates\n"
	"  --sri                  deliver: a status report will be returned\n"
	"  --reply-path           TP-RP\n"
	"  --scts UNIX --tz Q     deliver: TP-SCTS (default now, UTC) and its time\n"
	"                         zone in quarter hours (-79..79)\n"
	"  --rp mo|mt --rp-mr N --smsc NUMBER   the RP-DATA around each part\n\n"
	"A JSON document uses the same names: {\"type\": \"deliver\", \"from\":\n"
	"\"+33612345678\", \"text\": \"hi\", \"rp\": \"mt\", \"smsc\": \"+3368900000\"};\n"
	"true sets a flag, numbers may be JSON numbers.\n\n"
	"examples:\n"
	"  imsctl sms encode --to +46708251358 --text hellohello --vp 170\n"
	"  imsctl sms encode --type deliver --from +33612345678 --text 'Привет' \\\n"
	"      --scts 1796551200 --tz 4 --rp mt --smsc +3368900000\n"
	"  echo '{\"to\": \"+4670\", \"ud-hex\": \"0102\", \"dcs\": 4}' | imsctl sms encode --json -\n";

static const struct imsctl_optdef encode_defs[] = {
	{"type", true},	 {"to", true},	  {"from", true},	 {"text", true},
	{"ucs2", false}, {"ref", true},	  {"ref16", false},	 {"ud-hex", true},
	{"udh-hex", true}, {"dcs", true}, {"pid", true},	 {"mr", true},
	{"vp", true},	 {"srr", false},  {"rd", false},	 {"sri", false},
	{"reply-path", false}, {"scts", true}, {"tz", true},	 {"rp", true},
	{"rp-mr", true}, {"smsc", true},  {"json", true},
};

#define N_DEFS (sizeof(encode_defs) / sizeof(encode_defs[0]))
#define PARTS_MAX 32

struct enc {
	struct imsctl_opts *o;
	struct sms_tpdu t;
	struct sms_ud parts[PARTS_MAX];
	size_t nparts;
	char nums[IMSCTL_OPT_MAX][32]; /* numbers from a JSON document */
};

static int num(struct imsctl_opts *o, const char *name, long min, long max, long *v)
{
	const char *s = imsctl_opt(o, name);
	char *end = NULL;
	long x;

	if (!s)
		return 0;
	errno = 0;
	x = strtol(s, &end, 0);
	if (!*s || errno || *end || x < min || x > max) {
		imsctl_err(o->cmd, "--%s: expected a number from %ld to %ld, got \"%s\"", name,
			   min, max, s);
		return IMSCTL_EXIT_USAGE;
	}
	*v = x;
	return 0;
}

static int hexopt(struct imsctl_opts *o, const char *name, uint8_t *out, size_t size,
		  size_t *n)
{
	const char *s = imsctl_opt(o, name);

	if (sms_hex_decode(s, strlen(s), out, size, n)) {
		imsctl_err(o->cmd, "--%s: expected hex of at most %zu octets", name, size);
		return IMSCTL_EXIT_USAGE;
	}
	return 0;
}

/* --text: split into parts; --ud-hex: one binary part. */
static int user_data(struct enc *e)
{
	struct imsctl_opts *o = e->o;
	const char *text = imsctl_opt(o, "text");
	long ref = 0, dcs = 4;
	size_t n = 0;
	int err;

	if ((text != NULL) == (imsctl_opt(o, "ud-hex") != NULL)) {
		imsctl_err(o->cmd, "give exactly one of --text and --ud-hex");
		return IMSCTL_EXIT_USAGE;
	}
	if (text) {
		struct sms_split_prm prm = {.ref16 = imsctl_flag(o, "ref16"),
					    .force_ucs2 = imsctl_flag(o, "ucs2"),
					    .max_parts = PARTS_MAX};

		err = num(o, "ref", 0, prm.ref16 ? 65535 : 255, &ref);
		if (err)
			return err;
		prm.ref = (uint16_t)ref;
		err = sms_text_split(text, strlen(text), &prm, e->parts, &e->nparts, &e->t.dcs);
		if (err) {
			imsctl_err(o->cmd, "--text: %s",
				   err == EMSGSIZE ? "longer than 32 parts" : "not valid UTF-8");
			return IMSCTL_EXIT_USAGE;
		}
		/* an explicit --dcs (a class, say) must name the same alphabet */
		if (num(o, "dcs", 0, 255, &dcs))
			return IMSCTL_EXIT_USAGE;
		if (imsctl_opt(o, "dcs")) {
			struct sms_dcs want, got;

			sms_dcs_parse(e->t.dcs, &want);
			sms_dcs_parse((uint8_t)dcs, &got);
			if (got.alphabet != want.alphabet || got.compressed) {
				imsctl_err(o->cmd, "--dcs: the text needs the %s alphabet",
					   want.alphabet == SMS_ALPHA_UCS2 ? "UCS2" : "GSM 7-bit");
				return IMSCTL_EXIT_USAGE;
			}
			e->t.dcs = (uint8_t)dcs;
		}
		return 0;
	}
	memset(&e->parts[0], 0, sizeof(e->parts[0]));
	e->nparts = 1;
	err = num(o, "dcs", 0, 255, &dcs);
	if (err)
		return err;
	e->t.dcs = (uint8_t)dcs;
	{
		struct sms_dcs d;

		sms_dcs_parse(e->t.dcs, &d);
		if (d.alphabet == SMS_ALPHA_GSM7 && !d.compressed) {
			imsctl_err(o->cmd, "--ud-hex needs an 8-bit or UCS2 --dcs (use --text "
					   "for GSM 7-bit)");
			return IMSCTL_EXIT_USAGE;
		}
	}
	err = hexopt(o, "ud-hex", e->parts[0].data, SMS_UD_OCTETS_MAX, &n);
	if (err)
		return err;
	e->parts[0].data_len = (uint16_t)n;
	if (imsctl_opt(o, "udh-hex")) {
		err = hexopt(o, "udh-hex", e->parts[0].udh, SMS_UD_OCTETS_MAX - 1, &n);
		if (err)
			return err;
		e->parts[0].udh_len = (uint8_t)n;
	}
	return 0;
}

static int address(struct imsctl_opts *o, const char *name, struct sms_addr *a)
{
	const char *s;

	if (imsctl_need(o, name, &s))
		return IMSCTL_EXIT_USAGE;
	if (sms_addr_set(a, s) || !a->present) {
		imsctl_err(o->cmd, "--%s: \"%s\" is not a number of up to 20 digits nor up to "
				   "11 GSM characters", name, s);
		return IMSCTL_EXIT_USAGE;
	}
	return 0;
}

static int tpdu_fields(struct enc *e, bool deliver)
{
	struct imsctl_opts *o = e->o;
	struct sms_tpdu *t = &e->t;
	long pid = 0, mr = 0, vp = -1, scts = (long)time(NULL), tz = 0;
	int err;

	t->type = deliver ? SMS_TP_DELIVER : SMS_TP_SUBMIT;
	t->has_pid = t->has_dcs = t->has_ud = true;
	err = address(o, deliver ? "from" : "to", &t->addr);
	if (!err)
		err = num(o, "pid", 0, 255, &pid);
	if (!err)
		err = num(o, "mr", 0, 255, &mr);
	if (!err)
		err = num(o, "vp", 0, 255, &vp);
	if (!err)
		err = num(o, "scts", 0, 0x7fffffffL, &scts);
	if (!err)
		err = num(o, "tz", -79, 79, &tz);
	if (err)
		return err;
	t->pid = (uint8_t)pid;
	t->rp = imsctl_flag(o, "reply-path");
	if (deliver) {
		t->sri = imsctl_flag(o, "sri");
		t->mms = true; /* no more messages waiting */
		sms_ts_from_unix(&t->scts, scts, (int)tz);
		return 0;
	}
	t->mr = (uint8_t)mr;
	t->srr = imsctl_flag(o, "srr");
	t->rd = imsctl_flag(o, "rd");
	if (vp >= 0) {
		t->vp.vpf = SMS_VPF_RELATIVE;
		t->vp.rel = (uint8_t)vp;
	}
	return 0;
}

static int print_parts(struct enc *e, const char *rp, const struct sms_addr *smsc, long rp_mr)
{
	for (size_t k = 0; k < e->nparts; k++) {
		uint8_t tp[SMS_TPDU_MAX], out[SMS_RP_MAX];
		char hex[2 * SMS_RP_MAX + 1];
		size_t n, m;
		struct sms_rp r;

		e->t.ud = e->parts[k];
		e->t.udhi = e->parts[k].udh_len > 0;
		if (sms_tpdu_encode(&e->t, tp, sizeof(tp), &n)) {
			imsctl_err(e->o->cmd, "the user data does not fit one TPDU");
			return IMSCTL_EXIT_USAGE;
		}
		if (!rp) {
			sms_hex_encode(tp, n, hex, sizeof(hex));
			puts(hex);
			continue;
		}
		sms_rp_data_init(&r, strcmp(rp, "mt") ? SMS_DIR_MO : SMS_DIR_MT,
				 (uint8_t)(rp_mr + (long)k), tp, n);
		if (strcmp(rp, "mt"))
			r.da = *smsc;
		else
			r.oa = *smsc;
		if (sms_rp_encode(&r, out, sizeof(out), &m)) {
			imsctl_err(e->o->cmd, "--smsc: cannot be sent as an RP address");
			return IMSCTL_EXIT_USAGE;
		}
		sms_hex_encode(out, m, hex, sizeof(hex));
		puts(hex);
	}
	return 0;
}

static int encode(struct enc *e)
{
	struct imsctl_opts *o = e->o;
	const char *type = imsctl_opt(o, "type"), *rp = imsctl_opt(o, "rp");
	struct sms_addr smsc;
	long rp_mr = 0;
	bool deliver;
	int err;

	if (type && strcmp(type, "submit") && strcmp(type, "deliver")) {
		imsctl_err(o->cmd, "--type: expected submit or deliver, got \"%s\"", type);
		return IMSCTL_EXIT_USAGE;
	}
	deliver = type && !strcmp(type, "deliver");
	if (rp && strcmp(rp, deliver ? "mt" : "mo")) {
		imsctl_err(o->cmd, "--rp: a %s goes in RP-DATA %s", deliver ? "deliver" : "submit",
			   deliver ? "mt" : "mo");
		return IMSCTL_EXIT_USAGE;
	}
	err = tpdu_fields(e, deliver);
	if (!err)
		err = user_data(e);
	if (!err && rp)
		err = address(o, "smsc", &smsc);
	if (!err)
		err = num(o, "rp-mr", 0, 255, &rp_mr);
	if (err)
		return err;
	return print_parts(e, rp, &smsc, rp_mr);
}

/* Options from a JSON object: strings as given, numbers printed, true a flag. */
static int from_json(struct enc *e, const char *path, json_t **docp)
{
	struct imsctl_opts *o = e->o;
	json_error_t jerr;
	json_t *doc, *v;
	const char *key;

	doc = strcmp(path, "-") ? json_load_file(path, 0, &jerr) : json_loadf(stdin, 0, &jerr);
	if (!doc || !json_is_object(doc)) {
		imsctl_err(o->cmd, "--json %s: %s", path, doc ? "not an object" : jerr.text);
		json_decref(doc);
		return IMSCTL_EXIT_USAGE;
	}
	*docp = doc;
	memset(o->seen, 0, sizeof(o->seen));
	json_object_foreach(doc, key, v) {
		size_t k;

		for (k = 0; k < N_DEFS && strcmp(encode_defs[k].name, key); k++)
			;
		if (k == N_DEFS || !strcmp(key, "json")) {
			imsctl_err(o->cmd, "--json: unknown name \"%s\"", key);
			return IMSCTL_EXIT_USAGE;
		}
		if (json_is_false(v) || json_is_null(v))
			continue;
		if (json_is_true(v) != !encode_defs[k].has_arg ||
		    (encode_defs[k].has_arg && !json_is_string(v) && !json_is_integer(v))) {
			imsctl_err(o->cmd, "--json: \"%s\" has the wrong type", key);
			return IMSCTL_EXIT_USAGE;
		}
		o->seen[k] = true;
		if (json_is_string(v)) {
			o->val[k] = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(e->nums[k], sizeof(e->nums[k]), "%lld",
				 (long long)json_integer_value(v));
			o->val[k] = e->nums[k];
		}
	}
	return 0;
}

int imsctl_sms_encode_main(int argc, char **argv, bool help)
{
	struct imsctl_opts o;
	struct enc *e;
	json_t *doc = NULL;
	const char *path;
	int err;

	if (help) {
		fputs(encode_help, stdout);
		return IMSCTL_EXIT_OK;
	}
	err = imsctl_sms_parse("sms encode", encode_defs, N_DEFS, argc, argv, &o, NULL);
	if (err)
		return err;
	e = calloc(1, sizeof(*e));
	if (!e)
		return IMSCTL_EXIT_FAIL;
	e->o = &o;
	path = imsctl_opt(&o, "json");
	for (size_t k = 0; path && k < N_DEFS; k++) {
		if (o.seen[k] && strcmp(encode_defs[k].name, "json")) {
			imsctl_err(o.cmd, "--json takes no other option");
			err = IMSCTL_EXIT_USAGE;
			goto out;
		}
	}
	if (path)
		err = from_json(e, path, &doc);
	if (!err)
		err = encode(e);
out:
	json_decref(doc);
	free(e);
	return err;
}
