// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * SVG flame graphs.  The stacks are sorted, which brings together those that
 * share a prefix, and merged in a walk over them: every merged frame wide
 * enough to see becomes a box whose width is proportional to its value, the
 * root ("all") at the bottom.  Frames are written as the walk leaves them,
 * children before parents, "all" last.  A small inline script zooms on
 * click; everything else is static so that the file still reads well where
 * scripts do not run.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"

/* Geometry, in px. */
#define FG_WIDTH	1200
#define FG_XPAD		10
#define FG_GRAPH_W	(FG_WIDTH - 2 * FG_XPAD)
#define FG_FRAME_H	16
#define FG_TOP		36	/* title and "Reset zoom" */
#define FG_BOTTOM	30	/* details of the hovered frame */
#define FG_CHAR_W	7	/* Verdana at 12px averages about 7px a character */
#define FG_MIN_W	0.1	/* narrower boxes are invisible, only bloat the file */

/* A frame on the path of the current stack, in the sorted walk. */
struct fg_level {
	const char *name;	/* borrowed from the caller's stacks */
	uint64_t off;		/* left edge, in value units from the left of "all" */
	uint64_t value;		/* so far: final once the walk leaves the frame */
};

struct fg_ctx {
	FILE *out;
	uint64_t total;
	const struct flame_stack **order;	/* sorted, as the walk sees them */
	size_t nr;
	size_t max_nr;		/* frames in the deepest stack */
	struct fg_level *path;	/* max_nr + 1 levels, "all" first */
	size_t depth;		/* frames on the path */
	uint64_t cursor;	/* value of the stacks walked so far */
	bool emit;		/* second walk: write frames, not measure */
	size_t max_depth;	/* of the frames wide enough to draw */
	char *unit;		/* sanitized */
	char *buf;		/* sanitized frame name */
	size_t buf_cap;
	size_t height;
};

/* --- text ------------------------------------------------------------ */

/*
 * Length of the UTF-8 sequence at S if XML can carry it and it shows as
 * something, else 0.  Control characters (C0, DEL, C1), surrogates,
 * overlong forms and U+FFFE/U+FFFF are refused: either the XML parser
 * rejects the whole document for them or they would garble the label.
 */
static size_t utf8_len(const unsigned char *s)
{
	static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	cp = s[0] & (0x7f >> n);
	/* A NUL is not a continuation byte: no read past the end. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

/* Copy SRC to DST (strlen(SRC) + 1 bytes) with every bad byte as '?'. */
static size_t sanitize(char *dst, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = 0, n;

	while (*s) {
		n = utf8_len(s);
		if (!n) {
			dst[len++] = '?';
			s++;
			continue;
		}
		memcpy(dst + len, s, n);
		len += n;
		s += n;
	}
	dst[len] = '\0';
	return len;
}

static char *sanitize_dup(const char *src)
{
	char *dst = malloc(strlen(src) + 1);

	if (dst)
		sanitize(dst, src);
	return dst;
}

/*
 * UTF-16 units of the first LEN bytes of sanitized S, the unit the script's
 * strings count in: C and JS then cut labels at the same place.
 */
static size_t u16_len(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80)
			n++;
		if (c >= 0xf0)
			n++;
	}
	return n;
}

/* Bytes of sanitized S making its longest prefix of at most MAX UTF-16 units. */
static size_t u16_prefix(const char *s, size_t len, size_t max)
{
	size_t i = 0, n = 0, step;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		step = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (n + (step == 4 ? 2 : 1) > max)
			break;
		n += step == 4 ? 2 : 1;
		i += step;
	}
	return i;
}

static void put_escaped(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fputc(s[i], out);
		}
	}
}

/* As many characters of S as fit in W px, ".." marking a cut, or nothing. */
static void put_label(FILE *out, const char *s, size_t len, double w)
{
	size_t fit = (size_t)(w / FG_CHAR_W);

	if (fit < 3)
		return;
	if (u16_len(s, len) <= fit) {
		put_escaped(out, s, len);
		return;
	}
	put_escaped(out, s, u16_prefix(s, len, fit - 2));
	fputs("..", out);
}

/* V with thousands separators: sizes in bytes are long. */
static const char *fmt_value(char buf[32], uint64_t v)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
	size_t j = 0;

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = digits[i];
	}
	buf[j] = '\0';
	return buf;
}

/*
 * Non-negative V with two decimals.  Integer formatting because %f follows
 * LC_NUMERIC and a decimal comma would break the attributes and the script.
 */
static const char *fmt_fixed2(char buf[32], double v)
{
	unsigned long long h = (unsigned long long)(v * 100 + 0.5);

	snprintf(buf, 32, "%llu.%02llu", h / 100, h % 100);
	return buf;
}

/* --- layout ---------------------------------------------------------- */

