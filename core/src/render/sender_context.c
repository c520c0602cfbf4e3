/* Building the <sender_context> block with injection-proof JSON escaping. */
#include "render/sender_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/textbuf.h"
#include "render/utf8.h"

/* Append @s as a JSON string (or null), escaped as described in sender_context.h. */
static int
sender_context_json_string(struct textbuf *b, const char *s)
{
    size_t len, off = 0, n;
    uint32_t cp;
    char esc[8];
    int rc;

    if (s == NULL)
        return textbuf_append_str(b, "null");
    len = strlen(s);
    if ((rc = textbuf_append(b, "\"", 1)) < 0)
        return rc;
    while (off < len && rc == 0) {
        unsigned char c = (unsigned char)s[off];
        n = utf8_decode(s + off, len - off, &cp);
        if (n == 0) {
            rc = textbuf_append_str(b, "\\ufffd");
            n = 1;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            rc = textbuf_append(b, esc, 2);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            rc = textbuf_append_str(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
        } else if (cp < 0x20 || c == '<' || c == '>' || c == '&' || cp == 0x2028 || cp == 0x2029) {
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
            rc = textbuf_append(b, esc, 6);
        } else {
            rc = textbuf_append(b, s + off, n);
        }
        off += n;
    }
    return rc < 0 ? rc : textbuf_append(b, "\"", 1);
}

/* Assemble the block field by field in the documented order. */
int
sender_context_build(const struct sender_context *ctx, char **out)
{
    struct textbuf b = {0};
    int rc;

    if (out)
        *out = NULL;
    if (ctx == NULL || out == NULL || ctx->sender_id == NULL || ctx->channel == NULL ||
        ctx->channel_id == NULL)
        return AB_EINVAL;
    if ((rc = textbuf_append_str(&b, "<sender_context>{\"schema\":\"agent-broker.sender.v1\","
                                     "\"sender_id\":")) < 0 ||
        (rc = sender_context_json_string(&b, ctx->sender_id)) < 0 ||
        (rc = textbuf_append_str(&b, ",\"sender_name\":")) < 0 ||
        (rc = sender_context_json_string(&b, ctx->sender_name)) < 0 ||
        (rc = textbuf_append_str(&b, ",\"display_name\":")) < 0 ||
        (rc = sender_context_json_string(&b, ctx->display_name)) < 0 ||
        (rc = textbuf_append_str(&b, ",\"channel\":")) < 0 ||
        (rc = sender_context_json_string(&b, ctx->channel)) < 0 ||
        (rc = textbuf_append_str(&b, ",\"channel_id\":")) < 0 ||
        (rc = sender_context_json_string(&b, ctx->channel_id)) < 0 ||
        (rc = textbuf_append_str(&b, ctx->is_bot ? ",\"is_bot\":true" : ",\"is_bot\":false")) < 0)
        goto fail;
    if (ctx->outbox_dir && ((rc = textbuf_append_str(&b, ",\"outbox_dir\":")) < 0 ||
                            (rc = sender_context_json_string(&b, ctx->outbox_dir)) < 0))
        goto fail;
    if ((rc = textbuf_append_str(&b, "}</sender_context>")) < 0)
        goto fail;
    if ((*out = textbuf_take(&b)) == NULL)
        return AB_ENOMEM;
    return 0;

fail:
    textbuf_free(&b);
    return rc;
}
