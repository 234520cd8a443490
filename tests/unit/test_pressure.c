/*
 * Unit tests of the pressure module: the kernel's file format (as
 * Documentation/accounting/psi.rst gives it and this machine prints it),
 * and the share of stalled time over measured spans.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>
#include <unistd.h>

#include "perfbisect/pressure.h"

/* /proc/pressure/cpu as read on this machine (Linux 6.18). */
static const char CPU_FILE[] = "some avg10=0.43 avg60=2.20 avg300=12.82 total=2081268950\n"
                               "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

static void test_pressure__parses_the_some_total(void **state)
{
    (void)state;
    uint64_t total = 0;
    assert_int_equal(pb_pressure_parse(CPU_FILE, &total), 0);
    assert_true(total == 2081268950u);
    /* "full" first (never printed so, but the line is found by its name). */
    assert_int_equal(pb_pressure_parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"
                                       "some avg10=1.00 avg60=0.00 avg300=0.00 total=42\n",
                                       &total),
                     0);
    assert_true(total == 42);
    /* Older kernels print only the "some" line. */
    assert_int_equal(pb_pressure_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=5", &total),
                     0);
    assert_true(total == 5);
}

static void test_pressure__rejects_what_is_not_a_pressure_file(void **state)
{
    (void)state;
    uint64_t total = 99;
    assert_int_equal(pb_pressure_parse("", &total), PB_EINVAL);
    assert_int_equal(pb_pressure_parse("full avg10=0.00 total=3\n", &total), PB_EINVAL);
    assert_int_equal(pb_pressure_parse("some avg10=0.00 avg60=0.00\nfull total=3\n", &total),
                     PB_EINVAL); /* the total of another line is not ours */
    assert_int_equal(pb_pressure_parse("some total=12x\n", &total), PB_EINVAL);
    assert_int_equal(pb_pressure_parse("some total=\n", &total), PB_EINVAL);
    assert_true(total == 99);
}

static void test_pressure__reads_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_pressure.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, CPU_FILE, sizeof(CPU_FILE) - 1), (ssize_t)(sizeof(CPU_FILE) - 1));
    close(fd);
    uint64_t total = 0;
    assert_int_equal(pb_pressure_read(path, &total), 0);
    assert_true(total == 2081268950u);
    unlink(path);
    assert_int_equal(pb_pressure_read(path, &total), PB_EIO);
}

static void test_pressure__share_of_the_spans(void **state)
{
    (void)state;
    pb_pressure p = PB_PRESSURE_INIT;
    assert_true(isnan(pb_pressure_share(&p))); /* nothing measured */
    /* 1 ms stalled in a 10 ms run, 3 ms in a 30 ms run: 4 of 40 ms. */
    pb_pressure_add(&p, 1, 1000, 2000, 0.010);
    pb_pressure_add(&p, 1, 5000, 8000, 0.030);
    assert_true(fabs(pb_pressure_share(&p) - 0.1) < 1e-12);
    assert_true(pb_pressure_share(&p) < PB_PRESSURE_BUSY); /* what starting processes costs */
    pb_pressure busy = PB_PRESSURE_INIT;
    pb_pressure_add(&busy, 1, 0, 20000, 0.040); /* waiting half the time: oversubscribed */
    assert_true(pb_pressure_share(&busy) >= PB_PRESSURE_BUSY);
    /* A quiet run brings the share down. */
    pb_pressure_add(&p, 1, 8000, 8000, 0.060);
    assert_true(fabs(pb_pressure_share(&p) - 0.04) < 1e-12);
    /* Never above 1, whatever the counter says. */
    pb_pressure q = PB_PRESSURE_INIT;
    pb_pressure_add(&q, 1, 0, 50000, 0.010);
    assert_true(pb_pressure_share(&q) == 1);
    /* One span that could not be read: no share at all, not a wrong one. */
    pb_pressure_add(&p, 0, 0, 0, 0.010);
    assert_true(isnan(pb_pressure_share(&p)));
    /* A counter going backwards (it cannot; a misread) is not available either. */
    pb_pressure r = PB_PRESSURE_INIT;
    pb_pressure_add(&r, 1, 10, 5, 0.010);
    assert_true(isnan(pb_pressure_share(&r)));
}

/* The machine's own counter over a short span: a share, or NAN without PSI. */
static void test_pressure__a_span_of_this_machine(void **state)
{
    (void)state;
    pb_pressure p = PB_PRESSURE_INIT;
    pb_pressure_mark m = pb_pressure_now();
    assert_true(m.sec > 0);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double span = pb_pressure_add_since(&p, m);
    assert_true(span >= 0.02); /* nanosleep sleeps at least that long */
    double share = pb_pressure_share(&p);
    uint64_t total;
    if (pb_pressure_read(PB_PRESSURE_CPU, &total) == 0) {
        assert_true(m.ok);
        assert_true(share >= 0 && share <= 1);
        assert_true(p.wall_sec >= 0.02);
    } else {
        assert_true(isnan(share));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pressure__parses_the_some_total),
        cmocka_unit_test(test_pressure__rejects_what_is_not_a_pressure_file),
        cmocka_unit_test(test_pressure__reads_a_file),
        cmocka_unit_test(test_pressure__share_of_the_spans),
        cmocka_unit_test(test_pressure__a_span_of_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
