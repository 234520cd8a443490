/*
 * bench_junit_scan — the baseline for perftriage's parse speed: a bare expat
 * scan that only counts <testcase> start tags, 1 MiB buffers, one thread.
 * usage: bench_junit_scan FILE...   (prints bytes, testcases, seconds, MB/s)
 */
#include <expat.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_start(void *ud, const XML_Char *el, const XML_Char **attrs)
{
    (void)attrs;
    if (!strcmp(el, "testcase"))
        (*(size_t *)ud)++;
}

int main(int argc, char **argv)
{
    size_t count = 0, bytes = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            perror(argv[i]);
            return 2;
        }
        XML_Parser p = XML_ParserCreate(NULL);
        XML_SetUserData(p, &count);
        XML_SetStartElementHandler(p, on_start);
        for (;;) {
            void *buf = XML_GetBuffer(p, 1 << 20);
            ssize_t n = buf ? read(fd, buf, 1 << 20) : -1;
            if (n < 0 || XML_ParseBuffer(p, (int)n, n == 0) != XML_STATUS_OK) {
                fprintf(stderr, "%s: parse error\n", argv[i]);
                break;
            }
            bytes += (size_t)n;
            if (n == 0)
                break;
        }
        XML_ParserFree(p);
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("bytes %zu testcases %zu seconds %.3f MB/s %.1f\n", bytes, count, s,
           (double)bytes / 1e6 / s);
    return 0;
}
