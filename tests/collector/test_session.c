/* test_session.c — the collector session and its commands as library calls,
 * on real LMDB outboxes in a temp directory: the binding policy (explicit
 * and implicit init, wrong district, another campaign, missing --district,
 * absent outbox), the exit-code mapping, and requeue/rejected/reissue output
 * for conflict rejections, captured from the session's streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_commands.h"

typedef struct {
    char dir[256];
    char ob[300];
    char *out, *err;
    size_t outlen, errlen;
    FILE *fo, *fe;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ct-test-session-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ob, sizeof f->ob, "%s/ob", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->out);
    free(f->err);
    free(f);
    return 0;
}

/* Opens a session whose streams are captured; finish() closes it and
 * leaves the text in f->out / f->err (freed by the next open). */
static ct_err open_s(fixture *f, ct_collector *s, bool must_exist)
{
    free(f->out);
    free(f->err);
    f->fo = open_memstream(&f->out, &f->outlen);
    f->fe = open_memstream(&f->err, &f->errlen);
    return ct_collector_open(s, "prog", f->ob, 16u << 20, must_exist, f->fo, f->fe);
}

static void finish(fixture *f, ct_collector *s)
{
    ct_collector_close(s);
    fclose(f->fo);
    fclose(f->fe);
}

static ct_collector_cfg cfg(int64_t district)
{
    ct_collector_cfg c = {.district = district, .count = -1, .log_level = -1, .fill = 1};
    return c;
}

static void test_binding_policy(void **state)
{
    fixture *f = *state;
    ct_collector s;
    /* commands that never create: no outbox there */
    assert_int_equal(open_s(f, &s, true), CT_ERR_CONFIG);
    finish(f, &s);
    char want[600];
    snprintf(want, sizeof want, "prog: no outbox at %s (create it with `prog init`)\n", f->ob);
    assert_string_equal(f->err, want);
    assert_int_equal(access(f->ob, F_OK), -1);

    /* a queueing command without --district on an unbound outbox */
    assert_int_equal(open_s(f, &s, false), CT_OK);
    ct_collector_cfg c = cfg(-1);
    c.agent = "LD672-001";
    c.program = "bhxh_tn";
    c.person_hash = "1111111111111111111111111111111111111111111111111111111111111111";
    c.time = "2023-07-25T09:00";
    assert_int_equal(ct_collector_cmd_add(&s, &c, CT_ACTION_ENROLL), CT_ERR_CONFIG);
    finish(f, &s);
    assert_non_null(strstr(f->err, "is not initialised: run `prog init --outbox"));
    assert_string_equal(f->out, "");

    /* init needs --district (usage); an unknown district lists the known ones */
    assert_int_equal(open_s(f, &s, false), CT_OK);
    ct_collector_cfg ci = cfg(-1);
    assert_int_equal(ct_collector_cmd_init(&s, &ci), CT_ERR_USAGE);
    ci.district = 999;
    assert_int_equal(ct_collector_cmd_init(&s, &ci), CT_ERR_CONFIG);
    finish(f, &s);
    assert_non_null(strstr(f->err, "prog: init needs --district D\n(see prog --help)\n"));
    assert_non_null(strstr(f->err, "district 999 is not in campaign 'lamdong-2023' (known: "));

    /* implicit init by the first add: bound to 672, the built-in campaign */
    assert_int_equal(open_s(f, &s, false), CT_OK);
    c.district = 672;
    assert_int_equal(ct_collector_cmd_add(&s, &c, CT_ACTION_ENROLL), CT_OK);
    finish(f, &s);
    assert_non_null(strstr(f->out, "initialised outbox "));
    assert_non_null(
        strstr(f->out, ": district 672 (Thành phố Đà Lạt), campaign lamdong-2023, origin "));
    assert_non_null(strstr(f->out, "\nqueued "));
    assert_true(s.info.initialised);

    /* another district is refused; without --district the bound one is used */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    c.district = 673;
    assert_int_equal(ct_collector_cmd_add(&s, &c, CT_ACTION_ENROLL), CT_ERR_CONFIG);
    finish(f, &s);
    snprintf(want, sizeof want,
             "prog: wrong district: outbox %s belongs to district 672, not 673\n", f->ob);
    assert_string_equal(f->err, want);
    assert_int_equal(open_s(f, &s, true), CT_OK);
    c.district = -1;
    c.person_hash = "2222222222222222222222222222222222222222222222222222222222222222";
    assert_int_equal(ct_collector_cmd_add(&s, &c, CT_ACTION_ENROLL), CT_OK);
    assert_int_equal(ct_outbox_recorded(&s.info), 2);
    finish(f, &s);
    assert_null(strstr(f->out, "initialised"));

    /* a bad sign-up is a usage error, nothing queued */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    c.time = "2023-07-22T07:49:00+07:00";
    assert_int_equal(ct_collector_cmd_add(&s, &c, CT_ACTION_ENROLL), CT_ERR_USAGE);
    assert_int_equal(ct_outbox_recorded(&s.info), 2);
    finish(f, &s);
    assert_non_null(strstr(f->err, "prog: add refused (outside_window): time "));
    assert_non_null(strstr(f->err, "accepted from 2023-07-22T07:50:00+07:00"));
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(ct_collector_exit_code(CT_OK), 0);
    assert_int_equal(ct_collector_exit_code(CT_ERR_USAGE), 2);
    assert_int_equal(ct_collector_exit_code(CT_ERR_CONFIG), 2);
    assert_int_equal(ct_collector_exit_code(CT_ERR_KEY_PERMS), 2);
    assert_int_equal(ct_collector_exit_code(CT_ERR_LMDB), 1);
    assert_int_equal(ct_collector_exit_code(CT_ERR_TIMEOUT), 1);
    assert_int_equal(ct_collector_exit_code(CT_ERR_BAD_VALUE), 1);
}

