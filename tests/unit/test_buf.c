/* test_buf.c — the growable buffer: appending, and reading a stream whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfbisect/buf.h"
#include "perfbisect/error.h"

/* A stream holding `len` bytes of a repeating pattern. */
static FILE *stream_of(size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        assert_int_not_equal(fputc('a' + (int)(i % 26), f), EOF);
    rewind(f);
    return f;
}

static void test_buf__appends_keep_a_nul(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_string_equal(pb_buf_cstr(&b), "");
    assert_int_equal(pb_buf_puts(&b, "ab"), 0);
    assert_int_equal(pb_buf_put(&b, "cd", 1), 0);
    assert_int_equal(pb_buf_printf(&b, "%d", 42), 0);
    assert_string_equal(pb_buf_cstr(&b), "abc42");
    assert_int_equal(b.len, 5);
    pb_buf_free(&b);
}

/* Several 64 KiB chunks, appended after what the buffer held, exactly. */
static void test_buf__read_takes_the_whole_stream(void **state)
{
    (void)state;
    const size_t len = 3 * 65536 + 17;
    FILE *f = stream_of(len);
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_buf_puts(&b, ">"), 0);
    assert_int_equal(pb_buf_read(&b, f, len + 1), 0);
    assert_int_equal(b.len, len + 1);
    assert_int_equal(b.data[0], '>');
    assert_int_equal(b.data[1], 'a');
    assert_int_equal(b.data[len], 'a' + (int)((len - 1) % 26));
    assert_int_equal(b.data[len + 1], '\0');
    fclose(f);
    pb_buf_free(&b);

    f = stream_of(0); /* empty: nothing added, no error */
    assert_int_equal(pb_buf_read(&b, f, 10), 0);
    assert_int_equal(b.len, 0);
    fclose(f);
    pb_buf_free(&b);
}

/* One byte over the limit is PB_EINVAL; exactly the limit is fine. */
static void test_buf__read_stops_at_the_limit(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    FILE *f = stream_of(100);
    assert_int_equal(pb_buf_read(&b, f, 99), PB_EINVAL);
    assert_true(b.len <= 99);
    fclose(f);
    pb_buf_free(&b);
    f = stream_of(100);
    assert_int_equal(pb_buf_read(&b, f, 100), 0);
    assert_int_equal(b.len, 100);
    fclose(f);
    pb_buf_free(&b);
}

/* A stream that cannot be read (opened for writing only) is PB_EIO. */
static void test_buf__read_error_is_eio(void **state)
{
    (void)state;
    char path[] = "/tmp/pb_buf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_buf_read(&b, f, 10), PB_EIO);
    fclose(f);
    unlink(path);
    pb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__appends_keep_a_nul),
        cmocka_unit_test(test_buf__read_takes_the_whole_stream),
        cmocka_unit_test(test_buf__read_stops_at_the_limit),
        cmocka_unit_test(test_buf__read_error_is_eio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
