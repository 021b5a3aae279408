// FFmpeg's headers through pkg-config (libavformat, libavcodec, libswscale). The animation code that uses them is
// C in Sources/CAVCodec (memory-only I/O, inspection, GIF/MP4 → H.264 MP4); nothing belongs here but includes.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/time.h>