static void test_conflict_commands(void **state)
{
    fixture *f = *state;
    ct_collector s;
    ct_collector_cfg c = cfg(672);
    c.agent = "LD672-001";
    c.program = "bhxh_tn";
    c.time = "2023-07-25T09:00";
    assert_int_equal(open_s(f, &s, false), CT_OK);
    const char *hashes[] = {"11", "22", "33"};
    char ph[65];
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 32; k++)
            memcpy(ph + 2 * k, hashes[i], 2);
        ph[64] = 0;
        c.person_hash = ph;
        assert_int_equal(ct_collector_cmd_add(&s, &c, CT_ACTION_ENROLL), CT_OK);
    }
    ct_outbox_settle_item items[] = {{1, CT_ERR_CONFLICT}, {2, CT_ERR_FORBIDDEN}, {3, CT_OK}};
    assert_int_equal(ct_outbox_settle(s.ob, items, 3, 1, NULL, NULL), CT_OK);
    finish(f, &s);

    /* rejected: both listed, the conflict explained */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    ct_collector_cfg none = cfg(-1);
    assert_int_equal(ct_collector_cmd_rejected(&s, &none), CT_OK);
    finish(f, &s);
    assert_non_null(strstr(f->out, " seq=1 reason=conflict (event id already recorded with "
                                   "different content) agent=LD672-001 program=bhxh_tn"));
    assert_non_null(strstr(f->out, " seq=2 reason=forbidden "));
    assert_non_null(strstr(f->out, "2 rejected events (kept; never resent)\n1 sign-up was "
                                   "refused by headquarters as `conflict`"));
    char want[600];
    snprintf(want, sizeof want, "  prog reissue --outbox %s\n", f->ob);
    assert_non_null(strstr(f->out, want));

    /* status: the conflict line */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    assert_int_equal(ct_collector_cmd_status(&s, &none), CT_OK);
    finish(f, &s);
    assert_non_null(strstr(f->out, "\nconflicts:  1 sign-up NOT counted at headquarters"));

    /* requeue: the forbidden one goes back, the conflict stays (exit 0: some requeued) */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    assert_int_equal(ct_collector_cmd_requeue(&s, &none), CT_OK);
    finish(f, &s);
    assert_string_equal(f->out, "requeued 1 event\n");
    assert_non_null(
        strstr(f->err, "prog: requeue: not resending 1 conflict-rejected event unchanged:\n"));
    /* only conflicts left: refused */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    assert_int_equal(ct_collector_cmd_requeue(&s, &none), CT_ERR_CONFIG);
    ct_collector_cfg bad = cfg(-1);
    bad.reason = "no_such_reason";
    assert_int_equal(ct_collector_cmd_requeue(&s, &bad), CT_ERR_USAGE);
    finish(f, &s);

    /* reissue: new id under a fresh origin, refused while a run holds the lock */
    assert_int_equal(open_s(f, &s, true), CT_OK);
    int lfd;
    assert_int_equal(ct_collector_run_lock(&s, &lfd), CT_OK);
    assert_true(ct_collector_run_active(&s));
    assert_int_equal(ct_collector_cmd_reissue(&s, &none), CT_ERR_CONFIG);
    assert_int_equal(s.info.reissued, 0);
    close(lfd);
    uint8_t old_origin[CT_ORIGIN_LEN];
    memcpy(old_origin, s.info.origin, CT_ORIGIN_LEN);
    assert_int_equal(ct_collector_cmd_reissue(&s, &none), CT_OK);
    assert_memory_not_equal(s.info.origin, old_origin, CT_ORIGIN_LEN);
    assert_int_equal(s.info.reissued, 1);
    assert_int_equal(s.info.queued, 2); /* the requeued forbidden one and the reissued one */
    finish(f, &s);
    assert_non_null(strstr(f->out, "reissued 1 event under new ids (fresh origin "));
    assert_int_equal(open_s(f, &s, true), CT_OK);
    assert_int_equal(ct_collector_cmd_status(&s, &none), CT_OK);
    finish(f, &s);
    assert_null(strstr(f->out, "conflicts:"));
    assert_non_null(strstr(f->out, "\nreissued:   1 (refused as conflict, queued again under "
                                   "new ids)\n"));
    assert_non_null(strstr(f->out, "\nrecorded:   3\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_binding_policy, setup, teardown),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test_setup_teardown(test_conflict_commands, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
