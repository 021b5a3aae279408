// What the CAVCodec .c files share; not part of the module Swift sees.
#ifndef MW_AV_INTERNAL_H
#define MW_AV_INTERNAL_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <stddef.h>
#include <stdint.h>

#include "av_codec.h"

// ---- memory I/O (memory_io.c) ---------------------------------------------------------------------------------

/// The caller's bytes, read by the demuxer.
typedef struct { const uint8_t *data; int64_t size; int64_t pos; } mw_av_input;

/// A growable output buffer; `limit` bounds it (a write past it fails, so a runaway encoder stops).
typedef struct { uint8_t *data; int64_t size; int64_t capacity; int64_t pos; int64_t limit; } mw_av_output;

/// An AVIO context that writes into `output` (and reads and seeks in it, for the muxer's second pass).
AVIOContext *mw_av_output_context(mw_av_output *output);

/// Hooks for the MP4 muxer's `+faststart` pass: it "re-opens the file" to read it back; that reads `s->opaque`,
/// the `mw_av_output` being written.
int mw_av_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **options);
int mw_av_io_close2(AVFormatContext *s, AVIOContext *pb);

/// Frees an AVIO context made here, with its buffer (not its opaque).
void mw_av_free_context(AVIOContext **avio);

/// Opens `format_name`'s demuxer (only that one: the sniffed type and the demuxer must agree) over memory.
mw_av_status mw_av_open_input(const void *buf, size_t len, const char *format_name, mw_av_input *in,
                              AVFormatContext **fmt_out, AVIOContext **avio_out, char *error, size_t error_size);
void mw_av_close_input(AVFormatContext **fmt, AVIOContext **avio);

// ---- decoders and frames (frames.c) ---------------------------------------------------------------------------

/// The stream's decoder, opened strict (AV_EF_EXPLODE); NULL with `error` set when it does not open.
AVCodecContext *mw_av_open_decoder(AVStream *stream, int threads, char *error, size_t error_size);

/// A packed RGBA buffer for `w`×`h` with room past its end (see frames.c).
uint8_t *mw_av_rgba_alloc(int w, int h);

/// Converts a decoded frame to packed RGBA at `w`×`h` and flattens any transparency onto white; returns 0 on success.
int mw_av_frame_to_rgb_on_white(struct SwsContext **sws, const AVFrame *frame, int w, int h, uint8_t *rgba);

/// Packed RGBA (already on white) to limited-range BT.709 YUV 4:2:0 (`w` and `h` even).
void mw_av_rgba_to_yuv420p(const uint8_t *rgba, int w, int h, AVFrame *yuv);

#endif
