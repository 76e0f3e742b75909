/*
 * hello: the smallest iExec-style app.
 *
 * Writes "Hello, <args joined by one space>!" (or "Hello, World!" without arguments) to
 * $IEXEC_OUT/result.txt and to stdout, then declares the result file in
 * $IEXEC_OUT/computed.json. Deterministic: no clock, no randomness.
 *
 * Build: clang-19 --target=wasm32-wasi -O2 -o hello.wasm hello.c   (see ../build.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir(void) {
    const char *dir = getenv("IEXEC_OUT");
    return (dir != NULL && dir[0] != '\0') ? dir : "/iexec_out";
}

/* Writes `text` to `dir`/`name`; returns 0 on success, prints why to stderr otherwise. */
static int write_file(const char *dir, const char *name, const char *text) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        fprintf(stderr, "hello: output path too long: %s/%s\n", dir, name);
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    /* Length of "Hello, " + args joined by spaces + "!\n". */
    size_t len = strlen("Hello, !\n") + 1;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            len += strlen(argv[i]) + 1;
        }
    } else {
        len += strlen("World");
    }

    char *line = malloc(len);
    if (line == NULL) {
        fprintf(stderr, "hello: out of memory\n");
        return 1;
    }
    strcpy(line, "Hello, ");
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            if (i > 1) {
                strcat(line, " ");
            }
            strcat(line, argv[i]);
        }
    } else {
        strcat(line, "World");
    }
    strcat(line, "!\n");

    const char *dir = out_dir();
    if (write_file(dir, "result.txt", line) != 0) {
        return 1;
    }
    fputs(line, stdout);
    free(line);

    if (write_file(dir, "computed.json",
                   "{\"deterministic-output-path\":\"/iexec_out/result.txt\"}") != 0) {
        return 1;
    }
    return 0;
}
