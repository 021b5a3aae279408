// libmpg123 reads through callbacks; these let it read an MP3 held in memory (seekable, so the exact
// length can be found by scanning frame headers before any decoding).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <mpg123.h>

typedef struct {
    const unsigned char *data;
    size_t length;
    size_t position;
} MwMemoryReader;

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

/// Opens `reader` (which must outlive the handle) on `mh`.
static inline int mw_mpg123_open_memory(mpg123_handle *mh, MwMemoryReader *reader) {
    int err = mpg123_replace_reader_handle(mh, mw_mpg123_read, mw_mpg123_seek, NULL);
    if (err != MPG123_OK) return err;
    return mpg123_open_handle(mh, reader);
}

static inline int mw_mpg123_quiet_float(mpg123_handle *mh) {
    int err = mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET | MPG123_FORCE_FLOAT, 0);
    if (err != MPG123_OK) return err;
    return mpg123_param(mh, MPG123_RESYNC_LIMIT, 2048, 0);
}
