/* test_error.c — error.h: messages, codes, and adding context to an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "perfbisect/error.h"

static void test_error__set_and_read(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    assert_string_equal(pb_error_message(&err), "no error");
    assert_int_equal(pb_error_set(&err, PB_EINVAL, "bad %s %d", "value", 7), PB_EINVAL);
    assert_int_equal(err.code, PB_EINVAL);
    assert_string_equal(pb_error_message(&err), "bad value 7");
    pb_error_clear(&err);
    assert_int_equal(err.code, PB_OK);
    assert_int_equal(pb_error_set(NULL, PB_EIO, "ignored"), PB_EIO);
    pb_error_set_errno(&err, PB_EIO, ENOENT, "cannot open %s", "x");
    assert_string_equal(pb_error_message(&err), "cannot open x: No such file or directory");
}

/* A message may quote the error's own: context is added without a copy. */
static void test_error__context_quotes_the_old_message(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    pb_error_set(&err, PB_EINVAL, "line 3: bad count");
    pb_error_set(&err, err.code, "%s: %s", "a.folded", pb_error_message(&err));
    assert_string_equal(pb_error_message(&err), "a.folded: line 3: bad count");
    pb_error_set_errno(&err, PB_EIO, EACCES, "%s, then", pb_error_message(&err));
    assert_string_equal(pb_error_message(&err),
                        "a.folded: line 3: bad count, then: Permission denied");
    /* Cut at the buffer's size, never past it. */
    char longer[3 * PB_ERROR_MSG_MAX];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    pb_error_set(&err, PB_EINVAL, "%s", longer);
    pb_error_set(&err, PB_EINVAL, "%s%s", pb_error_message(&err), pb_error_message(&err));
    assert_int_equal(strlen(pb_error_message(&err)), PB_ERROR_MSG_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__set_and_read),
        cmocka_unit_test(test_error__context_quotes_the_old_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
