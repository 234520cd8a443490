/*
 * rt_dlmain.c: dlopen as a program does it, for
 * tests/cli/test_perfprof_record.sh, which links it with an RPATH or
 * RUNPATH of $ORIGIN/plugins and runs it bare and under perfprof record:
 * the output must be the same. glibc resolves a bare name (and expands
 * $ORIGIN in any name) by the object that calls dlopen.
 * A library it loads (rt_dlhost.c) does the same by its own RUNPATH. The
 * plugin is rt_dlplug.c, built as plugins/librt_dlplug.so and again as
 * plugins/librt_dlplugm.so.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

static int try_open(const char *what, void *h)
{
    if (!h) {
        printf("%s: failed: %s\n", what, dlerror());
        return 0;
    }
    int (*value)(void) = (int (*)(void))dlsym(h, "rt_dlplug_value");
    printf("%s: value %d\n", what, value ? value() : -1);
    return 1;
}

int main(void)
{
    int ok = 1;
    /* A bare name: found through the program's RUNPATH/RPATH only. */
    void *h = dlopen("librt_dlplug.so", RTLD_NOW);
    ok &= try_open("bare name", h);
    if (h) {
        unsigned long (*work)(unsigned) = (unsigned long (*)(unsigned))dlsym(h, "rt_dlplug_work");
        if (work && work(400))
            printf("work done\n");
    }
    /* $ORIGIN in a name is the caller's directory. */
    ok &= try_open("origin name", dlopen("$ORIGIN/plugins/librt_dlplug.so", RTLD_NOW));
    /* Another name (a loaded one would match without any search). */
    ok &= try_open("dlmopen", dlmopen(LM_ID_BASE, "librt_dlplugm.so", RTLD_NOW));
    ok &= try_open("path", dlopen("./plugins/librt_dlplug.so", RTLD_NOW));
    printf("self: %s\n", dlopen(NULL, RTLD_NOW) ? "ok" : dlerror());
    /* A failure is reported for the name asked for. */
    if (dlopen("librt_dlmissing.so", RTLD_NOW))
        ok = 0;
    else
        printf("missing: %s\n", dlerror());
    void *host = dlopen("librt_dlhost.so", RTLD_NOW);
    int (*load)(void) = host ? (int (*)(void))dlsym(host, "rt_dlhost_load") : NULL;
    if (load) {
        int v = load();
        printf("host: value %d\n", v);
        ok &= v == 42;
    } else {
        printf("host: failed: %s\n", dlerror());
        ok = 0;
    }
    return ok ? 0 : 1;
}
