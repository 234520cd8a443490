/*
 * triage_strmap.h — private: a string-interning hash map for the junit,
 * console-log and triage modules. Entries are numbered 0..n-1 in insertion
 * order; callers keep their per-entry data in parallel arrays.
 */
#ifndef PB_TRIAGE_STRMAP_H
#define PB_TRIAGE_STRMAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfbisect/buf.h"
#include "perfbisect/error.h"

typedef struct pb_strmap {
    pb_buf keys;     /* keys back to back, each NUL-terminated */
    size_t *key_off; /* per entry: offset of its key in `keys` */
    size_t n;
    size_t cap;
    uint32_t *slots; /* entry index + 1; 0 is empty */
    size_t nslots;   /* power of two */
} pb_strmap;

#define PB_STRMAP_INIT                                                                             \
    {                                                                                              \
        PB_BUF_INIT, NULL, 0, 0, NULL, 0                                                           \
    }

static inline uint64_t pb_strmap_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static inline const char *pb_strmap_key(const pb_strmap *m, size_t i)
{
    return m->keys.data + m->key_off[i];
}

static inline int pb_strmap_rehash(pb_strmap *m, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots)
        return PB_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = pb_strmap_key(m, i);
        size_t j = pb_strmap_hash(k, strlen(k)) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return 0;
}

/* Find `key` (len bytes); when absent and `add`, insert it. *index is the
 * entry; *added says whether it is new. Returns 0, PB_ENOTFOUND or PB_ENOMEM. */
static inline int pb_strmap_find(pb_strmap *m, const char *key, size_t len, int add, size_t *index,
                                 int *added)
{
    if (added)
        *added = 0;
    if (m->nslots) {
        size_t j = pb_strmap_hash(key, len) & (m->nslots - 1);
        while (m->slots[j]) {
            size_t i = m->slots[j] - 1;
            const char *k = pb_strmap_key(m, i);
            if (!strncmp(k, key, len) && k[len] == '\0') {
                *index = i;
                return 0;
            }
            j = (j + 1) & (m->nslots - 1);
        }
    }
    if (!add)
        return PB_ENOTFOUND;
    if (m->n >= UINT32_MAX - 1)
        return PB_ENOMEM;
    if ((m->n + 1) * 2 > m->nslots && pb_strmap_rehash(m, m->nslots ? m->nslots * 2 : 64) < 0)
        return PB_ENOMEM;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        size_t *off = realloc(m->key_off, cap * sizeof(*off));
        if (!off)
            return PB_ENOMEM;
        m->key_off = off;
        m->cap = cap;
    }
    size_t off = m->keys.len;
    if (pb_buf_put(&m->keys, key, len) < 0 || pb_buf_put(&m->keys, "", 1) < 0)
        return PB_ENOMEM;
    m->key_off[m->n] = off;
    size_t j = pb_strmap_hash(key, len) & (m->nslots - 1);
    while (m->slots[j])
        j = (j + 1) & (m->nslots - 1);
    m->slots[j] = (uint32_t)(m->n + 1);
    *index = m->n++;
    if (added)
        *added = 1;
    return 0;
}

static inline void pb_strmap_free(pb_strmap *m)
{
    pb_buf_free(&m->keys);
    free(m->key_off);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

#endif
