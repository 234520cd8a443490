/*
 * profile_symbols.c — offline symbolization with libdw: each recorded module
 * is reported to a Dwfl at its recorded load bias (after checking its
 * build-id), addresses become function names (ELF symbol tables, so static
 * functions too; C++ names demangled when libstdc++ is there) and the
 * function's file:line from DWARF. Return addresses are looked up at
 * address - 1, the call instruction; the leaf at its own address. What has
 * no symbol is named "module+0xoffset" of its function's start (from the
 * module's .eh_frame), so a stripped function is one frame. The vDSO is named from the reader's
 * own when their build-ids agree, else it is one frame, "[vdso]".
 */
#include "perfbisect/profile.h"
#include "profile_internal.h"
#include "rt/format.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

typedef struct symbolizer {
    Dwfl *dwfl;
    const pb_profile_raw_process *proc;
    pb_profile *profile;
    int demangle_tried;
    void *cxx;
    demangle_fn demangle;
    uint64_t *keys; /* lookup address + 1 (0 empty) -> frame id */
    uint32_t *vals;
    size_t cap, n;
    struct fn_starts *starts; /* of the modules that needed them */
    size_t nstarts;
} symbolizer;

static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = NULL,
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Does the file at `path` carry the build-id recorded for it? */
static int build_id_matches(const pb_profile_raw_module *m)
{
    if (m->build_id_len == 0)
        return 1; /* nothing recorded: trust the path */
    int ok = 0;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf) {
        const void *bits = NULL;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);
        ok = n > 0 && (size_t)n == m->build_id_len && !memcmp(bits, m->build_id, (size_t)n);
        elf_end(elf);
    }
    close(fd);
    return ok;
}

static int is_vdso(const pb_profile_raw_module *m)
{
    return !strcmp(m->path, PB_PROFILE_VDSO) || !strcmp(m->path, PB_PROFILE_VDSO_LOADER);
}

/*
 * The vDSO is no file: when this process's own vDSO carries the build-id
 * recorded (the same kernel), a copy of its image in a memfd stands in.
 * -1 when it does not.
 */
