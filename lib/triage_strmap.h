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
    uint64_t *slots; /* hash << 32 | (entry index + 1); 0 is empty */
    size_t nslots;   /* power of two */
} pb_strmap;

#define PB_STRMAP_INIT                                                                             \
    {                                                                                              \
        PB_BUF_INIT, NULL, 0, 0, NULL, 0                                                           \
    }

/* Eight bytes per step (ids are 30-100 bytes long); not meant to resist chosen collisions. */
static inline uint32_t pb_strmap_hash(const char *s, size_t len)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h = len * k, w;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * k;
    h ^= h >> 29;
    h *= k;
    return (uint32_t)(h >> 32);
}

static inline const char *pb_strmap_key(const pb_strmap *m, size_t i)
{
    return m->keys.data + m->key_off[i];
}

/* Whether entry i is `key` (len bytes). Keys are stored back to back, so the next key's
 * offset gives this one's length. */
static inline int pb_strmap_key_is(const pb_strmap *m, size_t i, const char *key, size_t len)
{
    size_t end = i + 1 < m->n ? m->key_off[i + 1] : m->keys.len;
    return end - m->key_off[i] == len + 1 && !memcmp(pb_strmap_key(m, i), key, len);
}

/* The slots keep each entry's hash, so growing never reads the keys again. */
static inline int pb_strmap_rehash(pb_strmap *m, size_t nslots)
{
    uint64_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots)
        return PB_ENOMEM;
    for (size_t i = 0; i < m->nslots; i++) {
        if (!m->slots[i])
            continue;
        size_t j = (m->slots[i] >> 32) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return 0;
}

/* Ask the cache for the slot where `key` would be looked up, ahead of pb_strmap_find. */
static inline void pb_strmap_prefetch(const pb_strmap *m, const char *key, size_t len)
{
    if (m->nslots)
        __builtin_prefetch(&m->slots[pb_strmap_hash(key, len) & (m->nslots - 1)]);
}

/* Find `key` (len bytes); when absent and `add`, insert it. *index is the
 * entry; *added says whether it is new. Returns 0, PB_ENOTFOUND or PB_ENOMEM. */
static inline int pb_strmap_find(pb_strmap *m, const char *key, size_t len, int add, size_t *index,
                                 int *added)
{
    uint32_t hash = pb_strmap_hash(key, len);
    if (added)
        *added = 0;
    if (m->nslots) {
        size_t j = hash & (m->nslots - 1);
        while (m->slots[j]) {
            size_t i = (uint32_t)m->slots[j] - 1;
            if ((uint32_t)(m->slots[j] >> 32) == hash && pb_strmap_key_is(m, i, key, len)) {
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
    size_t j = hash & (m->nslots - 1);
    while (m->slots[j])
        j = (j + 1) & (m->nslots - 1);
    m->slots[j] = (uint64_t)hash << 32 | (uint64_t)(m->n + 1);
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
