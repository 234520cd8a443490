/*
 * profile_write.c — the profile writers (text, JSON, folded, speedscope,
 * SVG flame graph) and the diff writers (text, JSON, folded pairs,
 * differential SVG).
 */
#include "perfbisect/profile.h"
#include "profile_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(6))

static int oom(pb_error *err)
{
    return pb_error_set(err, PB_ENOMEM, "out of memory");
}

/* Append a jansson value (stolen) as text plus a newline. */
static int put_json(pb_buf *out, json_t *root, size_t flags, pb_error *err)
{
    int rc = 0;
    char *text = root ? json_dumps(root, flags) : NULL;
    if (!text || pb_buf_puts(out, text) < 0 || pb_buf_puts(out, "\n") < 0)
        rc = oom(err);
    free(text);
    json_decref(root);
    return rc;
}

static double round_pct(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* ---- text that is not always UTF-8 ------------------------------------- */

/*
 * Function, module and file names come from binaries and the file system,
 * the title from the user: bytes, not always UTF-8 (a Latin-1 file name).
 * JSON and XML need valid UTF-8, so bad bytes become U+FFFD in them (the
 * text and folded outputs keep the bytes). NULL only when memory runs out.
 */
static json_t *json_text(const char *s)
{
    pb_buf b = PB_BUF_INIT;
    json_t *j = pb_buf_put_utf8(&b, s) < 0 ? NULL : json_stringn(pb_buf_cstr(&b), b.len);
    pb_buf_free(&b);
    return j;
}

/* ---- text and JSON ---------------------------------------------------- */

static int write_text(const pb_profile *p, const pb_profile_write_options *o, pb_buf *out,
                      pb_error *err)
{
    pb_profile_function *fns = NULL;
    size_t n = 0;
    pb_profile_info info;
    pb_profile_get_info(p, &info);
    int rc = pb_profile_functions(p, &fns, &n, err);
    if (rc < 0)
        return rc;
    int w = 0;
    w |= pb_buf_printf(out, "%llu samples", (unsigned long long)info.samples);
    if (info.processes)
        w |= pb_buf_printf(out,
                           " from %u process%s, %u thread%s; %.2f s CPU (%.2f s user); "
                           "%.0f samples per CPU-second (%u Hz asked, %s); %llu lost",
                           info.processes, info.processes == 1 ? "" : "es", info.threads,
                           info.threads == 1 ? "" : "s", info.cpu_seconds, info.user_seconds,
                           info.effective_hz, info.hz, info.mode, (unsigned long long)info.lost);
    w |= pb_buf_puts(out, "\n");
    double margin = pb_profile_share_margin(info.samples);
    if (info.samples == 0)
        w |= pb_buf_puts(out, "warning: no samples\n");
    else if (margin > 5.0)
        w |= pb_buf_printf(out,
                           "warning: only %llu samples: a share is uncertain by up to "
                           "+/-%.1f points (95%%); record longer or at a higher rate\n",
                           (unsigned long long)info.samples, margin);
    char lost[160];
    if (pb_profile_lost_warning(&info, lost, sizeof lost))
        w |= pb_buf_printf(out, "warning: %s\n", lost);
    if (info.cut)
        w |= pb_buf_printf(out,
                           "warning: %llu samples (%.1f%%) had stacks deeper than the part "
                           "recorded: their outermost callers are missing from the totals; "
                           "record with PERFPROF_STACK set higher\n",
                           (unsigned long long)info.cut,
                           info.samples ? 100.0 * (double)info.cut / (double)info.samples : 0.0);
    w |= pb_buf_printf(out, "\n%7s %7s %9s %9s  %s\n", "self%", "total%", "self", "total",
                       "function");
    size_t limit = o->top && o->top < n ? o->top : n;
    for (size_t i = 0; i < limit; i++) {
        w |= pb_buf_printf(out, "%7.2f %7.2f %9llu %9llu  %s", fns[i].self_pct, fns[i].total_pct,
                           (unsigned long long)fns[i].self, (unsigned long long)fns[i].total,
                           fns[i].name);
        if (fns[i].file)
            w |= pb_buf_printf(out, "  (%s:%u)", fns[i].file, fns[i].line);
        w |= pb_buf_puts(out, "\n");
    }
    if (limit < n)
        w |= pb_buf_printf(out, "... %zu more functions\n", n - limit);
    free(fns);
    return w ? oom(err) : 0;
}

static int write_json(const pb_profile *p, const pb_profile_write_options *o, pb_buf *out,
                      pb_error *err)
{
    pb_profile_function *fns = NULL;
    size_t n = 0;
    pb_profile_info info;
    pb_profile_get_info(p, &info);
    int rc = pb_profile_functions(p, &fns, &n, err);
    if (rc < 0)
        return rc;
    json_t *root = json_object();
    json_t *arr = json_array();
    int bad = !root || !arr;
    size_t limit = o->top && o->top < n ? o->top : n;
    for (size_t i = 0; !bad && i < limit; i++) {
        json_t *f = json_pack("{s:o, s:f, s:f, s:I, s:I}", "name", json_text(fns[i].name),
                              "self_pct", round_pct(fns[i].self_pct), "total_pct",
                              round_pct(fns[i].total_pct), "self_samples", (json_int_t)fns[i].self,
                              "total_samples", (json_int_t)fns[i].total);
        if (f && fns[i].file &&
            (json_object_set_new(f, "file", json_text(fns[i].file)) < 0 ||
             json_object_set_new(f, "line", json_integer(fns[i].line)) < 0)) {
            json_decref(f);
            f = NULL;
        }
        bad = !f || json_array_append_new(arr, f) < 0;
    }
    if (!bad) {
        bad |= json_object_set_new(root, "samples", json_integer((json_int_t)info.samples));
        bad |= json_object_set_new(root, "lost", json_integer((json_int_t)info.lost));
        bad |= json_object_set_new(root, "cut_stacks", json_integer((json_int_t)info.cut));
        bad |= json_object_set_new(root, "processes", json_integer(info.processes));
        bad |= json_object_set_new(root, "threads", json_integer(info.threads));
        bad |= json_object_set_new(root, "hz", json_integer(info.hz));
        bad |= json_object_set_new(root, "effective_hz", json_real(round_pct(info.effective_hz)));
        bad |= json_object_set_new(root, "cpu_seconds", json_real(round_pct(info.cpu_seconds)));
        bad |= json_object_set_new(root, "wall_seconds", json_real(round_pct(info.wall_seconds)));
        bad |= json_object_set_new(root, "mode", json_string(info.mode));
        bad |= json_object_set_new(
            root, "share_margin_pct",
            json_real(info.samples ? round_pct(pb_profile_share_margin(info.samples)) : 100.0));
        bad |= json_object_set_new(root, "functions", arr);
        arr = NULL;
    }
    free(fns);
    json_decref(arr);
    if (bad) {
        json_decref(root);
        return oom(err);
    }
    return put_json(out, root, JSON_FLAGS, err);
}

/* ---- folded ----------------------------------------------------------- */

/* A frame name as folded text: ';' and line breaks would break the format. */
static int put_folded_name(pb_buf *out, const char *name)
{
    for (const char *c = name; *c; c++) {
        char ch = *c == ';' ? ':' : (*c == '\n' || *c == '\r') ? ' ' : *c;
        if (pb_buf_put(out, &ch, 1) < 0)
            return -1;
    }
    return 0;
}

static int put_folded_stack(pb_buf *out, const pb_profile *p, const pb_profile_stack *s)
{
    for (uint32_t k = 0; k < s->depth; k++) {
        if (k && pb_buf_put(out, ";", 1) < 0)
            return -1;
        if (put_folded_name(out, p->frames[s->frames[k]].name) < 0)
            return -1;
    }
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append sorted lines (each owned, freed here). */
static int put_sorted_lines(pb_buf *out, char **lines, size_t n)
{
    int rc = 0;
    if (n > 1)
        qsort(lines, n, sizeof(char *), cmp_line);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && (pb_buf_puts(out, lines[i]) < 0 || pb_buf_puts(out, "\n") < 0))
            rc = -1;
        free(lines[i]);
    }
    free(lines);
    return rc;
}