static int own_vdso_fd(const pb_profile_raw_module *m)
{
    const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
    if (!base || m->build_id_len == 0)
        return -1;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    size_t size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > size)
            size = ph[i].p_offset + ph[i].p_filesz;
    int same = 0;
    Elf *elf = elf_memory((char *)base, size);
    if (elf) {
        const void *id = NULL;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
        same = n > 0 && (size_t)n == m->build_id_len && !memcmp(id, m->build_id, (size_t)n);
        elf_end(elf);
    }
    int fd = same ? memfd_create("vdso", MFD_CLOEXEC) : -1;
    if (fd >= 0 && (write(fd, base, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int report_modules(symbolizer *s)
{
    s->dwfl = dwfl_begin(&offline_callbacks);
    if (!s->dwfl)
        return -1;
    dwfl_report_begin(s->dwfl);
    for (size_t i = 0; i < s->proc->nmodules; i++) {
        const pb_profile_raw_module *m = &s->proc->modules[i];
        if (is_vdso(m)) {
            int fd = own_vdso_fd(m);
            if (fd >= 0 &&
                !dwfl_report_elf(s->dwfl, PB_PROFILE_VDSO, PB_PROFILE_VDSO, fd, m->bias, false))
                close(fd); /* consumed only on success */
            continue;
        }
        if (m->path[0] != '/' || !build_id_matches(m))
            continue;
        /* Failures (overlaps, unreadable files) leave the module unnamed. */
        dwfl_report_elf(s->dwfl, base_name(m->path), m->path, -1, m->bias, false);
    }
    dwfl_report_end(s->dwfl, NULL, NULL);
    return 0;
}

static const pb_profile_raw_module *raw_module(const pb_profile_raw_process *proc, uint64_t addr)
{
    for (size_t i = 0; i < proc->nmodules; i++)
        if (addr >= proc->modules[i].lo && addr < proc->modules[i].hi)
            return &proc->modules[i];
    return NULL;
}

static char *demangled(symbolizer *s, const char *name)
{
    if (strncmp(name, "_Z", 2) != 0)
        return NULL;
    if (!s->demangle_tried) {
        s->demangle_tried = 1;
        s->cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
        if (s->cxx) {
            void *f = dlsym(s->cxx, "__cxa_demangle");
            memcpy(&s->demangle, &f, sizeof(f));
        }
    }
    if (!s->demangle)
        return NULL;
    int status = 0;
    char *out = s->demangle(name, NULL, NULL, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* The function starts of one module, from its .eh_frame_hdr, ascending. */
typedef struct fn_starts {
    Dwfl_Module *mod;
    uint64_t *start;
    size_t n;
} fn_starts;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint32_t pb_eh_frame_hdr_entries(const unsigned char *h, size_t len)
{
    uint32_t count = 0;
    if (len >= PB_EH_FRAME_HDR_TABLE && h[0] == 1 && (h[1] & 0x0f) == DW_EH_PE_sdata4 &&
        h[2] == DW_EH_PE_udata4 && h[3] == (DW_EH_PE_datarel | DW_EH_PE_sdata4))
        memcpy(&count, h + 8, sizeof(count));
    return PB_EH_FRAME_HDR_TABLE + (uint64_t)count * 8 <= len ? count : 0;
}

/*
 * Read the binary search table of the module's .eh_frame_hdr, one entry
 * per function with unwind info, into absolute addresses. None (no table,
 * another encoding) leaves `f` empty. PB_ENOMEM or 0.
 */
static int load_starts(Dwfl_Module *mod, fn_starts *f)
{
    GElf_Addr bias = 0;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    size_t phnum = 0;
    if (!elf || elf_getphdrnum(elf, &phnum) != 0)
        return 0;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME || ph.p_filesz < 12)
            continue;
        Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_BYTE);
        const unsigned char *h = d ? d->d_buf : NULL;
        uint32_t count = h ? pb_eh_frame_hdr_entries(h, ph.p_filesz) : 0;
        if (count == 0)
            return 0;
        f->start = malloc(count * sizeof(uint64_t));
        if (!f->start)
            return PB_ENOMEM;
        for (uint32_t k = 0; k < count; k++) {
            int32_t rel;
            memcpy(&rel, h + PB_EH_FRAME_HDR_TABLE + (size_t)k * 8, sizeof(rel));
            f->start[k] = bias + ph.p_vaddr + (uint64_t)(int64_t)rel;
        }
        f->n = count;
        qsort(f->start, f->n, sizeof(uint64_t), cmp_u64); /* sorted already, by the spec */
        return 0;
    }
    return 0;
}

/* Move *addr back to the start of its function in `mod`, when known: code
 * that has unwind info, whose function is the last one starting before it. */
static int function_start(symbolizer *s, Dwfl_Module *mod, uint64_t *addr)
{
    Dwarf_Addr cfi_bias = 0;
    Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &cfi_bias);
    Dwarf_Frame *frame = NULL;
    if (!cfi || dwarf_cfi_addrframe(cfi, *addr - cfi_bias, &frame) != 0)
        return 0;
    free(frame);
    fn_starts *f = NULL;
    for (size_t i = 0; i < s->nstarts && !f; i++)
        if (s->starts[i].mod == mod)
            f = &s->starts[i];
    if (!f) {
        fn_starts *grown = realloc(s->starts, (s->nstarts + 1) * sizeof(*grown));
        if (!grown)
            return PB_ENOMEM;
        s->starts = grown;
        f = &s->starts[s->nstarts++];
        *f = (fn_starts){mod, NULL, 0};
        if (load_starts(mod, f) < 0)
            return PB_ENOMEM;
    }
    size_t lo = 0, hi = f->n; /* the last start <= *addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->start[mid] <= *addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0)
        *addr = f->start[lo - 1];
    return 0;
}

/* Name the code at `addr` and intern it as a frame. */
static int resolve(symbolizer *s, uint64_t addr, uint32_t *id, pb_error *err)
{
    char fallback[PPRT_MAX_PATH + 64];
    const char *name = NULL, *file = NULL;
    char *pretty = NULL;
    int line = 0;
    Dwfl_Module *mod = s->dwfl ? dwfl_addrmodule(s->dwfl, addr) : NULL;
    if (mod) {
        GElf_Off off = 0;
        GElf_Sym sym;
        name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
        if (name) {
            const char *at = strchr(name, '@'); /* "memcpy@@GLIBC_2.14": drop the version */
            if (at && at != name) {
                pretty = strndup(name, (size_t)(at - name));
                if (!pretty)
                    return pb_error_set(err, PB_ENOMEM, "out of memory");
                name = pretty;
            }
            char *plain = demangled(s, name);
            if (plain) {
                free(pretty);
                pretty = plain;
                name = pretty;
            }
            Dwfl_Line *l = dwfl_module_getsrc(mod, addr - off);
            if (!l)
                l = dwfl_module_getsrc(mod, addr);
            if (l)
                file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
        }
    }
    if (!name) {
        const pb_profile_raw_module *m = raw_module(s->proc, addr);
        if (mod) { /* name the function, not the address */
            int rc = function_start(s, mod, &addr);
            if (rc < 0)
                return pb_error_set(err, rc, "out of memory");
        }
        if (m && is_vdso(m)) /* another kernel's: one frame, not one per address */
            snprintf(fallback, sizeof(fallback), "%s", PB_PROFILE_VDSO);
        else if (m)
            snprintf(fallback, sizeof(fallback), "%s+0x%llx", base_name(m->path),
                     (unsigned long long)(addr - m->bias));
        else
            snprintf(fallback, sizeof(fallback), "[unknown]");
        name = fallback;
    }
    /* A symbol's module tells it from another module's of that name; a
     * fallback name says its module already. */
    const pb_profile_raw_module *m = name != fallback ? raw_module(s->proc, addr) : NULL;
    int rc = pb_profile_intern_in(s->profile, name, m ? base_name(m->path) : NULL, file,
                                  line > 0 ? (unsigned)line : 0, id, err);
    free(pretty);
    return rc;
}

static int lookup(symbolizer *s, uint64_t addr, uint32_t *id, pb_error *err)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *keys = calloc(cap, sizeof(uint64_t));
        uint32_t *vals = calloc(cap, sizeof(uint32_t));
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            size_t at = (s->keys[i] * 0x9e3779b97f4a7c15u >> 20) & (cap - 1);
            while (keys[at])
                at = (at + 1) & (cap - 1);
            keys[at] = s->keys[i];
            vals[at] = s->vals[i];
        }
        free(s->keys);
        free(s->vals);
        s->keys = keys;
        s->vals = vals;
        s->cap = cap;
    }
    uint64_t key = addr + 1;
    size_t mask = s->cap - 1;
    size_t at = (key * 0x9e3779b97f4a7c15u >> 20) & mask;
    while (s->keys[at]) {
        if (s->keys[at] == key) {
            *id = s->vals[at];
            return 0;
        }
        at = (at + 1) & mask;
    }
    int rc = resolve(s, addr, id, err);
    if (rc < 0)
        return rc;
    s->keys[at] = key;
    s->vals[at] = *id;
    s->n++;
    return 0;
}

