/*
 * rt_ringouter.c: a plugin that loads a plugin of its own when it is
 * loaded and unloads it when it is unloaded (the dlclose of the other
 * runs inside this one's), for rt_ring.c's "nested" mode. The inner
 * plugin's path is in RT_RING_INNER.
 */
#include <dlfcn.h>
#include <stdlib.h>

static void *inner;

__attribute__((constructor)) static void load_inner(void)
{
    const char *path = getenv("RT_RING_INNER");
    inner = path ? dlopen(path, RTLD_NOW) : NULL;
}

__attribute__((destructor)) static void unload_inner(void)
{
    if (inner)
        dlclose(inner);
}

int rt_ringouter_loaded(void)
{
    return inner != NULL;
}
