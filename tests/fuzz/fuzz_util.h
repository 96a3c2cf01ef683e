/*
 * fuzz_util.h — what the libFuzzer harnesses of tests/fuzz share.
 *
 * The loaders under test take paths (they stat, gzopen or fopen them, as the
 * CLI does), so the fuzz input is written to an anonymous in-memory file
 * (memfd) and handed over as /proc/self/fd/N: no disk traffic per execution
 * and nothing left behind when a run is killed. Each call makes its own
 * memfd, so the harnesses keep no state between executions.
 */
#ifndef PT_FUZZ_UTIL_H
#define PT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a new memfd and its path into path; returns the fd (close it
 * when done) or -1. A failure here is the machine's, not the parser's: abort
 * so that libFuzzer reports it instead of silently testing nothing. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t cap)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            perror("memfd write");
            abort();
        }
        done += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* data as a NUL-terminated string (the parsers take C strings); free it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* An error message must be one line: the CLI prints it as such. */
static inline void fuzz_check_one_line(const char *msg)
{
    if (!msg[0] || strchr(msg, '\n')) {
        fprintf(stderr, "fuzz: error message is empty or not one line: '%s'\n", msg);
        abort();
    }
}

#endif
