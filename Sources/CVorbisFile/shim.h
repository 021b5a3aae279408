// libvorbisfile through pkg-config; its reader over memory is C in Sources/CAudioDecoding (vorbis_memory.c).
#include <vorbis/vorbisfile.h>
