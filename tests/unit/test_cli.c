/*
 * test_cli.c — the helpers the three tools share (tools/common/cli.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define R "\xEF\xBF\xBD" /* U+FFFD, the replacement character */

typedef struct utf8_case {
    const char *in, *out;
} utf8_case;

/* Byte sequences from Unicode's table of well-formed UTF-8 (table 3-7) and
 * just outside it; every byte outside a well-formed sequence is one U+FFFD. */
static const utf8_case utf8_cases[] = {
    {"", ""},
    {"plain ascii", "plain ascii"},
    {"caf\xC3\xA9", "caf\xC3\xA9"},           /* 2 bytes: U+00E9 */
    {"\xC2\x80", "\xC2\x80"},                 /* 2 bytes: U+0080, the smallest */
    {"\xE2\x82\xAC", "\xE2\x82\xAC"},         /* 3 bytes: U+20AC */
    {"\xE0\xA0\x80", "\xE0\xA0\x80"},         /* 3 bytes: U+0800, the smallest */
    {"\xED\x9F\xBF", "\xED\x9F\xBF"},         /* U+D7FF, below the surrogates */
    {"\xEE\x80\x80", "\xEE\x80\x80"},         /* U+E000, above them */
    {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"}, /* 4 bytes: U+1F600 */
    {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"}, /* U+10FFFF, the largest */
    {"caf\xE9", "caf" R},                     /* Latin-1 */
    {"\xC0\x80", R R},                        /* overlong NUL */
    {"\xC1\xBF", R R},                        /* overlong U+007F */
    {"\xE0\x80\x80", R R R},                  /* overlong 3 bytes */
    {"\xF0\x80\x80\x80", R R R R},            /* overlong 4 bytes */
    {"\xED\xA0\x80", R R R},                  /* surrogate U+D800 */
    {"\xED\xBF\xBF", R R R},                  /* surrogate U+DFFF */
    {"\xF4\x90\x80\x80", R R R R},            /* U+110000 */
    {"\xF5\x80\x80\x80", R R R R},            /* F5: beyond any code point */
    {"\xFF", R},                              /* never in UTF-8 */
    {"\x80x", R "x"},                         /* a stray continuation byte */
    {"\xE2\x82", R R},                        /* cut short at the end */
    {"\xE2\x82\x41", R R "A"},                /* cut short by ASCII ('A') */
    {"\xF0\x9F\x98", R R R},                  /* 4 bytes, cut short */
    {"\xE9\xC3\xA9!", R "\xC3\xA9!"},         /* a bad byte, then a good sequence */
};

static void test_cli__json_text_replaces_invalid_utf8(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        json_t *j = pb_cli_json_text(utf8_cases[i].in);
        assert_non_null(j);
        assert_true(json_is_string(j));
        const char *got = json_string_value(j);
        if (strcmp(got, utf8_cases[i].out) != 0)
            fail_msg("case %zu: got '%s', expected '%s'", i, got, utf8_cases[i].out);
        /* What comes out is valid UTF-8: jansson reads it back. */
        char *text = json_dumps(j, JSON_ENCODE_ANY);
        json_t *back = json_loads(text, JSON_DECODE_ANY, NULL);
        assert_non_null(back);
        assert_string_equal(json_string_value(back), utf8_cases[i].out);
        json_decref(back);
        free(text);
        json_decref(j);
    }
}

static void test_cli__json_text_of_null_is_null(void **state)
{
    (void)state;
    json_t *j = pb_cli_json_text(NULL);
    assert_true(json_is_null(j));
    json_decref(j);
}

/* The key that json_string() would lose is kept. */
static void test_cli__json_text_keeps_the_key(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_null(json_string("caf\xE9")); /* why the helper exists */
    assert_int_equal(json_object_set_new(o, "subject", pb_cli_json_text("caf\xE9")), 0);
    assert_string_equal(json_string_value(json_object_get(o, "subject")), "caf" R);
    json_decref(o);
}

/* A subject or author in a Markdown table: one cell, no HTML, one line. */
static void test_cli__md_cell_escapes_table_and_html(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    pb_cli_md_cell(f, "Q \"A\" x|y <b>bold</b>\nnext");
    fclose(f);
    assert_string_equal(buf, "Q \"A\" x\\|y &lt;b&gt;bold&lt;/b&gt; next");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli__json_text_replaces_invalid_utf8),
        cmocka_unit_test(test_cli__json_text_of_null_is_null),
        cmocka_unit_test(test_cli__json_text_keeps_the_key),
        cmocka_unit_test(test_cli__md_cell_escapes_table_and_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