int pb_profile_symbolize(pb_profile *p, const pb_profile_raw_process *proc, int symbolize,
                         pb_error *err)
{
    int rc = 0;
    symbolizer s;
    memset(&s, 0, sizeof(s));
    s.proc = proc;
    s.profile = p;
    if (symbolize && proc->nmodules) {
        elf_version(EV_CURRENT);
        report_modules(&s); /* without a Dwfl every frame is module+offset */
    }
    /* The runtime starts every thread through a function of its own: that
     * caller is not the program's, so it is left out (a leaf there stays). */
    const pb_profile_raw_module *rt = NULL;
    for (size_t i = 0; i < proc->nmodules; i++)
        if (!strcmp(base_name(proc->modules[i].path), PB_PROFILE_RUNTIME))
            rt = &proc->modules[i];
    uint32_t leaf_first[PPRT_MAX_DEPTH], frames[PPRT_MAX_DEPTH];
    for (size_t i = 0; i < proc->nstacks; i++) {
        const pb_profile_raw_stack *st = &proc->stacks[i];
        if (st->depth == 0 || st->depth > PPRT_MAX_DEPTH)
            continue;
        uint32_t depth = 0;
        for (uint32_t k = 0; k < st->depth; k++) {
            uint64_t addr = k == 0 || st->pcs[k] == 0 ? st->pcs[k] : st->pcs[k] - 1;
            if (k > 0 && rt && addr >= rt->lo && addr < rt->hi)
                continue;
            if ((rc = lookup(&s, addr, &leaf_first[depth++], err)) < 0)
                goto done;
        }
        for (uint32_t k = 0; k < depth; k++)
            frames[k] = leaf_first[depth - 1 - k];
        if ((rc = pb_profile_add_stack(p, frames, depth, st->count, err)) < 0)
            goto done;
    }
done:
    if (s.dwfl)
        dwfl_end(s.dwfl);
    if (s.cxx)
        dlclose(s.cxx);
    free(s.keys);
    free(s.vals);
    for (size_t i = 0; i < s.nstarts; i++)
        free(s.starts[i].start);
    free(s.starts);
    return rc;
}
