/* status.c — see status.h. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

pt_status pt_fail(pt_err *err, pt_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* Messages quote what came from files and peers (a JSON key may hold
         * an escaped newline): control characters become '?' so an error
         * stays one line on a terminal and in a log. */
        for (char *p = err->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    return code;
}

const char *pt_status_name(pt_status code)
{
    switch (code) {
    case PT_OK: return "ok";
    case PT_ERR_IO: return "io";
    case PT_ERR_FORMAT: return "format";
    case PT_ERR_CONFIG: return "config";
    case PT_ERR_NOMEM: return "nomem";
    case PT_ERR_ARG: return "arg";
    case PT_ERR_DIVERGED: return "diverged";
    case PT_ERR_STOPPED: return "stopped";
    }
    return "unknown";
}
