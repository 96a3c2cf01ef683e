/* sysinfo.h — the clock and memory figures a run reports. */
#ifndef PT_SYSINFO_H
#define PT_SYSINFO_H

#include <stddef.h>

/* Seconds on a monotonic clock (only differences are meaningful). */
double pt_now(void);
/* Peak resident set size of this process so far, in bytes (0 if unknown). */
size_t pt_peak_rss_bytes(void);

#endif
