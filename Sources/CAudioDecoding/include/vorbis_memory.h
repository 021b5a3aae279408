// libvorbisfile reads through callbacks; these let it read an Ogg Vorbis file held in memory. Logic: vorbis_memory.c.
#ifndef MW_VORBIS_MEMORY_H
#define MW_VORBIS_MEMORY_H

#include <stddef.h>
#include <vorbis/vorbisfile.h>

/// The bytes libvorbisfile reads; the caller owns it and keeps it alive as long as the OggVorbis_File.
typedef struct {
    const unsigned char *data;
    size_t length;
    size_t position;
} MwVorbisReader;

/// Opens `reader` (which must outlive `vf`) as a seekable Ogg Vorbis stream; ov_open_callbacks's result (0 on success).
int mw_vorbis_open_memory(MwVorbisReader *reader, OggVorbis_File *vf);

#endif