static int write_folded(const pb_profile *p, pb_buf *out, pb_error *err)
{
    char **lines = calloc(p->nstacks + 1, sizeof(char *));
    if (!lines)
        return oom(err);
    size_t n = 0;
    for (size_t i = 0; i < p->nstacks; i++) {
        pb_buf line = PB_BUF_INIT;
        if (put_folded_stack(&line, p, &p->stacks[i]) < 0 ||
            pb_buf_printf(&line, " %llu", (unsigned long long)p->stacks[i].count) < 0) {
            pb_buf_free(&line);
            for (size_t k = 0; k < n; k++)
                free(lines[k]);
            free(lines);
            return oom(err);
        }
        lines[n++] = pb_buf_detach(&line);
    }
    return put_sorted_lines(out, lines, n) < 0 ? oom(err) : 0;
}

/* ---- speedscope -------------------------------------------------------- */

static int write_speedscope(const pb_profile *p, const pb_profile_write_options *o, pb_buf *out,
                            pb_error *err)
{
    const char *title = o->title ? o->title : "perfprof";
    json_t *root = json_object(), *frames = json_array(), *samples = json_array(),
           *weights = json_array();
    int bad = !root || !frames || !samples || !weights;
    for (size_t i = 0; !bad && i < p->nframes; i++) {
        json_t *f = json_pack("{s:o}", "name", json_text(p->frames[i].name));
        if (f && p->frames[i].file &&
            (json_object_set_new(f, "file", json_text(p->frames[i].file)) < 0 ||
             (p->frames[i].line &&
              json_object_set_new(f, "line", json_integer(p->frames[i].line)) < 0))) {
            json_decref(f);
            f = NULL;
        }
        bad = !f || json_array_append_new(frames, f) < 0;
    }
    for (size_t i = 0; !bad && i < p->nstacks; i++) {
        json_t *s = json_array();
        for (uint32_t k = 0; s && k < p->stacks[i].depth; k++)
            if (json_array_append_new(s, json_integer(p->stacks[i].frames[k])) < 0) {
                json_decref(s);
                s = NULL;
            }
        bad = !s || json_array_append_new(samples, s) < 0 ||
              json_array_append_new(weights, json_integer((json_int_t)p->stacks[i].count)) < 0;
    }
    if (!bad) {
        json_t *profile =
            json_pack("{s:s, s:o, s:s, s:i, s:I, s:o, s:o}", "type", "sampled", "name",
                      json_text(title), "unit", "none", "startValue", 0, "endValue",
                      (json_int_t)p->samples, "samples", samples, "weights", weights);
        samples = weights = NULL;
        json_t *shared = json_pack("{s:o}", "frames", frames);
        frames = NULL;
        json_t *profiles = json_array();
        bad = !profile || !shared || !profiles || json_array_append_new(profiles, profile) < 0;
        if (bad) {
            json_decref(shared);
            json_decref(profiles);
        } else {
            bad |= json_object_set_new(
                root, "$schema", json_string("https://www.speedscope.app/file-format-schema.json"));
            bad |= json_object_set_new(root, "shared", shared);
            bad |= json_object_set_new(root, "profiles", profiles);
            bad |= json_object_set_new(root, "name", json_text(title));
            bad |= json_object_set_new(root, "activeProfileIndex", json_integer(0));
            bad |= json_object_set_new(root, "exporter", json_string("perfprof"));
        }
    }
    json_decref(frames);
    json_decref(samples);
    json_decref(weights);
    if (bad) {
        json_decref(root);
        return oom(err);
    }
    return put_json(out, root, JSON_COMPACT, err);
}

