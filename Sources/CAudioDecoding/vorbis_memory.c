// libvorbisfile over memory (why: include/vorbis_memory.h).
#include "vorbis_memory.h"

#include <stdio.h>
#include <string.h>

static size_t mw_vorbis_read(void *buffer, size_t size, size_t count, void *source) {
    MwVorbisReader *r = (MwVorbisReader *) source;
    size_t wanted = size * count, left = r->length - r->position;
    if (wanted > left) wanted = left;
    memcpy(buffer, r->data + r->position, wanted);
    r->position += wanted;
    return size ? wanted / size : 0;
}

static int mw_vorbis_seek(void *source, ogg_int64_t offset, int whence) {
    MwVorbisReader *r = (MwVorbisReader *) source;
    ogg_int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (ogg_int64_t) r->position : (ogg_int64_t) r->length;
    ogg_int64_t target = base + offset;
    if (target < 0 || target > (ogg_int64_t) r->length) return -1;
    r->position = (size_t) target;
    return 0;
}

static long mw_vorbis_tell(void *source) { return (long) ((MwVorbisReader *) source)->position; }

int mw_vorbis_open_memory(MwVorbisReader *reader, OggVorbis_File *vf) {
    ov_callbacks callbacks = { mw_vorbis_read, mw_vorbis_seek, NULL, mw_vorbis_tell };
    return ov_open_callbacks(reader, vf, NULL, 0, callbacks);
}
