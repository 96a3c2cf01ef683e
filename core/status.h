/*
 * status.h — error codes and the message buffer every core call reports through.
 *
 * Core functions never print. A function that can fail returns a pt_status and,
 * on failure, writes one human-readable line (no trailing newline) into the
 * caller's pt_err. The line names what failed (file, key path, line/column)
 * and what was expected, so the CLI can print it as is.
 */
#ifndef PT_STATUS_H
#define PT_STATUS_H

/* Values are part of exit codes and logs: always add new codes at the end. */
typedef enum {
    PT_OK = 0,
    PT_ERR_IO = 1,       /* file missing, unreadable, short read */
    PT_ERR_FORMAT = 2,   /* a data/model file is malformed */
    PT_ERR_CONFIG = 3,   /* a config key is unknown, ill-typed or out of range */
    PT_ERR_NOMEM = 4,    /* allocation failed */
    PT_ERR_ARG = 5,      /* caller broke a documented precondition */
    PT_ERR_DIVERGED = 6, /* training produced a NaN/inf loss */
    PT_ERR_STOPPED = 7   /* a callback asked to stop; not a failure */
} pt_status;

#define PT_ERR_MSG_MAX 512

typedef struct {
    char msg[PT_ERR_MSG_MAX];
} pt_err;

/* Writes the printf-style message into err (when err is non-NULL), control
 * characters (newlines included) replaced by '?' so it is always one line,
 * and returns code, so callers can write `return pt_fail(err, PT_ERR_IO, "...", ...);`. */
pt_status pt_fail(pt_err *err, pt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short name of a code, e.g. "io", "config"; never NULL. */
const char *pt_status_name(pt_status code);

#endif