/* ---- flame graph tree -------------------------------------------------- */

typedef struct node {
    uint32_t frame;
    const char *name; /* the frame's name, owned by the profile */
    uint64_t count;
    struct node **kids;
    size_t nkids, cap;
} node;

static void node_free(node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n);
}

static node *node_child(node *n, uint32_t frame)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->frame == frame)
            return n->kids[i];
    if (n->nkids == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 4;
        node **k = realloc(n->kids, cap * sizeof(node *));
        if (!k)
            return NULL;
        n->kids = k;
        n->cap = cap;
    }
    node *c = calloc(1, sizeof(node));
    if (!c)
        return NULL;
    c->frame = frame;
    n->kids[n->nkids++] = c;
    return c;
}

static node *build_tree(const pb_profile *p)
{
    node *root = calloc(1, sizeof(node));
    if (!root)
        return NULL;
    root->frame = UINT32_MAX;
    for (size_t i = 0; i < p->nstacks; i++) {
        const pb_profile_stack *s = &p->stacks[i];
        node *at = root;
        root->count += s->count;
        for (uint32_t k = 0; k < s->depth; k++) {
            at = node_child(at, s->frames[k]);
            if (at)
                at->name = p->frames[s->frames[k]].name;
            if (!at) {
                node_free(root);
                return NULL;
            }
            at->count += s->count;
        }
    }
    return root;
}

