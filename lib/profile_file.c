/*
 * profile_file.c — the perfprof data file (lib/rt/format.h): a validating
 * reader, an encoder (for the attach sampler), loading a file and its
 * per-process parts, and the plumbing of `record` (finding the runtime, the
 * environment it needs, collecting the parts).
 */
#include "perfbisect/profile.h"
#include "profile_internal.h"
#include "rt/format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MODULES 65536u
#define MAX_PARTS 100000u

/* ---- reading --------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p;
    size_t len, at;
} reader;

static int rd_bytes(reader *r, size_t n, const unsigned char **out)
{
    if (n > r->len - r->at)
        return -1;
    *out = r->p + r->at;
    r->at += n;
    return 0;
}

static int rd_uint(reader *r, size_t n, uint64_t *out)
{
    const unsigned char *b;
    if (rd_bytes(r, n, &b) < 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    *out = v;
    return 0;
}

static int rd_uleb(reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->len)
            return -1;
        unsigned char b = r->p[r->at++];
        if (shift == 63 && (b & 0x7e))
            return -1; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static char *dup_bytes(const unsigned char *b, size_t n)
{
    if (memchr(b, '\0', n))
        return NULL;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

void pb_profile_raw_free(pb_profile_raw_process *procs, size_t nprocs)
{
    for (size_t i = 0; i < nprocs; i++) {
        pb_profile_raw_process *p = &procs[i];
        for (size_t m = 0; m < p->nmodules; m++)
            free(p->modules[m].path);
        for (size_t s = 0; s < p->nstacks; s++)
            free(p->stacks[s].pcs);
        free(p->modules);
        free(p->stacks);
        free(p->command);
    }
    free(procs);
}

static int parse_module(pb_profile_raw_process *proc, reader *r, pb_error *err)
{
    uint64_t bias, lo, hi, id_len, path_len;
    const unsigned char *id, *path;
    if (rd_uint(r, 8, &bias) < 0 || rd_uint(r, 8, &lo) < 0 || rd_uint(r, 8, &hi) < 0 ||
        rd_uint(r, 1, &id_len) < 0 || id_len > PPRT_MAX_BUILD_ID || rd_bytes(r, id_len, &id) < 0 ||
        rd_uint(r, 2, &path_len) < 0 || path_len > PPRT_MAX_PATH ||
        rd_bytes(r, path_len, &path) < 0 || lo >= hi)
        return pb_error_set(err, PB_EINVAL, "profile: malformed module record");
    if (proc->nmodules >= MAX_MODULES)
        return pb_error_set(err, PB_EINVAL, "profile: too many modules");
    pb_profile_raw_module *mods =
        realloc(proc->modules, (proc->nmodules + 1) * sizeof(pb_profile_raw_module));
    if (!mods)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    proc->modules = mods;
    pb_profile_raw_module *m = &mods[proc->nmodules];
    memset(m, 0, sizeof(*m));
    m->bias = bias;
    m->lo = lo;
    m->hi = hi;
    m->build_id_len = (size_t)id_len;
    memcpy(m->build_id, id, (size_t)id_len);
    m->path = dup_bytes(path, (size_t)path_len);
    if (!m->path)
        return pb_error_set(err, PB_EINVAL, "profile: bad module path");
    proc->nmodules++;
    return 0;
}

static int parse_stacks(pb_profile_raw_process *proc, reader *r, pb_error *err)
{
    size_t cap = proc->nstacks;
    while (r->at < r->len) {
        uint64_t count, depth, pc;
        if (rd_uleb(r, &count) < 0 || rd_uleb(r, &depth) < 0 || depth == 0 ||
            depth > PPRT_MAX_DEPTH || rd_uleb(r, &pc) < 0)
            return pb_error_set(err, PB_EINVAL, "profile: malformed stack record");
        if (proc->nstacks == cap) {
            cap = cap ? cap * 2 : 64;
            pb_profile_raw_stack *s = realloc(proc->stacks, cap * sizeof(*s));
            if (!s)
                return pb_error_set(err, PB_ENOMEM, "out of memory");
            proc->stacks = s;
        }
        uint64_t *pcs = malloc((size_t)depth * sizeof(uint64_t));
        if (!pcs)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        pcs[0] = pc;
        for (uint64_t k = 1; k < depth; k++) {
            uint64_t zz;
            if (rd_uleb(r, &zz) < 0) {
                free(pcs);
                return pb_error_set(err, PB_EINVAL, "profile: truncated stack");
            }
            uint64_t delta = (zz >> 1) ^ (0 - (zz & 1));
            pcs[k] = pcs[k - 1] + delta;
        }
        proc->stacks[proc->nstacks++] = (pb_profile_raw_stack){count, (uint32_t)depth, pcs};
    }
    return 0;
}

static int parse_block(pb_profile_raw_process *proc, reader *r, pb_error *err)
{
    const unsigned char *magic;
    uint64_t version, header_size, v;
    size_t start = r->at;
    if (rd_bytes(r, PPRT_MAGIC_LEN, &magic) < 0 || memcmp(magic, PPRT_MAGIC, PPRT_MAGIC_LEN))
        return pb_error_set(err, PB_EINVAL, "not a perfprof data file (bad magic)");
    if (rd_uint(r, 4, &version) < 0 || rd_uint(r, 4, &header_size) < 0)
        return pb_error_set(err, PB_EINVAL, "profile: truncated header");
    if (version != PPRT_VERSION)
        return pb_error_set(err, PB_EINVAL, "profile: unsupported version %llu",
                            (unsigned long long)version);
    if (header_size < PPRT_HEADER_SIZE || header_size > 4096 || header_size > r->len - start)
        return pb_error_set(err, PB_EINVAL, "profile: bad header size");
    uint64_t f[11];
    static const size_t widths[11] = {4, 4, 8, 8, 8, 8, 8, 4, 4, 4, 4};
    for (size_t i = 0; i < 11; i++)
        if (rd_uint(r, widths[i], &f[i]) < 0)
            return pb_error_set(err, PB_EINVAL, "profile: truncated header");
    proc->pid = (uint32_t)f[0];
    proc->hz = (uint32_t)f[1];
    proc->wall_ns = f[2];
    proc->user_ns = f[3];
    proc->sys_ns = f[4];
    proc->samples = f[5];
    proc->lost = f[6];
    proc->threads = (uint32_t)f[7];
    proc->mode = (uint32_t)f[8];
    proc->cut = (uint32_t)f[9];
    r->at = start + (size_t)header_size;
    for (;;) {
        uint64_t tag, len;
        const unsigned char *payload;
        if (rd_uint(r, 4, &tag) < 0 || rd_uint(r, 4, &len) < 0 || rd_bytes(r, len, &payload) < 0)
            return pb_error_set(err, PB_EINVAL, "profile: truncated record");
        reader sub = {payload, (size_t)len, 0};
        int rc = 0;
        switch (tag) {
        case PPRT_TAG_END:
            return len == 0 ? 0 : pb_error_set(err, PB_EINVAL, "profile: bad end record");
        case PPRT_TAG_MODULE:
            rc = parse_module(proc, &sub, err);
            if (rc == 0 && sub.at != sub.len)
                rc = pb_error_set(err, PB_EINVAL, "profile: malformed module record");
            break;
        case PPRT_TAG_STACKS:
            rc = parse_stacks(proc, &sub, err);
            break;
        case PPRT_TAG_COMMAND:
            if (proc->command || len > PPRT_MAX_PATH || !(proc->command = dup_bytes(payload, len)))
                rc = pb_error_set(err, PB_EINVAL, "profile: bad command record");
            break;
        default:
            break; /* a later version's record */
        }
        if (rc < 0)
            return rc;
        (void)v;
    }
}

