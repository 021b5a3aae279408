// libmpg123 over memory (why: include/mpg123_memory.h).
#include "mpg123_memory.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

static ssize_t mw_mpg123_read(void *handle, void *buffer, size_t count) {
    MwMemoryReader *r = (MwMemoryReader *) handle;
    size_t left = r->length - r->position;
    if (count > left) count = left;
    memcpy(buffer, r->data + r->position, count);
    r->position += count;
    return (ssize_t) count;
}

static off_t mw_mpg123_seek(void *handle, off_t offset, int whence) {
    MwMemoryReader *r = (MwMemoryReader *) handle;
    off_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (off_t) r->position : (off_t) r->length;
    off_t target = base + offset;
    if (target < 0 || target > (off_t) r->length) return -1;
    r->position = (size_t) target;
    return target;
}

int mw_mpg123_open_memory(mpg123_handle *mh, MwMemoryReader *reader) {
    int err = mpg123_replace_reader_handle(mh, mw_mpg123_read, mw_mpg123_seek, NULL);
    if (err != MPG123_OK) return err;
    return mpg123_open_handle(mh, reader);
}

int mw_mpg123_quiet_float(mpg123_handle *mh) {
    int err = mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET | MPG123_FORCE_FLOAT, 0);
    if (err != MPG123_OK) return err;
    return mpg123_param(mh, MPG123_RESYNC_LIMIT, 2048, 0);
}
