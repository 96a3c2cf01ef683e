/*
 * runlock.c — one `prunetune run` per study at a time (see runlock.h).
 */
#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* FNV-1a of the name, as a non-negative file offset. */
static off_t name_offset(const char *name)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (off_t)(h & 0x7fffffffu);
}

pt_status runlock_take(const char *storage, const char *study, int *fd, pt_err *err)
{
    char path[PT_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s.lock", storage);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return pt_fail(err, PT_ERR_IO, "%s: cannot open the run lock: %s", path, strerror(errno));
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = name_offset(study), .l_len = 1};
    if (fcntl(*fd, F_SETLK, &fl) == 0)
        return PT_OK;
    int e = errno;
    struct flock who = fl;
    int known = (e == EACCES || e == EAGAIN) && fcntl(*fd, F_GETLK, &who) == 0 &&
                who.l_type != F_UNLCK && who.l_pid > 0;
    close(*fd);
    *fd = -1;
    if (e != EACCES && e != EAGAIN)
        return pt_fail(err, PT_ERR_IO, "%s: cannot lock study '%s': %s", path, study, strerror(e));
    if (known)
        return pt_fail(err, PT_ERR_CONFIG,
                       "%s: study '%s' is being run by pid %d; wait for that run to end or stop it",
                       storage, study, (int)who.l_pid);
    return pt_fail(err, PT_ERR_CONFIG,
                   "%s: study '%s' is being run by another process; wait for that run to end or "
                   "stop it",
                   storage, study);
}

void runlock_release(int fd)
{
    if (fd >= 0)
        close(fd);
}