static int cmp_stacks(const void *pa, const void *pb)
{
	const struct flame_stack *a = *(const struct flame_stack *const *)pa;
	const struct flame_stack *b = *(const struct flame_stack *const *)pb;
	size_t n = a->nr < b->nr ? a->nr : b->nr;

	for (size_t i = 0; i < n; i++) {
		int r = strcmp(a->frames[i], b->frames[i]);

		if (r)
			return r;
	}
	return (a->nr > b->nr) - (a->nr < b->nr);
}

/* Sort the stacks so that those sharing a prefix are adjacent, children by name. */
static int sort_stacks(struct fg_ctx *c, const struct flame_stack *stacks, size_t nr)
{
	size_t i;

	c->order = calloc(nr ? nr : 1, sizeof(*c->order));
	if (!c->order)
		return -ENOMEM;
	/* Zero weights would only make invisible boxes. */
	for (i = 0; i < nr; i++)
		if (stacks[i].value)
			c->order[c->nr++] = &stacks[i];
	qsort(c->order, c->nr, sizeof(*c->order), cmp_stacks);
	return 0;
}

/* --- drawing --------------------------------------------------------- */

static double px(const struct fg_ctx *c, uint64_t v)
{
	/* With nothing to show, "all" still spans the graph. */
	if (!c->total)
		return FG_GRAPH_W;
	return (double)v * FG_GRAPH_W / (double)c->total;
}

static bool drawn(const struct fg_ctx *c, uint64_t value)
{
	return px(c, value) >= FG_MIN_W;
}

/* A warm colour that stays the same for a name from one graph to the next. */
static void name_colour(const char *name, unsigned int rgb[3])
{
	uint32_t h = 2166136261u;

	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		h = (h ^ *s) * 16777619u;
	/* FNV-1a mixes its high bits poorly; fold them in before slicing. */
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	rgb[0] = 205 + h % 51;
	rgb[1] = (h >> 8) % 231;
	rgb[2] = (h >> 20) % 56;
}

static int prepare_name(struct fg_ctx *c, const char *name, size_t *len)
{
	size_t need = strlen(name) + 1;

	if (need > c->buf_cap) {
		char *buf = realloc(c->buf, need);

		if (!buf)
			return -ENOMEM;
		c->buf = buf;
		c->buf_cap = need;
	}
	*len = sanitize(c->buf, name);
	return 0;
}

/* Hover text: "name (VALUE UNIT, P%)". */
static void write_title(struct fg_ctx *c, size_t len, uint64_t value)
{
	double pct = c->total ? 100.0 * (double)value / (double)c->total : 100.0;
	char num[32], fix[32];

	fputs("<title>", c->out);
	put_escaped(c->out, c->buf, len);
	fprintf(c->out, " (%s ", fmt_value(num, value));
	put_escaped(c->out, c->unit, strlen(c->unit));
	fprintf(c->out, ", %s%%)</title>", fmt_fixed2(fix, pct));
}

static int write_frame(struct fg_ctx *c, const struct fg_level *f, size_t depth)
{
	double x = FG_XPAD + px(c, f->off), w = px(c, f->value);
	size_t y = c->height - FG_BOTTOM - (depth + 1) * FG_FRAME_H;
	char xs[32], ws[32], ts[32];
	unsigned int rgb[3];
	size_t len;
	int err;

	err = prepare_name(c, f->name, &len);
	if (err)
		return err;
	name_colour(f->name, rgb);
	fmt_fixed2(xs, x);
	fmt_fixed2(ws, w);
	/* data-l: length of the name at the start of the title, for the script. */
	fprintf(c->out, "<g class=\"frame\" data-x=\"%s\" data-w=\"%s\" data-l=\"%zu\">",
		xs, ws, u16_len(c->buf, len));
	write_title(c, len, f->value);
	fprintf(c->out, "<rect x=\"%s\" y=\"%zu\" width=\"%s\" height=\"%d\" rx=\"2\" fill=\"rgb(%u,%u,%u)\"/>",
		xs, y, ws, FG_FRAME_H - 1, rgb[0], rgb[1], rgb[2]);
	fprintf(c->out, "<text x=\"%s\" y=\"%zu\">", fmt_fixed2(ts, x + 3), y + 11);
	put_label(c->out, c->buf, len, w);
	fputs("</text></g>\n", c->out);
	return 0;
}

/* The walk left the frame at DEPTH: its value is final, draw or measure it. */
static int leave_frame(struct fg_ctx *c, size_t depth)
{
	/* Children are no wider than their parent: a narrow subtree all goes. */
	if (!drawn(c, c->path[depth].value))
		return 0;
	if (c->emit)
		return write_frame(c, &c->path[depth], depth);
	if (depth > c->max_depth)
		c->max_depth = depth;
	return 0;
}

