// libmpg123 reads through callbacks; these let it read an MP3 held in memory (seekable, so the exact
// length can be found by scanning frame headers before any decoding). Logic: mpg123_memory.c.
#ifndef MW_MPG123_MEMORY_H
#define MW_MPG123_MEMORY_H

#include <stddef.h>
#include <sys/types.h>
#include <mpg123.h>

/// The bytes libmpg123 reads; the caller owns it and keeps it alive as long as the handle.
typedef struct {
    const unsigned char *data;
    size_t length;
    size_t position;
} MwMemoryReader;

/// Opens `reader` (which must outlive the handle) on `mh`; libmpg123's own error code (MPG123_OK on success).
int mw_mpg123_open_memory(mpg123_handle *mh, MwMemoryReader *reader);

/// Quiet, float output, a bounded resync search; libmpg123's own error code (MPG123_OK on success).
int mw_mpg123_quiet_float(mpg123_handle *mh);

#endif