/* The child of `n` (in another profile) whose frame has the same name. */
static const node *match_child(const node *n, const pb_profile *np, const char *name)
{
    if (!n)
        return NULL;
    for (size_t i = 0; i < n->nkids; i++)
        if (!strcmp(np->frames[n->kids[i]->frame].name, name))
            return n->kids[i];
    return NULL;
}

typedef struct svg_ctx {
    const pb_profile *p;
    const pb_profile *base; /* differential mode when set */
    double total, base_total;
    double max_delta;
    pb_buf *out;
    int failed;
    int max_depth;
} svg_ctx;

static int cmp_kids(const void *a, const void *b)
{
    const node *x = *(node *const *)a, *y = *(node *const *)b;
    return strcmp(x->name, y->name);
}

/* Children in name order, as flamegraph.pl draws them. */
static void sort_kids(node *n)
{
    if (n->nkids > 1)
        qsort(n->kids, n->nkids, sizeof(node *), cmp_kids);
    for (size_t i = 0; i < n->nkids; i++)
        sort_kids(n->kids[i]);
}

static void depth_of(const node *n, int d, int *max)
{
    if (d > *max)
        *max = d;
    for (size_t i = 0; i < n->nkids; i++)
        depth_of(n->kids[i], d + 1, max);
}

/*
 * XML text and attribute values: markup characters as entities, control
 * characters as spaces, and what is not a character XML allows (a byte
 * outside a well-formed UTF-8 sequence, U+FFFE, U+FFFF) as U+FFFD.
 */
static void put_escaped(svg_ctx *c, const char *s)
{
    for (; *s && !c->failed; s++) {
        const unsigned char *u = (const unsigned char *)s;
        if (*u >= 0x80) {
            size_t k = pb_utf8_sequence(s);
            int nonchar = k == 3 && u[0] == 0xEF && u[1] == 0xBF && u[2] >= 0xBE;
            if (k == 0 || nonchar)
                c->failed |= pb_buf_puts(c->out, PB_UTF8_REPLACEMENT) < 0;
            else
                c->failed |= pb_buf_put(c->out, s, k) < 0;
            s += k ? k - 1 : 0;
            continue;
        }
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            break;
        }
        if ((unsigned char)*s < 0x20)
            rep = " ";
        if (rep ? pb_buf_puts(c->out, rep) < 0 : pb_buf_put(c->out, s, 1) < 0)
            c->failed = 1;
    }
}

#define SVG_WIDTH 1200.0
#define SVG_PAD 10.0
#define SVG_FRAME 16
#define SVG_TOP 40
#define SVG_BOTTOM 30

static void max_delta(svg_ctx *c, const node *n, const node *b)
{
    for (size_t i = 0; i < n->nkids; i++) {
        const node *k = n->kids[i];
        const node *bk = match_child(b, c->base, c->p->frames[k->frame].name);
        double d = (double)k->count / c->total - (bk ? (double)bk->count / c->base_total : 0);
        if (fabs(d) > c->max_delta)
            c->max_delta = fabs(d);
        max_delta(c, k, bk);
    }
}

static void frame_color(svg_ctx *c, const char *name, double delta, char *rgb, size_t size)
{
    if (c->base) {
        double t = c->max_delta > 0 ? fabs(delta) / c->max_delta : 0;
        int v = (int)lround(255.0 - 200.0 * t);
        if (delta > 0)
            snprintf(rgb, size, "rgb(255,%d,%d)", v, v);
        else
            snprintf(rgb, size, "rgb(%d,%d,255)", v, v);
        return;
    }
    uint32_t h = 2166136261u;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    snprintf(rgb, size, "rgb(%u,%u,%u)", 205 + (h % 50), 60 + ((h >> 8) % 170), (h >> 16) % 55);
}

