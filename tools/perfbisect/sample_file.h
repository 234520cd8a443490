/* sample_file.h — read the "values" of a file written by `perfbisect measure --format json`. */
#ifndef PERFBISECT_SAMPLE_FILE_H
#define PERFBISECT_SAMPLE_FILE_H

#include <stddef.h>

typedef struct sample_file {
    const char *path;
    double *values;
    size_t n;
    char *unit;   /* NULL when the file has none */
    char *metric; /* the --metric it was measured with, NULL when not said */
} sample_file;

/*
 * Load `path`; on failure print "perfbisect: CMD: PATH: why" and return
 * the exit code for bad input (2); 0 on success.
 */
int sample_file_load(const char *cmd, const char *path, sample_file *s);

void sample_file_free(sample_file *s);

#endif