static int leave_to(struct fg_ctx *c, size_t depth)
{
	int err;

	for (; c->depth > depth; c->depth--) {
		err = leave_frame(c, c->depth);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Add S to the path.  The stacks being sorted, the frames of S that match
 * the path are the only ones it shares with any stack walked so far, and
 * the others open at the cursor: left to right in name order, a frame's
 * own value left of its children.
 */
static int walk_stack(struct fg_ctx *c, const struct flame_stack *s)
{
	struct fg_level *path = c->path;
	size_t d = 0;
	int err;

	while (d < c->depth && d < s->nr && !strcmp(path[d + 1].name, s->frames[d]))
		d++;
	err = leave_to(c, d);
	if (err)
		return err;
	for (; d < s->nr; d++)
		path[d + 1] = (struct fg_level){ .name = s->frames[d], .off = c->cursor };
	c->depth = s->nr;
	for (d = 0; d <= s->nr; d++)
		path[d].value += s->value;
	c->cursor += s->value;
	return 0;
}

/*
 * Merge the sorted stacks on the fly: each frame is finished, and drawn,
 * as soon as a stack leaves it, so memory stays proportional to the depth.
 * Done twice: to find the height of the picture, then to draw it.
 */
static int walk(struct fg_ctx *c, bool emit)
{
	int err;

	c->emit = emit;
	c->depth = 0;
	c->cursor = 0;
	c->path[0] = (struct fg_level){ .name = "all" };
	for (size_t i = 0; i < c->nr; i++) {
		err = walk_stack(c, c->order[i]);
		if (err)
			return err;
	}
	err = leave_to(c, 0);
	if (err)
		return err;
	return leave_frame(c, 0);
}

static const char fg_style[] =
	"text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }\n"
	"#title { font-size: 17px; }\n"
	"#unzoom { cursor: pointer; fill: #00c; }\n"
	".frame { cursor: pointer; }\n"
	".frame:hover rect { stroke: #000; stroke-width: 0.5; }\n"
	".up rect { fill: #ccc; }\n"
	".hide { display: none; }\n";

/*
 * Zoom on click.  Frames keep their unzoomed box in data-x/data-w; the box
 * of a frame z is the reference: frames above it inside its box are its
 * subtree (rescaled), frames below whose box holds it are its ancestors
 * (full width, greyed), everything else is hidden.  E absorbs the rounding
 * of coordinates to 0.01 px, well under FG_MIN_W.
 */
static const char fg_script[] =
	"var svg = document.documentElement;\n"
	"var frames = document.getElementsByClassName(\"frame\");\n"
	"var unzoom = document.getElementById(\"unzoom\");\n"
	"var details = document.getElementById(\"details\");\n"
	"function child(g, tag) { return g.getElementsByTagName(tag)[0]; }\n"
	"function num(e, a) { return parseFloat(e.getAttribute(a)); }\n"
	"function label(s, w) {\n"
	"\tvar n = Math.floor(w / CW), k;\n"
	"\tif (n < 3) return \"\";\n"
	"\tif (s.length <= n) return s;\n"
	"\tk = n - 2;\n"
	"\tif (/[\\ud800-\\udbff]/.test(s.charAt(k - 1))) k--;\n"
	"\treturn s.substr(0, k) + \"..\";\n"
	"}\n"
	"function place(g, x, w, cls) {\n"
	"\tvar t = child(g, \"text\"), r = child(g, \"rect\");\n"
	"\tg.setAttribute(\"class\", cls);\n"
	"\tr.setAttribute(\"x\", x.toFixed(2));\n"
	"\tr.setAttribute(\"width\", w.toFixed(2));\n"
	"\tt.setAttribute(\"x\", (x + 3).toFixed(2));\n"
	"\tt.textContent = label(child(g, \"title\").textContent.substr(0, num(g, \"data-l\")), w);\n"
	"}\n"
	"function reset() {\n"
	"\tfor (var i = 0; i < frames.length; i++)\n"
	"\t\tplace(frames[i], num(frames[i], \"data-x\"), num(frames[i], \"data-w\"), \"frame\");\n"
	"\tunzoom.setAttribute(\"class\", \"hide\");\n"
	"}\n"
	"function zoom(z) {\n"
	"\tvar zx = num(z, \"data-x\"), zw = num(z, \"data-w\"), zy = num(child(z, \"rect\"), \"y\");\n"
	"\tvar s = W / zw, e = 0.05, i, f, x, w, y;\n"
	"\tfor (i = 0; i < frames.length; i++) {\n"
	"\t\tf = frames[i];\n"
	"\t\tx = num(f, \"data-x\"); w = num(f, \"data-w\"); y = num(child(f, \"rect\"), \"y\");\n"
	"\t\tif (y <= zy && x >= zx - e && x + w <= zx + zw + e)\n"
	"\t\t\tplace(f, X0 + (x - zx) * s, w * s, \"frame\");\n"
	"\t\telse if (y > zy && x <= zx + e && x + w >= zx + zw - e)\n"
	"\t\t\tplace(f, X0, W, \"frame up\");\n"
	"\t\telse\n"
	"\t\t\tf.setAttribute(\"class\", \"frame hide\");\n"
	"\t}\n"
	"\tunzoom.setAttribute(\"class\", \"\");\n"
	"}\n"
	"function frameOf(n) {\n"
	"\tfor (; n && n.getAttribute; n = n.parentNode)\n"
	"\t\tif (/(^| )frame( |$)/.test(n.getAttribute(\"class\") || \"\")) return n;\n"
	"\treturn null;\n"
	"}\n"
	"svg.addEventListener(\"click\", function (ev) {\n"
	"\tvar g = frameOf(ev.target);\n"
	"\tif (ev.target === unzoom || g === frames[frames.length - 1]) reset();\n"
	"\telse if (g) zoom(g);\n"
	"});\n"
	"svg.addEventListener(\"mouseover\", function (ev) {\n"
	"\tvar g = frameOf(ev.target);\n"
	"\tdetails.textContent = g ? child(g, \"title\").textContent : \" \";\n"
	"});\n";

static int write_header(struct fg_ctx *c, const char *title)
{
	char *t = sanitize_dup(title);
	char num[32];

	if (!t)
		return -ENOMEM;
	fprintf(c->out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" viewBox=\"0 0 %d %zu\">\n",
		FG_WIDTH, c->height, FG_WIDTH, c->height);
	fprintf(c->out, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_style);
	fprintf(c->out, "<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f8\"/>\n");
	fprintf(c->out, "<text id=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", FG_WIDTH / 2);
	put_escaped(c->out, t, strlen(t));
	/* U+2014 EM DASH, spelled in bytes to keep this file ASCII. */
	fprintf(c->out, " \xe2\x80\x94 total %s ", fmt_value(num, c->total));
	put_escaped(c->out, c->unit, strlen(c->unit));
	fputs("</text>\n", c->out);
	fprintf(c->out, "<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"24\">Reset zoom</text>\n", FG_XPAD);
	fprintf(c->out, "<text id=\"details\" x=\"%d\" y=\"%zu\"> </text>\n", FG_XPAD, c->height - 10);
	free(t);
	return 0;
}

static void write_footer(struct fg_ctx *c)
{
	/* At the end so that the elements it looks up already exist. */
	fprintf(c->out, "<script type=\"text/ecmascript\"><![CDATA[\n"
		"var W = %d, X0 = %d, CW = %d;\n%s]]></script>\n</svg>\n",
		FG_GRAPH_W, FG_XPAD, FG_CHAR_W, fg_script);
}

/* Validate STACKS and sum their values. */
static int check_stacks(struct fg_ctx *c, const struct flame_stack *stacks, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		const struct flame_stack *s = &stacks[i];

		if (s->nr && !s->frames)
			return -EINVAL;
		for (size_t j = 0; j < s->nr; j++)
			if (!s->frames[j])
				return -EINVAL;
		/* Every frame value is a partial sum of the total: one check covers all. */
		if (s->value > UINT64_MAX - c->total)
			return -EINVAL;
		c->total += s->value;
		if (s->nr > c->max_nr)
			c->max_nr = s->nr;
	}
	return 0;
}

static int write_svg(struct fg_ctx *c, const char *title, const struct flame_stack *stacks, size_t nr)
{
	int err;

	c->path = calloc(c->max_nr + 1, sizeof(*c->path));
	if (!c->path)
		return -ENOMEM;
	err = sort_stacks(c, stacks, nr);
	if (err)
		return err;
	err = walk(c, false);
	if (err)
		return err;
	c->height = FG_TOP + (c->max_depth + 1) * FG_FRAME_H + FG_BOTTOM;
	err = write_header(c, title);
	if (err)
		return err;
	err = walk(c, true);
	if (err)
		return err;
	write_footer(c);
	/* stdio reports failed writes late: flush to see them. */
	if (fflush(c->out) || ferror(c->out))
		return -EIO;
	return 0;
}

int flamegraph_write_svg(FILE *out, const char *title, const char *unit, const struct flame_stack *stacks, size_t nr)
{
	struct fg_ctx c = { .out = out };
	int err;

	if (!out || !title || !unit || (!stacks && nr))
		return -EINVAL;
	err = check_stacks(&c, stacks, nr);
	if (err)
		return err;
	c.unit = sanitize_dup(unit);
	err = c.unit ? write_svg(&c, title, stacks, nr) : -ENOMEM;
	free(c.unit);
	free(c.buf);
	free(c.path);
	free(c.order);
	return err;
}
