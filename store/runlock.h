/*
 * runlock.h — one `prunetune run` per study at a time.
 *
 * A run that resumes a study fails the trials it finds RUNNING (a killed
 * run left them). A second run started while the first is alive would fail
 * the first one's live trials and sample beside it, so the second is refused
 * instead: "is being run by pid N". Readers (best, top, report ...) take no
 * lock and are never refused.
 *
 * The lock is a POSIX record lock (fcntl F_SETLK) on one byte of the file
 * <storage>.lock beside the database, at an offset hashed from the study's
 * name (taken before the study is looked up, when it may not have an id
 * yet; two names share a byte once in 2^31): several studies in one database
 * run side by side, the lock goes with the process however it ends (kill -9
 * included), and it works over NFS (lockd), where SLURM jobs keep their
 * databases. The file stays; it holds nothing but the locks.
 *
 * Errors: PT_ERR_CONFIG when another process holds the study (the run is a
 * usage error: nothing has been written), PT_ERR_IO when the file cannot be
 * opened or locked, one line naming the file.
 */
#ifndef STORE_RUNLOCK_H
#define STORE_RUNLOCK_H

#include "status.h"

/* Takes study's lock in storage's lock file: *fd holds it until
 * runlock_release (fd -1 on failure). */
pt_status runlock_take(const char *storage, const char *study, int *fd, pt_err *err);
void runlock_release(int fd); /* safe on -1 */

#endif
