/*
 * dataset-reader: an iExec-style app that reads its dataset.
 *
 * Reads $IEXEC_IN/$IEXEC_DATASET_FILENAME and writes to $IEXEC_OUT/result.txt:
 *
 *     bytes: N
 *     lines: N          (newline characters, as `wc -l` counts them)
 *     words: N          (runs of bytes other than ASCII whitespace " \t\n\v\f\r")
 *     sha256: <hex>
 *
 * then, if IEXEC_INPUT_FILES_NUMBER is set, "input files: N" and one line
 * "input <name>: <bytes> bytes" per IEXEC_INPUT_FILE_NAME_<i> (i = 1..N, files in $IEXEC_IN),
 * and declares the result file in $IEXEC_OUT/computed.json.
 *
 * A missing IEXEC_DATASET_FILENAME, or a file that cannot be read (the dataset or an input
 * file), is reported on stderr and ends the app with exit code 1, before anything is written
 * to $IEXEC_OUT (so no computed.json). Deterministic: no clock, no randomness.
 *
 * Build: clang-19 --target=wasm32-wasi -O2 -o dataset-reader.wasm dataset-reader.c
 * (see ../build.sh)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 4096

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------------------------- */

struct sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes in `block` */
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha256_init(struct sha256 *h) {
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(h->state, initial, sizeof initial);
    h->length = 0;
    h->used = 0;
}

static void sha256_compress(uint32_t state[8], const unsigned char block[64]) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + s1 + ch + K[i] + w[i];
        uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = s0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

static void sha256_update(struct sha256 *h, const unsigned char *data, size_t len) {
    h->length += len;
    while (len > 0) {
        size_t take = 64 - h->used;
        if (take > len) {
            take = len;
        }
        memcpy(h->block + h->used, data, take);
        h->used += take;
        data += take;
        len -= take;
        if (h->used == 64) {
            sha256_compress(h->state, h->block);
            h->used = 0;
        }
    }
}

/* Writes the digest as 64 lowercase hex digits and a NUL into `hex`. */
static void sha256_final_hex(struct sha256 *h, char hex[65]) {
    uint64_t bits = h->length * 8;
    unsigned char pad = 0x80;
    sha256_update(h, &pad, 1);
    pad = 0;
    while (h->used != 56) {
        sha256_update(h, &pad, 1);
    }
    unsigned char len_be[8];
    for (int i = 0; i < 8; i++) {
        len_be[i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    sha256_update(h, len_be, 8);
    for (int i = 0; i < 8; i++) {
        snprintf(hex + 8 * i, 9, "%08x", (unsigned)h->state[i]);
    }
}

/* ---- the app ----------------------------------------------------------------------------- */

static const char *env_or(const char *name, const char *fallback) {
    const char *value = getenv(name);
    return (value != NULL && value[0] != '\0') ? value : fallback;
}

static int join(char *path, const char *dir, const char *name) {
    if (snprintf(path, PATH_MAX_LEN, "%s/%s", dir, name) >= PATH_MAX_LEN) {
        fprintf(stderr, "dataset-reader: path too long: %s/%s\n", dir, name);
        return -1;
    }
    return 0;
}

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

struct stats {
    uint64_t bytes, lines, words;
    char sha256[65];
};

/* Reads the file at `path` whole; returns 0, or prints why to stderr and returns -1. */
static int read_stats(const char *what, const char *path, struct stats *s) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "dataset-reader: cannot read the %s %s: ", what, path);
        perror(NULL);
        return -1;
    }
    struct sha256 h;
    sha256_init(&h);
    s->bytes = s->lines = s->words = 0;
    int in_word = 0;
    unsigned char buf[16384];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        sha256_update(&h, buf, n);
        s->bytes += n;
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                s->lines++;
            }
            if (is_space(buf[i])) {
                in_word = 0;
            } else if (!in_word) {
                in_word = 1;
                s->words++;
            }
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "dataset-reader: error while reading the %s %s\n", what, path);
        return -1;
    }
    sha256_final_hex(&h, s->sha256);
    return 0;
}

static int write_text(const char *path, const char *text) {
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

int main(void) {
    const char *in_dir = env_or("IEXEC_IN", "/iexec_in");
    const char *out_dir = env_or("IEXEC_OUT", "/iexec_out");
    char path[PATH_MAX_LEN];

    /* Read everything first: on any error, nothing is written to $IEXEC_OUT. */
    const char *dataset = getenv("IEXEC_DATASET_FILENAME");
    if (dataset == NULL || dataset[0] == '\0') {
        fprintf(stderr, "dataset-reader: no dataset: IEXEC_DATASET_FILENAME is not set\n");
        return 1;
    }
    struct stats s;
    if (join(path, in_dir, dataset) != 0 || read_stats("dataset", path, &s) != 0) {
        return 1;
    }

    const char *count = getenv("IEXEC_INPUT_FILES_NUMBER");
    int has_inputs = count != NULL && count[0] != '\0';
    unsigned long inputs = 0;
    uint64_t *input_bytes = NULL;
    if (has_inputs) {
        char *end;
        inputs = strtoul(count, &end, 10);
        if (*end != '\0' || count[0] < '0' || count[0] > '9' || inputs > 100000) {
            fprintf(stderr, "dataset-reader: IEXEC_INPUT_FILES_NUMBER is not a count: %s\n",
                    count);
            return 1;
        }
        input_bytes = calloc(inputs + 1, sizeof *input_bytes);
        if (input_bytes == NULL) {
            fprintf(stderr, "dataset-reader: out of memory\n");
            return 1;
        }
        for (unsigned long i = 1; i <= inputs; i++) {
            char var[64];
            snprintf(var, sizeof var, "IEXEC_INPUT_FILE_NAME_%lu", i);
            const char *name = getenv(var);
            if (name == NULL || name[0] == '\0') {
                fprintf(stderr, "dataset-reader: input file %lu of %lu: %s is not set\n", i,
                        inputs, var);
                return 1;
            }
            struct stats input;
            if (join(path, in_dir, name) != 0 || read_stats("input file", path, &input) != 0) {
                return 1;
            }
            input_bytes[i] = input.bytes;
        }
    }

    if (join(path, out_dir, "result.txt") != 0) {
        return 1;
    }
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        perror(path);
        return 1;
    }
    fprintf(out, "bytes: %llu\nlines: %llu\nwords: %llu\nsha256: %s\n",
            (unsigned long long)s.bytes, (unsigned long long)s.lines,
            (unsigned long long)s.words, s.sha256);
    if (has_inputs) {
        fprintf(out, "input files: %lu\n", inputs);
        for (unsigned long i = 1; i <= inputs; i++) {
            char var[64];
            snprintf(var, sizeof var, "IEXEC_INPUT_FILE_NAME_%lu", i);
            fprintf(out, "input %s: %llu bytes\n", getenv(var),
                    (unsigned long long)input_bytes[i]);
        }
    }
    free(input_bytes);
    int failed = ferror(out);
    failed = (fclose(out) != 0) || failed;
    if (failed) {
        fprintf(stderr, "dataset-reader: cannot write %s\n", path);
        return 1;
    }

    if (join(path, out_dir, "computed.json") != 0 ||
        write_text(path, "{\"deterministic-output-path\":\"/iexec_out/result.txt\"}") != 0) {
        return 1;
    }
    return 0;
}