static void draw(svg_ctx *c, const node *n, const node *b, double x, int depth)
{
    double cursor = x;
    for (size_t i = 0; i < n->nkids && !c->failed; i++) {
        const node *k = n->kids[i];
        const char *name = c->p->frames[k->frame].name;
        double w = (double)k->count / c->total;
        const node *bk = c->base ? match_child(b, c->base, name) : NULL;
        double pix = w * (SVG_WIDTH - 2 * SVG_PAD);
        if (pix >= 0.1) {
            double y = SVG_TOP + (double)(c->max_depth - depth) * SVG_FRAME;
            double before = bk ? (double)bk->count / c->base_total : 0;
            char rgb[32];
            frame_color(c, name, w - before, rgb, sizeof(rgb));
            c->failed |= pb_buf_printf(c->out,
                                       "<g class=\"f\" data-x=\"%.8f\" data-w=\"%.8f\" "
                                       "data-d=\"%d\" data-name=\"",
                                       cursor, w, depth) < 0;
            put_escaped(c, name);
            c->failed |= pb_buf_puts(c->out, "\"><title>") < 0;
            put_escaped(c, name);
            if (c->base)
                c->failed |= pb_buf_printf(c->out,
                                           " (%llu samples, %.2f%%; base %.2f%%, %+.2f "
                                           "points)",
                                           (unsigned long long)k->count, 100 * w, 100 * before,
                                           100 * (w - before)) < 0;
            else
                c->failed |= pb_buf_printf(c->out, " (%llu samples, %.2f%%)",
                                           (unsigned long long)k->count, 100 * w) < 0;
            c->failed |= pb_buf_printf(c->out,
                                       "</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                                       "height=\"%d\" fill=\"%s\" rx=\"2\"/><text x=\"%.2f\" "
                                       "y=\"%.1f\"></text></g>\n",
                                       SVG_PAD + cursor * (SVG_WIDTH - 2 * SVG_PAD), y,
                                       pix > 0.5 ? pix - 0.5 : pix, SVG_FRAME - 1, rgb,
                                       SVG_PAD + cursor * (SVG_WIDTH - 2 * SVG_PAD) + 3,
                                       y + SVG_FRAME - 4) < 0;
            draw(c, k, bk, cursor, depth + 1);
        }
        cursor += w;
    }
}

static const char svg_script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "var W=1200,P=10,frames,details;\n"
    "function init(evt){frames=document.getElementsByClassName('f');"
    "details=document.getElementById('details').firstChild;\n"
    " for(var i=0;i<frames.length;i++){var g=frames[i];"
    "g.onclick=function(){zoom(this)};"
    "g.onmouseover=function(){details.nodeValue=this.getElementsByTagName('title')[0]"
    ".textContent};"
    "g.onmouseout=function(){details.nodeValue=' '};}\n"
    " document.getElementById('unzoom').onclick=unzoom;unzoom();}\n"
    "function num(g,a){return +g.getAttribute(a)}\n"
    "function place(g,x,w){var r=g.getElementsByTagName('rect')[0],"
    "t=g.getElementsByTagName('text')[0],px=w*(W-2*P);\n"
    " r.setAttribute('x',P+x*(W-2*P));r.setAttribute('width',Math.max(px-0.5,0.1));"
    "t.setAttribute('x',P+x*(W-2*P)+3);\n"
    " var n=g.getAttribute('data-name'),c=Math.floor((px-6)/7);"
    "t.textContent=c<3?'':(n.length<=c?n:n.substring(0,c-2)+'..');}\n"
    "function zoom(z){var zx=num(z,'data-x'),zw=num(z,'data-w'),zd=num(z,'data-d'),e=1e-9;\n"
    " for(var i=0;i<frames.length;i++){var g=frames[i],x=num(g,'data-x'),w=num(g,'data-w'),"
    "d=num(g,'data-d');\n"
    "  if(d<zd){if(x<=zx+e&&x+w>=zx+zw-e){g.style.display='';place(g,0,1)}"
    "else g.style.display='none'}\n"
    "  else if(x>=zx-e&&x+w<=zx+zw+e){g.style.display='';place(g,(x-zx)/zw,w/zw)}"
    "else g.style.display='none';}\n"
    " document.getElementById('unzoom').style.opacity=1;}\n"
    "function unzoom(){for(var i=0;i<frames.length;i++){var g=frames[i];g.style.display='';"
    "place(g,num(g,'data-x'),num(g,'data-w'))}\n"
    " document.getElementById('unzoom').style.opacity=0.3;}\n"
    "]]></script>\n";

