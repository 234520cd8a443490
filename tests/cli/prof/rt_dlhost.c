/*
 * rt_dlhost.c: plugins/librt_dlhost.so, which rt_dlmain.c dlopens and which
 * dlopens a plugin (plugins/hostdir/librt_dlplug2.so) found through its own
 * RUNPATH ($ORIGIN/hostdir) only, not the program's: glibc searches by the
 * object that calls dlopen, which must stay this library.
 */
#include <dlfcn.h>
#include <stdio.h>

int rt_dlhost_load(void)
{
    void *h = dlopen("librt_dlplug2.so", RTLD_NOW);
    if (!h) {
        printf("host dlopen: %s\n", dlerror());
        return -1;
    }
    int (*value)(void) = (int (*)(void))dlsym(h, "rt_dlplug_value");
    int v = value ? value() : -1;
    dlclose(h);
    return v;
}
