/*
 * rt_ringouter.c: a plugin that loads a plugin of its own when it is
 * loaded and unloads it when it is unloaded (the dlclose of the other
 * runs inside this one's), for rt_ring.c's "nested" mode. The inner
 * plugin's path is in RT_RING_INNER. With RT_RING_FORKS=N its constructor
 * first forks N children that exit at once, inside dlopen.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *inner;

__attribute__((constructor)) static void load_inner(void)
{
    const char *path = getenv("RT_RING_INNER"), *forks = getenv("RT_RING_FORKS");
    for (int i = 0, n = forks ? atoi(forks) : 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid(pid, NULL, 0);
    }
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
