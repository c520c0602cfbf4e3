/* Checks on Slack mrkdwn output, shared by test_mrkdwn_property.c and
 * tests/fuzz/mrkdwn_fuzz.c. */
#ifndef AB_TEST_MRKDWN_CHECK_H
#define AB_TEST_MRKDWN_CHECK_H

#include <stddef.h>

/* The length of a Slack link "<url>" or "<url|label>" (on one line, no < or > inside,
 * no space or | in the URL) starting at @p (lent), or 0. */
size_t mrkdwn_check_link_len(const char *p);

/* NULL when every & < > in @out (lent) is Slack syntax: & only as &amp; &lt; &gt;,
 * < only opening a link, > only closing one or as a quote marker after nothing but
 * quote and list prefixes on its line. Else what is wrong, with *at its byte offset. */
const char *mrkdwn_check_escaping(const char *out, size_t *at);

#endif