static int write_svg(const pb_profile *p, const pb_profile *base, const char *title, pb_buf *out,
                     pb_error *err)
{
    node *tree = build_tree(p);
    node *btree = base ? build_tree(base) : NULL;
    if (!tree || (base && !btree)) {
        node_free(tree);
        node_free(btree);
        return oom(err);
    }
    sort_kids(tree);
    svg_ctx c = {p,
                 base,
                 p->samples ? (double)p->samples : 1.0,
                 base && base->samples ? (double)base->samples : 1.0,
                 0,
                 out,
                 0,
                 0};
    depth_of(tree, 0, &c.max_depth);
    if (base)
        max_delta(&c, tree, btree);
    int height = SVG_TOP + (c.max_depth + 1) * SVG_FRAME + SVG_BOTTOM;
    c.failed |=
        pb_buf_printf(out,
                      "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                      "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                      "onload=\"init(evt)\" xmlns=\"http://www.w3.org/2000/svg\">\n"
                      "<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}"
                      ".f:hover rect{stroke:#000;stroke-width:0.5;cursor:pointer}"
                      ".f text{pointer-events:none}#unzoom{cursor:pointer}</style>\n",
                      (int)SVG_WIDTH, height, (int)SVG_WIDTH, height) < 0;
    c.failed |= pb_buf_puts(out, svg_script) < 0;
    c.failed |= pb_buf_printf(out,
                              "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" "
                              "fill=\"#f8f8f8\"/>\n<text x=\"%.0f\" y=\"24\" "
                              "text-anchor=\"middle\" style=\"font-size:17px\">",
                              SVG_WIDTH / 2) < 0;
    put_escaped(&c, title);
    c.failed |= pb_buf_printf(out,
                              " (%llu samples)</text>\n<text id=\"unzoom\" x=\"%.0f\" y=\"24\" "
                              "style=\"opacity:0.3\">Reset Zoom</text>\n"
                              "<text id=\"details\" x=\"%.0f\" y=\"%d\"> </text>\n",
                              (unsigned long long)p->samples, SVG_PAD, SVG_PAD, height - 10) < 0;
    draw(&c, tree, btree, 0, 0);
    c.failed |= pb_buf_puts(out, "</svg>\n") < 0;
    node_free(tree);
    node_free(btree);
    return c.failed ? oom(err) : 0;
}

int pb_profile_write(const pb_profile *p, pb_profile_format format,
                     const pb_profile_write_options *options, pb_buf *out, pb_error *err)
{
    pb_profile_write_options defaults = PB_PROFILE_WRITE_OPTIONS_INIT;
    const pb_profile_write_options *o = options ? options : &defaults;
    switch (format) {
    case PB_PROFILE_TEXT:
        return write_text(p, o, out, err);
    case PB_PROFILE_JSON:
        return write_json(p, o, out, err);
    case PB_PROFILE_FOLDED:
        return write_folded(p, out, err);
    case PB_PROFILE_SPEEDSCOPE:
        return write_speedscope(p, o, out, err);
    case PB_PROFILE_SVG:
        return write_svg(p, NULL, o->title ? o->title : "Flame Graph", out, err);
    }
    return pb_error_set(err, PB_EINVAL, "unknown profile format");
}

/* ---- diff writers ------------------------------------------------------ */

static const char *change_name(pb_profile_change c)
{
    return c == PB_PROFILE_NEW ? "new" : c == PB_PROFILE_VANISHED ? "vanished" : "changed";
}

