/* attachments.c's pure parts (type sniffing, the allow-list, safe names) and
 * acp_prompt.c's blocks by capability, base64 padding included. */
#include <check.h>
#include <fcntl.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/check_runner.h"
#include "acp/acp_prompt.h"
#include "conv/attachments.h"

START_TEST(sniff_knows_images_documents_and_login_pages)
{
    ck_assert_str_eq(attach_sniff((const unsigned char *)"\x89PNG\r\n\x1a\n....", 12), "image/png");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"\xff\xd8\xff\xe0", 4), "image/jpeg");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"GIF89a..", 8), "image/gif");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"RIFF\0\0\0\0WEBPVP8 ", 16), "image/webp");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"%PDF-1.7", 8), "application/pdf");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"PK\x03\x04", 4), "application/zip");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"\r\n  <!DOCTYPE html>", 19), "text/html");
    ck_assert_str_eq(attach_sniff((const unsigned char *)"<HTML><body>", 12), "text/html");
    ck_assert_ptr_null(attach_sniff((const unsigned char *)"hello, world", 12));
    ck_assert_ptr_null(attach_sniff((const unsigned char *)"\x89PN", 3)); /* too short */
    ck_assert_ptr_null(attach_sniff((const unsigned char *)"", 0));
}
END_TEST

START_TEST(allow_list_matches_major_types_and_exact_ones)
{
    static const char *const types[] = {"image/*", "application/pdf"};
    struct attach_config cfg = {.allowed_types = types, .allowed_count = 2};

    ck_assert(attach_type_allowed(&cfg, "image/png"));
    ck_assert(attach_type_allowed(&cfg, "IMAGE/PNG"));
    ck_assert(attach_type_allowed(&cfg, "application/pdf; name=x"));
    ck_assert(!attach_type_allowed(&cfg, "imagex/png"));
    ck_assert(!attach_type_allowed(&cfg, "image/"));
    ck_assert(!attach_type_allowed(&cfg, "application/pdfx"));
    ck_assert(!attach_type_allowed(&cfg, "text/plain"));
    cfg.allowed_types = NULL;
    ck_assert(attach_type_allowed(&cfg, "anything/at-all"));
}
END_TEST

START_TEST(safe_names_cannot_leave_the_directory)
{
    char out[16];

    attach_safe_name("../../etc/passwd", out, sizeof(out));
    ck_assert_ptr_null(strchr(out, '/'));
    ck_assert(out[0] != '.');
    attach_safe_name("", out, sizeof(out));
    ck_assert_str_eq(out, "file");
    attach_safe_name(NULL, out, sizeof(out));
    ck_assert_str_eq(out, "file");
    attach_safe_name("...", out, sizeof(out));
    ck_assert_str_eq(out, "file");
    attach_safe_name("a very long name indeed.txt", out, sizeof(out));
    ck_assert_uint_eq(strlen(out), sizeof(out) - 1);
    attach_safe_name("r\xc3\xa9sum\xc3\xa9.pdf", out, sizeof(out));
    ck_assert_str_eq(out, "r__sum__.pdf");
}
END_TEST

/* A temporary file holding @data[0..len); *path malloc'd. */
static void
temp_file(const char *data, size_t len, char **path)
{
    char tmpl[] = "/tmp/ab-attach-XXXXXX";
    int fd = mkstemp(tmpl);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    *path = strdup(tmpl);
}

START_TEST(blocks_follow_the_capabilities)
{
    static const char *const b64[] = {"", "YQ==", "YWI=", "YWJj", "YWJjZA=="};
    for (size_t n = 0; n <= 4; n++) {
        char *path;
        struct acp_file f = {.name = "pic.png", .mime = "image/png", .is_image = true};
        struct acp_prompt_caps yes = {.image = true}, no = {0};
        cJSON *prompt = cJSON_CreateArray();
        size_t linked = 9;

        temp_file("abcd", n, &path);
        f.path = path;
        f.bytes = n;
        ck_assert_int_eq(acp_prompt_files(prompt, &yes, &f, 1, &linked), 0);
        ck_assert_uint_eq(linked, 0);
        ck_assert_int_eq(cJSON_GetArraySize(prompt), 2);
        ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 0), "type")->valuestring,
                         "image");
        ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 0), "data")->valuestring,
                         b64[n]);
        ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 1), "type")->valuestring,
                         "resource_link");
        cJSON_Delete(prompt);
        prompt = cJSON_CreateArray();
        ck_assert_int_eq(acp_prompt_files(prompt, &no, &f, 1, &linked), 0);
        ck_assert_uint_eq(linked, 1);
        ck_assert_int_eq(cJSON_GetArraySize(prompt), 1);
        ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 0), "type")->valuestring,
                         "resource_link");
        cJSON_Delete(prompt);
        unlink(path);
        free(path);
    }
}
END_TEST

