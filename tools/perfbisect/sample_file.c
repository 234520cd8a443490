#include "sample_file.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "perfbisect/buf.h"

#define TOOL "perfbisect"
#define INPUT_MAX ((size_t)16 << 20)
#define VALUES_MAX 1000000

void sample_file_free(sample_file *s)
{
    free(s->values);
    free(s->unit);
    free(s->metric);
    s->values = NULL;
    s->unit = NULL;
    s->metric = NULL;
}

int sample_file_load(const char *cmd, const char *path, sample_file *s)
{
    int rc = PB_EXIT_OK;
    FILE *f = NULL;
    pb_buf text = PB_BUF_INIT;
    json_t *root = NULL;
    json_error_t jerr;

    memset(s, 0, sizeof(*s));
    s->path = path;
    if (!(f = fopen(path, "rb"))) {
        rc = pb_cli_fail(TOOL, "%s: cannot read %s: %s", cmd, path, strerror(errno));
        goto done;
    }
    int read = pb_buf_read(&text, f, INPUT_MAX);
    if (read == PB_EINVAL) {
        rc = pb_cli_fail(TOOL, "%s: %s is larger than %zu bytes", cmd, path, INPUT_MAX);
        goto done;
    }
    if (read == PB_ENOMEM) {
        rc = pb_cli_fail(TOOL, "%s: out of memory", cmd);
        goto done;
    }
    if (read == PB_EIO) {
        rc = pb_cli_fail(TOOL, "%s: cannot read %s: %s", cmd, path, strerror(errno));
        goto done;
    }
    if (!(root = json_loadb(pb_buf_cstr(&text), text.len, 0, &jerr))) {
        rc = pb_cli_fail(TOOL, "%s: %s: not valid JSON (line %d, column %d: %s)", cmd, path,
                         jerr.line, jerr.column, jerr.text);
        goto done;
    }
    json_t *arr = json_object_get(root, "values");
    if (!json_is_array(arr)) {
        rc = pb_cli_fail(TOOL,
                         "%s: %s: no \"values\" array (expected the output of 'perfbisect "
                         "measure --format json')",
                         cmd, path);
        goto done;
    }
    size_t n = json_array_size(arr);
    if (n < 2 || n > VALUES_MAX) {
        rc = pb_cli_fail(TOOL, "%s: %s: needs 2 to %d values, has %zu", cmd, path, VALUES_MAX, n);
        goto done;
    }
    if (!(s->values = calloc(n, sizeof(double)))) {
        rc = pb_cli_fail(TOOL, "%s: out of memory", cmd);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            rc = pb_cli_fail(TOOL, "%s: %s: values[%zu] is not a number", cmd, path, i);
            goto done;
        }
        s->values[i] = json_number_value(v);
    }
    s->n = n;
    const char *unit = json_string_value(json_object_get(root, "unit"));
    const char *metric = json_string_value(json_object_get(root, "metric"));
    if ((unit && !(s->unit = strdup(unit))) || (metric && !(s->metric = strdup(metric)))) {
        rc = pb_cli_fail(TOOL, "%s: out of memory", cmd);
        goto done;
    }
done:
    if (f)
        fclose(f);
    json_decref(root);
    pb_buf_free(&text);
    return rc;
}
