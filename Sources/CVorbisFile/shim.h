// libvorbisfile reads through callbacks; these let it read an Ogg Vorbis file held in memory.
#include <string.h>
#include <stdio.h>
#include <vorbis/vorbisfile.h>

typedef struct {
    const unsigned char *data;
    size_t length;
    size_t position;
} MwVorbisReader;

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

/// Opens `reader` (which must outlive `vf`) as a seekable Ogg Vorbis stream.
static inline int mw_vorbis_open_memory(MwVorbisReader *reader, OggVorbis_File *vf) {
    ov_callbacks callbacks = { mw_vorbis_read, mw_vorbis_seek, NULL, mw_vorbis_tell };
    return ov_open_callbacks(reader, vf, NULL, 0, callbacks);
}