int pb_profile_raw_parse(const unsigned char *data, size_t len, pb_profile_raw_process **procs,
                         size_t *nprocs, pb_error *err)
{
    reader r = {data, len, 0};
    if (len == 0)
        return pb_error_set(err, PB_EINVAL, "profile: empty data");
    while (r.at < r.len) {
        if (*nprocs >= MAX_PARTS)
            return pb_error_set(err, PB_EINVAL, "profile: too many processes");
        pb_profile_raw_process *p = realloc(*procs, (*nprocs + 1) * sizeof(*p));
        if (!p)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        *procs = p;
        memset(&p[*nprocs], 0, sizeof(*p));
        (*nprocs)++;
        int rc = parse_block(&p[*nprocs - 1], &r, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- writing ---------------------------------------------------------- */

static int put_uint(pb_buf *b, uint64_t v, size_t n)
{
    unsigned char x[8];
    for (size_t i = 0; i < n; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return pb_buf_put(b, x, n);
}

static int put_uleb(pb_buf *b, uint64_t v)
{
    unsigned char x[10];
    size_t n = 0;
    do {
        unsigned char byte = v & 0x7f;
        v >>= 7;
        x[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return pb_buf_put(b, x, n);
}

static void patch_u32(pb_buf *b, size_t at, uint32_t v)
{
    for (size_t i = 0; i < 4; i++)
        b->data[at + i] = (char)(unsigned char)(v >> (8 * i));
}

int pb_profile_raw_encode(const pb_profile_raw_process *p, pb_buf *b, pb_error *err)
{
    int rc = 0;
    rc |= pb_buf_put(b, PPRT_MAGIC, PPRT_MAGIC_LEN);
    rc |= put_uint(b, PPRT_VERSION, 4);
    rc |= put_uint(b, PPRT_HEADER_SIZE, 4);
    rc |= put_uint(b, p->pid, 4);
    rc |= put_uint(b, p->hz, 4);
    rc |= put_uint(b, p->wall_ns, 8);
    rc |= put_uint(b, p->user_ns, 8);
    rc |= put_uint(b, p->sys_ns, 8);
    rc |= put_uint(b, p->samples, 8);
    rc |= put_uint(b, p->lost, 8);
    rc |= put_uint(b, p->threads, 4);
    rc |= put_uint(b, p->mode, 4);
    rc |= put_uint(b, p->cut, 4);
    rc |= put_uint(b, 0, 4);
    if (p->command) {
        size_t n = strlen(p->command);
        if (n > PPRT_MAX_PATH)
            n = PPRT_MAX_PATH;
        rc |= put_uint(b, PPRT_TAG_COMMAND, 4);
        rc |= put_uint(b, n, 4);
        rc |= pb_buf_put(b, p->command, n);
    }
    for (size_t i = 0; i < p->nmodules && rc == 0; i++) {
        const pb_profile_raw_module *m = &p->modules[i];
        size_t n = strlen(m->path);
        if (n > PPRT_MAX_PATH || m->build_id_len > PPRT_MAX_BUILD_ID || m->lo >= m->hi)
            continue;
        rc |= put_uint(b, PPRT_TAG_MODULE, 4);
        rc |= put_uint(b, 8 * 3 + 1 + m->build_id_len + 2 + n, 4);
        rc |= put_uint(b, m->bias, 8);
        rc |= put_uint(b, m->lo, 8);
        rc |= put_uint(b, m->hi, 8);
        rc |= put_uint(b, m->build_id_len, 1);
        rc |= pb_buf_put(b, m->build_id, m->build_id_len);
        rc |= put_uint(b, n, 2);
        rc |= pb_buf_put(b, m->path, n);
    }
    rc |= put_uint(b, PPRT_TAG_STACKS, 4);
    size_t len_at = b->len;
    rc |= put_uint(b, 0, 4);
    for (size_t i = 0; i < p->nstacks && rc == 0; i++) {
        const pb_profile_raw_stack *s = &p->stacks[i];
        if (s->depth == 0 || s->depth > PPRT_MAX_DEPTH)
            continue;
        rc |= put_uleb(b, s->count);
        rc |= put_uleb(b, s->depth);
        rc |= put_uleb(b, s->pcs[0]);
        for (uint32_t k = 1; k < s->depth; k++) {
            int64_t d = (int64_t)(s->pcs[k] - s->pcs[k - 1]);
            rc |= put_uleb(b, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
        }
    }
    if (rc == 0) {
        if (b->len - len_at - 4 > UINT32_MAX)
            return pb_error_set(err, PB_EINVAL, "profile: too many stacks for one record");
        patch_u32(b, len_at, (uint32_t)(b->len - len_at - 4));
    }
    rc |= put_uint(b, PPRT_TAG_END, 4);
    rc |= put_uint(b, 0, 4);
    return rc ? pb_error_set(err, PB_ENOMEM, "out of memory") : 0;
}

/* ---- files ----------------------------------------------------------- */

static int read_file(const char *path, pb_buf *out, pb_error *err)
{
    int rc = 0;
    /* O_NONBLOCK: opening a FIFO would wait for a writer; fstat refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return pb_error_set_errno(err, errno == ENOENT ? PB_ENOTFOUND : PB_EIO, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
        goto done;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > PB_PROFILE_MAX_FILE) {
        rc = pb_error_set(err, PB_EINVAL, "%s: not a regular file of at most %u bytes", path,
                          PB_PROFILE_MAX_FILE);
        goto done;
    }
    if (pb_buf_grow(out, (size_t)st.st_size) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
            goto done;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > PB_PROFILE_MAX_FILE) {
            rc =
                pb_error_set(err, PB_EINVAL, "%s: larger than %u bytes", path, PB_PROFILE_MAX_FILE);
            goto done;
        }
        if (pb_buf_put(out, chunk, (size_t)n) < 0) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    close(fd);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted paths of "<path>.part-*" (finished parts, not ".tmp"). */
static int list_parts(const char *path, char ***out, size_t *count, pb_error *err)
{
    int rc = 0;
    char **names = NULL;
    size_t n = 0;
    char *dir_copy = strdup(path), *base_copy = strdup(path);
    DIR *dir = NULL;
    pb_buf prefix = PB_BUF_INIT;
    if (!dir_copy || !base_copy) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    char *slash = strrchr(dir_copy, '/');
    const char *dirname = ".";
    const char *base = path;
    if (slash) {
        *slash = '\0';
        dirname = slash == dir_copy ? "/" : dir_copy;
        base = path + (slash - dir_copy) + 1;
    }
    if (pb_buf_printf(&prefix, "%s.part-", base) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    dir = opendir(dirname);
    if (!dir)
        goto done; /* no directory: no parts */
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, prefix.data, prefix.len) || len < 4 ||
            !strcmp(de->d_name + len - 4, ".tmp"))
            continue;
        if (n >= MAX_PARTS) {
            rc = pb_error_set(err, PB_EINVAL, "%s: too many part files", path);
            goto done;
        }
        char **grown = realloc(names, (n + 1) * sizeof(char *));
        pb_buf full = PB_BUF_INIT;
        if (!grown || (slash ? pb_buf_printf(&full, "%s/%s", dirname, de->d_name)
                             : pb_buf_puts(&full, de->d_name)) < 0) {
            if (grown)
                names = grown;
            pb_buf_free(&full);
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        names = grown;
        names[n++] = pb_buf_detach(&full);
    }
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_str);
done:
    if (dir)
        closedir(dir);
    free(dir_copy);
    free(base_copy);
    pb_buf_free(&prefix);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    *out = names;
    *count = n;
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void fill_info(pb_profile *p, const pb_profile_raw_process *procs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const pb_profile_raw_process *r = &procs[i];
        p->processes++;
        p->threads += r->threads;
        p->lost += r->lost;
        p->cut += r->cut;
        if (r->hz > p->hz)
            p->hz = r->hz;
        double wall = (double)r->wall_ns / 1e9;
        if (wall > p->wall_seconds)
            p->wall_seconds = wall;
        p->user_seconds += (double)r->user_ns / 1e9;
        p->cpu_seconds += (double)(r->user_ns + r->sys_ns) / 1e9;
        if (r->mode < 32)
            p->mode_mask |= 1u << r->mode;
    }
}

static int build(pb_profile **out, pb_profile_raw_process *procs, size_t n, int symbolize,
                 pb_error *err)
{
    pb_profile *p = NULL;
    int rc = pb_profile_new(&p, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pb_profile_symbolize(p, &procs[i], symbolize, err);
    if (rc == 0)
        rc = pb_profile_qualify_names(p, err);
    if (rc < 0) {
        pb_profile_free(p);
        return rc;
    }
    fill_info(p, procs, n);
    *out = p;
    return 0;
}

int pb_profile_parse(pb_profile **out, const void *data, size_t len, int symbolize, pb_error *err)
{
    pb_profile_raw_process *procs = NULL;
    size_t n = 0;
    int rc = pb_profile_raw_parse(data, len, &procs, &n, err);
    if (rc == 0)
        rc = build(out, procs, n, symbolize, err);
    pb_profile_raw_free(procs, n);
    return rc;
}

int pb_profile_load(pb_profile **out, const char *path, pb_error *err)
{
    pb_profile_raw_process *procs = NULL;
    size_t n = 0, nparts = 0;
    char **parts = NULL;
    pb_buf data = PB_BUF_INIT;
    int found = 0;
    int rc = read_file(path, &data, err);
    if (rc == 0) {
        found = 1;
        rc = pb_profile_raw_parse((const unsigned char *)data.data, data.len, &procs, &n, err);
        if (rc < 0) {
            rc = pb_error_set(err, rc, "%s: %s", path, pb_error_message(err));
            goto done;
        }
    } else if (rc != PB_ENOTFOUND) {
        goto done;
    }
    if ((rc = list_parts(path, &parts, &nparts, err)) < 0)
        goto done;
    for (size_t i = 0; i < nparts; i++) {
        pb_buf_clear(&data);
        if ((rc = read_file(parts[i], &data, err)) < 0)
            goto done;
        rc = pb_profile_raw_parse((const unsigned char *)data.data, data.len, &procs, &n, err);
        if (rc < 0) {
            rc = pb_error_set(err, rc, "%s: %s", parts[i], pb_error_message(err));
            goto done;
        }
        found = 1;
    }
    if (!found) {
        rc = pb_error_set(err, PB_ENOTFOUND, "%s: no such profile (and no %s.part-* files)", path,
                          path);
        goto done;
    }
    rc = build(out, procs, n, 1, err);
done:
    pb_profile_raw_free(procs, n);
    free_names(parts, nparts);
    pb_buf_free(&data);
    return rc;
}

int pb_profile_clear_parts(const char *out_path, pb_error *err)
{
    char **parts = NULL;
    size_t n = 0;
    int rc = list_parts(out_path, &parts, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (unlink(parts[i]) < 0 && errno != ENOENT)
            rc = pb_error_set_errno(err, PB_EIO, errno, "cannot remove %s", parts[i]);
    free_names(parts, n);
    return rc;
}

static int copy_into(int out_fd, const char *path, pb_error *err)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pb_error_set_errno(err, PB_EIO, errno, "%s", path);
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out_fd, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = pb_error_set_errno(err, PB_EIO, errno, "writing the profile");
                goto done;
            }
            off += w;
        }
    }
done:
    close(fd);
    return rc;
}

int pb_profile_collect_parts(const char *out_path, unsigned *count, pb_error *err)
{
    char **parts = NULL;
    size_t n = 0;
    int fd = -1;
    pb_buf tmp = PB_BUF_INIT;
    int rc = list_parts(out_path, &parts, &n, err);
    if (rc < 0)
        goto done;
    if (count)
        *count = (unsigned)n;
    if (n == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "no profile was written (no %s.part-* files)",
                          out_path);
        goto done;
    }
    if (pb_buf_printf(&tmp, "%s.tmp", out_path) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", tmp.data);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = copy_into(fd, parts[i], err)) < 0)
            goto done;
    if (close(fd) < 0) {
        fd = -1;
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", tmp.data);
        goto done;
    }
    fd = -1;
    if (rename(tmp.data, out_path) < 0) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", out_path);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        unlink(parts[i]);
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmp.data);
    }
    free_names(parts, n);
    pb_buf_free(&tmp);
    return rc;
}

/* ---- recording plumbing ---------------------------------------------- */

static int try_path(pb_buf *out, const char *path)
{
    if (access(path, R_OK) != 0)
        return 0;
    char resolved[PATH_MAX];
    const char *use = realpath(path, resolved) ? resolved : path;
    return pb_buf_puts(out, use) < 0 ? PB_ENOMEM : 1;
}

int pb_profile_find_runtime(const char *libdir, pb_buf *out, pb_error *err)
{
    static const char name[] = PB_PROFILE_RUNTIME;
    int rc = 0;
    pb_buf cand = PB_BUF_INIT;
    const char *env = getenv("PERFPROF_RT");
    if (env && *env) {
        rc = try_path(out, env);
        if (rc == 0)
            rc = pb_error_set(err, PB_ENOTFOUND, "PERFPROF_RT=%s: no such file", env);
        goto done;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (pb_buf_printf(&cand, "%s/../%s", exe, name) < 0 ||
                (rc = try_path(out, cand.data)) != 0)
                goto done;
            pb_buf_clear(&cand);
            if (pb_buf_printf(&cand, "%s/%s", exe, name) < 0 ||
                (rc = try_path(out, cand.data)) != 0)
                goto done;
        }
    }
    if (libdir && *libdir) {
        pb_buf_clear(&cand);
        if (pb_buf_printf(&cand, "%s/%s", libdir, name) < 0 || (rc = try_path(out, cand.data)) != 0)
            goto done;
    }
    rc = pb_error_set(err, PB_ENOTFOUND,
                      "cannot find %s (next to the build tree, in %s); set PERFPROF_RT", name,
                      libdir && *libdir ? libdir : "the library directory");
done:
    pb_buf_free(&cand);
    if (rc == PB_ENOMEM)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    return rc < 0 ? rc : 0;
}

int pb_profile_record_env(const char *rt_path, const char *out_path, unsigned hz, pb_buf *env,
                          pb_error *err)
{
    int rc = 0;
    pb_buf abs = PB_BUF_INIT;
    if (!rt_path || !*rt_path || !out_path || !*out_path || hz == 0 || hz > PB_PROFILE_MAX_HZ)
        return pb_error_set(err, PB_EINVAL, "record: need a runtime, an output path and 1..%u Hz",
                            PB_PROFILE_MAX_HZ);
    if (strpbrk(rt_path, " :")) /* ld.so splits LD_PRELOAD at both: nothing would be sampled */
        return pb_error_set(err, PB_EINVAL,
                            "%s: LD_PRELOAD cannot name a path with a space or a colon; move the "
                            "runtime or point PERFPROF_RT at a copy without them",
                            rt_path);
    if (out_path[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return pb_error_set_errno(err, PB_EIO, errno, "getcwd");
        rc = pb_buf_printf(&abs, "%s/%s", cwd, out_path);
    } else {
        rc = pb_buf_puts(&abs, out_path);
    }
    const char *pre = getenv("LD_PRELOAD");
    if (rc == 0)
        rc = pb_buf_printf(env, "LD_PRELOAD=%s%s%s", rt_path, pre && *pre ? ":" : "",
                           pre && *pre ? pre : "");
    if (rc == 0)
        rc = pb_buf_put(env, "", 1);
    if (rc == 0)
        rc = pb_buf_printf(env, "PERFPROF_OUT=%s", abs.data);
    if (rc == 0)
        rc = pb_buf_put(env, "", 1);
    if (rc == 0)
        rc = pb_buf_printf(env, "PERFPROF_HZ=%u", hz);
    if (rc == 0)
        rc = pb_buf_put(env, "", 1);
    pb_buf_free(&abs);
    return rc < 0 ? pb_error_set(err, PB_ENOMEM, "out of memory") : 0;
}