START_TEST(text_is_embedded_only_with_embedded_context)
{
    char *path;
    struct acp_file f = {.name = "a.txt", .mime = "text/plain", .is_text = true, .bytes = 5};
    struct acp_prompt_caps emb = {.embedded = true}, no = {0};
    cJSON *prompt = cJSON_CreateArray();
    size_t linked;

    temp_file("hello", 5, &path);
    f.path = path;
    ck_assert_int_eq(acp_prompt_files(prompt, &emb, &f, 1, &linked), 0);
    ck_assert_int_eq(cJSON_GetArraySize(prompt), 1);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 0), "resource"), "text")
            ->valuestring,
        "hello");
    cJSON_Delete(prompt);
    prompt = cJSON_CreateArray();
    ck_assert_int_eq(acp_prompt_files(prompt, &no, &f, 1, &linked), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 0), "type")->valuestring,
                     "resource_link");
    cJSON_Delete(prompt);
    unlink(path);
    free(path);
}
END_TEST

/* The agent may replace a saved attachment before the prompt reads it: a FIFO must not
 * hold the reader (it would wait for a writer forever), a link must not be followed. */
START_TEST(a_fifo_or_a_link_in_place_of_the_file_fails_at_once)
{
    struct acp_prompt_caps caps = {.image = true, .embedded = true};
    char dir[] = "/tmp/ab-attach-XXXXXX", fifo[64], link[64];
    struct acp_file f = {.name = "notes.txt", .mime = "text/plain", .bytes = 5, .is_text = true};
    cJSON *prompt = cJSON_CreateArray();
    size_t linked = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(symlink("/etc/hostname", link), 0);
    f.path = fifo;
    ck_assert_int_lt(acp_prompt_files(prompt, &caps, &f, 1, &linked), 0);
    f.path = link;
    ck_assert_int_lt(acp_prompt_files(prompt, &caps, &f, 1, &linked), 0);
    f.is_text = false, f.is_image = true, f.mime = "image/png";
    f.path = fifo;
    ck_assert_int_lt(acp_prompt_files(prompt, &caps, &f, 1, &linked), 0);
    ck_assert_int_eq(cJSON_GetArraySize(prompt), 0);
    cJSON_Delete(prompt);
    unlink(fifo);
    unlink(link);
    rmdir(dir);
}
END_TEST

/* A saved attachment is read through the descriptor opened when it was saved: a file
 * swapped in at its path afterwards (or a link to one) is never what the agent gets. */
START_TEST(the_saved_descriptor_is_read_not_the_path)
{
    struct acp_prompt_caps emb = {.embedded = true};
    char *path, *other;
    struct acp_file f = {.name = "a.txt", .mime = "text/plain", .is_text = true, .bytes = 5};
    cJSON *prompt = cJSON_CreateArray(), *copy_prompt = cJSON_CreateArray();
    struct acp_file *copy = NULL;
    size_t linked;

    temp_file("hello", 5, &path);
    temp_file("CANARY", 6, &other);
    f.path = path;
    f.fd = open(path, O_RDONLY | O_CLOEXEC);
    f.has_fd = f.fd >= 0;
    ck_assert(f.has_fd);
    ck_assert_int_eq(acp_files_copy(&f, 1, &copy), 0);
    ck_assert(copy[0].has_fd && copy[0].fd != f.fd);
    ck_assert_int_eq(rename(other, path), 0); /* the swap */
    ck_assert_int_eq(acp_prompt_files(prompt, &emb, &f, 1, &linked), 0);
    ck_assert_int_eq(acp_prompt_files(copy_prompt, &emb, copy, 1, &linked), 0);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(prompt, 0), "resource"), "text")
            ->valuestring,
        "hello");
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(copy_prompt, 0), "resource"),
                            "text")
            ->valuestring,
        "hello");
    acp_files_free(copy, 1);
    close(f.fd);
    cJSON_Delete(prompt);
    cJSON_Delete(copy_prompt);
    unlink(path);
    free(path);
    free(other);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        sniff_knows_images_documents_and_login_pages,
        allow_list_matches_major_types_and_exact_ones,
        safe_names_cannot_leave_the_directory,
        blocks_follow_the_capabilities,
        text_is_embedded_only_with_embedded_context,
        a_fifo_or_a_link_in_place_of_the_file_fails_at_once,
        the_saved_descriptor_is_read_not_the_path,
        NULL,
    };

    return check_run_list("conv_attach_blocks", 0, tests);
}