static int diff_text(const pb_profile *base, const pb_profile *cur, const pb_profile_delta *d,
                     size_t n, size_t all, pb_buf *out, pb_error *err)
{
    int w = pb_buf_printf(out,
                          "base %llu samples, new %llu samples; shares in %% of each profile, "
                          "deltas in points; sorted by growth of self share\n",
                          (unsigned long long)base->samples, (unsigned long long)cur->samples);
    double margin =
        fmax(pb_profile_share_margin(base->samples), pb_profile_share_margin(cur->samples));
    if (base->samples == 0 || cur->samples == 0)
        w |= pb_buf_printf(out, "warning: the %s profile has no samples: nothing to compare\n",
                           base->samples == 0 ? "base" : "new");
    else if (margin > 5.0)
        w |= pb_buf_printf(out,
                           "warning: too few samples: shares are uncertain by up to "
                           "+/-%.1f points (95%%)\n",
                           margin);
    w |= pb_buf_printf(out, "\n%8s %16s %8s %16s %7s  %s\n", "d.self", "self base->new", "d.total",
                       "total base->new", "z", "function");
    for (size_t i = 0; i < n; i++) {
        w |= pb_buf_printf(out, "%+8.2f %7.2f->%-7.2f %+8.2f %7.2f->%-7.2f %7.1f  %s",
                           d[i].self_delta, d[i].self_before, d[i].self_after, d[i].total_delta,
                           d[i].total_before, d[i].total_after, d[i].z, d[i].name);
        if (d[i].change != PB_PROFILE_CHANGED)
            w |= pb_buf_printf(out, "  [%s]", change_name(d[i].change));
        w |= pb_buf_puts(out, "\n");
    }
    if (n < all)
        w |= pb_buf_printf(out, "... %zu more functions, with smaller changes\n", all - n);
    return w ? oom(err) : 0;
}

static int diff_json(const pb_profile *base, const pb_profile *cur, const pb_profile_delta *d,
                     size_t n, pb_buf *out, pb_error *err)
{
    json_t *root = json_object(), *arr = json_array();
    int bad = !root || !arr;
    for (size_t i = 0; !bad && i < n; i++) {
        json_t *f = json_pack(
            "{s:o, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "name", json_text(d[i].name), "change",
            change_name(d[i].change), "self_before", round_pct(d[i].self_before), "self_after",
            round_pct(d[i].self_after), "self_delta", round_pct(d[i].self_delta), "total_before",
            round_pct(d[i].total_before), "total_after", round_pct(d[i].total_after), "total_delta",
            round_pct(d[i].total_delta), "z", round_pct(d[i].z));
        bad = !f || json_array_append_new(arr, f) < 0;
    }
    if (!bad) {
        bad |= json_object_set_new(root, "base_samples", json_integer((json_int_t)base->samples));
        bad |= json_object_set_new(root, "new_samples", json_integer((json_int_t)cur->samples));
        bad |= json_object_set_new(root, "functions", arr);
        arr = NULL;
    }
    json_decref(arr);
    if (bad) {
        json_decref(root);
        return oom(err);
    }
    return put_json(out, root, JSON_FLAGS, err);
}

/* Map a stack of `p` onto frames of `merged` (interned by name). */
static int map_stack(pb_profile *merged, const pb_profile *p, const pb_profile_stack *s,
                     uint32_t *frames, pb_error *err)
{
    for (uint32_t k = 0; k < s->depth; k++) {
        int rc = pb_profile_intern(merged, p->frames[s->frames[k]].name, NULL, 0, &frames[k], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* "stack BASE NEW" per distinct stack of either profile, as difffolded.pl. */
static int diff_folded(const pb_profile *base, const pb_profile *cur, pb_buf *out, pb_error *err)
{
    int rc = 0;
    pb_profile *merged = NULL;
    uint64_t *counts[2] = {NULL, NULL};
    uint32_t *frames = NULL;
    char **lines = NULL;
    size_t n = 0;
    const pb_profile *src[2] = {base, cur};
    if ((rc = pb_profile_new(&merged, err)) < 0)
        goto done;
    uint32_t max_depth = 1;
    for (int which = 0; which < 2; which++)
        for (size_t i = 0; i < src[which]->nstacks; i++)
            if (src[which]->stacks[i].depth > max_depth)
                max_depth = src[which]->stacks[i].depth;
    frames = malloc(max_depth * sizeof(uint32_t));
    if (!frames) {
        rc = oom(err);
        goto done;
    }
    /* First give every distinct stack (by names) an id, then count. */
    for (int pass = 0; pass < 2; pass++) {
        for (int which = 0; which < 2; which++) {
            const pb_profile *p = src[which];
            for (size_t i = 0; i < p->nstacks; i++) {
                const pb_profile_stack *s = &p->stacks[i];
                uint32_t id;
                if ((rc = map_stack(merged, p, s, frames, err)) < 0 ||
                    (rc = pb_profile_stack_id(merged, frames, s->depth, &id, err)) < 0)
                    goto done;
                if (pass == 1)
                    counts[which][id] += s->count;
            }
        }
        if (pass == 0) {
            counts[0] = calloc(merged->nstacks + 1, sizeof(uint64_t));
            counts[1] = calloc(merged->nstacks + 1, sizeof(uint64_t));
            lines = calloc(merged->nstacks + 1, sizeof(char *));
            if (!counts[0] || !counts[1] || !lines) {
                rc = oom(err);
                goto done;
            }
        }
    }
    for (size_t i = 0; i < merged->nstacks; i++) {
        pb_buf line = PB_BUF_INIT;
        if (put_folded_stack(&line, merged, &merged->stacks[i]) < 0 ||
            pb_buf_printf(&line, " %llu %llu", (unsigned long long)counts[0][i],
                          (unsigned long long)counts[1][i]) < 0) {
            pb_buf_free(&line);
            rc = oom(err);
            goto done;
        }
        lines[n++] = pb_buf_detach(&line);
    }
    rc = put_sorted_lines(out, lines, n) < 0 ? oom(err) : 0;
    lines = NULL;
    n = 0;
done:
    for (size_t i = 0; lines && i < n; i++)
        free(lines[i]);
    free(lines);
    free(counts[0]);
    free(counts[1]);
    free(frames);
    pb_profile_free(merged);
    return rc;
}

static int cmp_change_size(const void *a, const void *b)
{
    const pb_profile_delta *x = *(pb_profile_delta *const *)a, *y = *(pb_profile_delta *const *)b;
    double dx = fabs(x->self_delta), dy = fabs(y->self_delta);
    if (dx != dy)
        return dx > dy ? -1 : 1;
    dx = fabs(x->total_delta);
    dy = fabs(y->total_delta);
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return x < y ? -1 : x > y;
}

/*
 * Keep the `top` functions whose self share changed most, either way, in
 * their order by growth. Cutting the growth order itself would drop the
 * largest shrinkers, which matter as much (the time went somewhere).
 */
static int keep_largest_changes(pb_profile_delta *d, size_t *n, size_t top, pb_error *err)
{
    if (top == 0 || top >= *n)
        return 0;
    pb_profile_delta **by_size = malloc(*n * sizeof(*by_size));
    if (!by_size)
        return oom(err);
    for (size_t i = 0; i < *n; i++)
        by_size[i] = &d[i];
    qsort(by_size, *n, sizeof(*by_size), cmp_change_size);
    unsigned char *keep = calloc(*n, 1);
    if (!keep) {
        free(by_size);
        return oom(err);
    }
    for (size_t i = 0; i < top; i++)
        keep[by_size[i] - d] = 1;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (keep[i])
            d[kept++] = d[i];
    *n = kept;
    free(keep);
    free(by_size);
    return 0;
}

int pb_profile_diff_write(const pb_profile *base, const pb_profile *cur, pb_profile_format format,
                          const pb_profile_write_options *options, pb_buf *out, pb_error *err)
{
    pb_profile_write_options defaults = PB_PROFILE_WRITE_OPTIONS_INIT;
    const pb_profile_write_options *o = options ? options : &defaults;
    pb_profile_delta *d = NULL;
    size_t n = 0;
    int rc = 0;
    switch (format) {
    case PB_PROFILE_TEXT:
    case PB_PROFILE_JSON:
        if ((rc = pb_profile_diff(base, cur, &d, &n, err)) < 0)
            break;
        size_t all = n;
        if ((rc = keep_largest_changes(d, &n, o->top, err)) < 0)
            break;
        rc = format == PB_PROFILE_TEXT ? diff_text(base, cur, d, n, all, out, err)
                                       : diff_json(base, cur, d, n, out, err);
        break;
    case PB_PROFILE_FOLDED:
        rc = diff_folded(base, cur, out, err);
        break;
    case PB_PROFILE_SVG:
        rc = write_svg(cur, base, o->title ? o->title : "Differential Flame Graph", out, err);
        break;
    default:
        rc = pb_error_set(err, PB_EINVAL, "diff: format not supported (text, json, folded, svg)");
        break;
    }
    free(d);
    return rc;
}
