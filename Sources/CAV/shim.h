// FFmpeg (libavformat, libavcodec, libswscale) for animations: the few operations mediaworker needs, written
// once in C because FFmpeg's API leans on macros (AVERROR, AVSEEK_SIZE) and callback structs Swift cannot spell.
// Everything works on memory (a helper process may not open files): custom AVIO over the caller's bytes in,
// a growable buffer out (with an io_open hook so the MP4 muxer's `+faststart` second pass reads it back).
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/time.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <stdio.h>

// ---- memory I/O ---------------------------------------------------------------------------------------------

/// One read from memory at `*pos`: what the three readers below share.
static inline int mw_av_read_at(const uint8_t *data, int64_t size, int64_t *pos, uint8_t *buf, int n) {
    int64_t left = size - *pos;
    if (left <= 0) return AVERROR_EOF;
    if (n > left) n = (int) left;
    memcpy(buf, data + *pos, n);
    *pos += n;
    return n;
}

/// One seek in memory of `size` bytes, to at most `limit`: what the three seekers below share.
static inline int64_t mw_av_seek_in(int64_t *pos, int64_t size, int64_t limit, int64_t offset, int whence) {
    int64_t target;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: target = offset; break;
    case SEEK_CUR: target = *pos + offset; break;
    case SEEK_END: target = size + offset; break;
    default: return AVERROR(EINVAL);
    }
    if (target < 0 || target > limit) return AVERROR(EINVAL);
    *pos = target;
    return target;
}

typedef struct { const uint8_t *data; int64_t size; int64_t pos; } mw_av_input;

static inline int mw_av_input_read(void *opaque, uint8_t *buf, int n) {
    mw_av_input *in = opaque;
    return mw_av_read_at(in->data, in->size, &in->pos, buf, n);
}

static int64_t mw_av_input_seek(void *opaque, int64_t offset, int whence) {
    mw_av_input *in = opaque;
    return mw_av_seek_in(&in->pos, in->size, in->size, offset, whence);
}

/// A growable output buffer; `limit` bounds it (a write past it fails, so a runaway encoder stops).
typedef struct { uint8_t *data; int64_t size; int64_t capacity; int64_t pos; int64_t limit; } mw_av_output;

static inline int mw_av_output_write(void *opaque, const uint8_t *buf, int n) {
    mw_av_output *out = opaque;
    int64_t end = out->pos + n;
    if (end > out->limit) return AVERROR(EFBIG);
    if (end > out->capacity) {
        int64_t capacity = out->capacity ? out->capacity : 1 << 16;
        while (capacity < end) capacity *= 2;
        uint8_t *grown = av_realloc(out->data, capacity);
        if (!grown) return AVERROR(ENOMEM);
        out->data = grown;
        out->capacity = capacity;
    }
    memcpy(out->data + out->pos, buf, n);
    out->pos = end;
    if (end > out->size) out->size = end;
    return n;
}

static inline int mw_av_output_read(void *opaque, uint8_t *buf, int n) {
    mw_av_output *out = opaque;
    return mw_av_read_at(out->data, out->size, &out->pos, buf, n);
}

/// The muxer may seek past the end it has written so far (up to the limit) and write there.
static int64_t mw_av_output_seek(void *opaque, int64_t offset, int whence) {
    mw_av_output *out = opaque;
    return mw_av_seek_in(&out->pos, out->size, out->limit, offset, whence);
}

/// A second reader over the same output, for the MP4 muxer's faststart pass (it "re-opens the file").
typedef struct { mw_av_output *shared; int64_t pos; } mw_av_reopened;

static inline int mw_av_reopened_read(void *opaque, uint8_t *buf, int n) {
    mw_av_reopened *r = opaque;
    return mw_av_read_at(r->shared->data, r->shared->size, &r->pos, buf, n);
}

static int64_t mw_av_reopened_seek(void *opaque, int64_t offset, int whence) {
    mw_av_reopened *r = opaque;
    return mw_av_seek_in(&r->pos, r->shared->size, r->shared->size, offset, whence);
}

static inline int mw_av_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **options) {
    (void) url; (void) options;
    if (flags & AVIO_FLAG_WRITE) return AVERROR(EPERM);
    mw_av_reopened *r = av_mallocz(sizeof *r);
    if (!r) return AVERROR(ENOMEM);
    r->shared = s->opaque;
    uint8_t *buffer = av_malloc(1 << 16);
    *pb = buffer ? avio_alloc_context(buffer, 1 << 16, 0, r, mw_av_reopened_read, NULL, mw_av_reopened_seek) : NULL;
    if (!*pb) { av_free(buffer); av_free(r); return AVERROR(ENOMEM); }
    return 0;
}

static inline int mw_av_io_close2(AVFormatContext *s, AVIOContext *pb) {
    (void) s;
    if (!pb) return 0;
    av_free(pb->opaque);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    return 0;
}

static inline void mw_av_close_input(AVFormatContext **fmt, AVIOContext **avio) {
    avformat_close_input(fmt);
    if (*avio) { av_freep(&(*avio)->buffer); avio_context_free(avio); }
}

/// Opens `format_name`'s demuxer (only that one: the sniffed type and the demuxer must agree) over memory.
static inline int mw_av_open_input(const void *buf, size_t len, const char *format_name, mw_av_input *in,
                            AVFormatContext **fmt_out, AVIOContext **avio_out, char *error, size_t error_size) {
    in->data = buf; in->size = (int64_t) len; in->pos = 0;
    *fmt_out = NULL; *avio_out = NULL;
    const AVInputFormat *format = av_find_input_format(format_name);
    if (!format) { snprintf(error, error_size, "FFmpeg has no %s demuxer", format_name); return -6; }
    uint8_t *buffer = av_malloc(1 << 16);
    AVIOContext *avio = buffer ? avio_alloc_context(buffer, 1 << 16, 0, in, mw_av_input_read, NULL, mw_av_input_seek) : NULL;
    AVFormatContext *fmt = avio ? avformat_alloc_context() : NULL;
    if (!fmt) {
        if (avio) { av_freep(&avio->buffer); avio_context_free(&avio); } else av_free(buffer);
        snprintf(error, error_size, "out of memory opening the demuxer");
        return -2;
    }
    fmt->pb = avio;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->max_streams = 16;
    int r = avformat_open_input(&fmt, NULL, format, NULL);
    if (r < 0) {
        char why[128]; av_strerror(r, why, sizeof why);
        snprintf(error, error_size, "the %s container does not open: %s", format_name, why);
        av_freep(&avio->buffer); avio_context_free(&avio);
        return -1;
    }
    *avio_out = avio;
    r = avformat_find_stream_info(fmt, NULL);
    if (r < 0) {
        char why[128]; av_strerror(r, why, sizeof why);
        snprintf(error, error_size, "the %s container's streams do not read: %s", format_name, why);
        mw_av_close_input(&fmt, avio_out);
        return -1;
    }
    *fmt_out = fmt;
    return 0;
}

static inline AVCodecContext *mw_av_open_decoder(AVStream *stream, int threads, char *error, size_t error_size) {
    const AVCodec *codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!codec) { snprintf(error, error_size, "no decoder for %s", avcodec_get_name(stream->codecpar->codec_id)); return NULL; }
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    if (!ctx) { snprintf(error, error_size, "out of memory"); return NULL; }
    if (avcodec_parameters_to_context(ctx, stream->codecpar) < 0) { avcodec_free_context(&ctx); snprintf(error, error_size, "bad codec parameters"); return NULL; }
    ctx->thread_count = threads;
    ctx->err_recognition |= AV_EF_EXPLODE;
    if (avcodec_open2(ctx, codec, NULL) < 0) { avcodec_free_context(&ctx); snprintf(error, error_size, "the %s decoder does not open", codec->name); return NULL; }
    return ctx;
}

// ---- frames to RGBA on white ----------------------------------------------------------------------------------

/// A packed RGBA buffer for `w`×`h` with room past its end: libswscale's SIMD paths may write a few pixels past
/// the last row when the width is not a multiple of 16 (found with a 270-pixel-wide phone clip).
static inline uint8_t *mw_av_rgba_alloc(int w, int h) {
    return av_malloc((size_t) w * h * 4 + (size_t) w * 4 + 256);
}

/// Converts a decoded frame to packed RGBA at `w`×`h` and flattens any transparency onto white; returns 0 on success.
static inline int mw_av_frame_to_rgb_on_white(struct SwsContext **sws, const AVFrame *frame, int w, int h, uint8_t *rgba) {
    *sws = sws_getCachedContext(*sws, frame->width, frame->height, frame->format, w, h, AV_PIX_FMT_RGBA,
                                SWS_BICUBIC, NULL, NULL, NULL);
    if (!*sws) return -1;
    uint8_t *dst[4] = { rgba, NULL, NULL, NULL };
    int stride[4] = { w * 4, 0, 0, 0 };
    if (sws_scale(*sws, (const uint8_t * const *) frame->data, frame->linesize, 0, frame->height, dst, stride) <= 0) return -1;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(frame->format);
    if (d && ((d->flags & AV_PIX_FMT_FLAG_ALPHA) || frame->format == AV_PIX_FMT_PAL8)) {
        size_t n = (size_t) w * h;
        for (size_t i = 0; i < n; i++) {
            uint8_t *p = rgba + i * 4;
            unsigned a = p[3];
            if (a != 255) {
                p[0] = (uint8_t) ((p[0] * a + 255 * (255 - a) + 127) / 255);
                p[1] = (uint8_t) ((p[1] * a + 255 * (255 - a) + 127) / 255);
                p[2] = (uint8_t) ((p[2] * a + 255 * (255 - a) + 127) / 255);
                p[3] = 255;
            }
        }
    }
    return 0;
}

/// Packed RGBA (already on white) to limited-range BT.709 YUV 4:2:0, which is what the encoder tags: one pass,
/// integer arithmetic, chroma from the mean of each 2×2 block (`w` and `h` are even). libswscale's unscaled
/// RGBA → YUV420P takes its generic path (and BT.601 unless told otherwise) and cost more than the decoding.
static inline void mw_av_rgba_to_yuv420p(const uint8_t *rgba, int w, int h, AVFrame *yuv) {
    for (int y = 0; y < h; y += 2) {
        const uint8_t *row0 = rgba + (size_t) y * w * 4, *row1 = row0 + (size_t) w * 4;
        uint8_t *y0 = yuv->data[0] + (size_t) y * yuv->linesize[0], *y1 = y0 + yuv->linesize[0];
        uint8_t *u = yuv->data[1] + (size_t) (y / 2) * yuv->linesize[1];
        uint8_t *v = yuv->data[2] + (size_t) (y / 2) * yuv->linesize[2];
        for (int x = 0; x < w; x += 2) {
            const uint8_t *p[4] = { row0 + x * 4, row0 + x * 4 + 4, row1 + x * 4, row1 + x * 4 + 4 };
            uint8_t *out[4] = { y0 + x, y0 + x + 1, y1 + x, y1 + x + 1 };
            int r = 0, g = 0, b = 0;
            for (int k = 0; k < 4; k++) {
                int pr = p[k][0], pg = p[k][1], pb = p[k][2];
                *out[k] = (uint8_t) (((47 * pr + 157 * pg + 16 * pb + 128) >> 8) + 16);
                r += pr; g += pg; b += pb;
            }
            u[x / 2] = (uint8_t) (((-26 * r - 87 * g + 112 * b + 512) >> 10) + 128);
            v[x / 2] = (uint8_t) (((112 * r - 102 * g - 10 * b + 512) >> 10) + 128);
        }
    }
}

// ---- inspecting an MP4/MOV animation ------------------------------------------------------------------------

/// What `mw_av_inspect` found.
typedef struct {
    char error[256];
    char video_codec[32];
    char pixel_format[32];
    char audio_codec[32];
    int width, height;
    int video_streams, audio_streams, other_streams;
    int64_t duration_ms;
    /// Largest absolute sample of every audio stream, 0…1 (0 without audio); -1 when the audio does not decode.
    double audio_peak;
    int64_t audio_samples;
    /// The first video frame as RGBA on white (av_malloc'd; free with mw_av_free), `width`×`height`.
    uint8_t *first_frame;
} mw_av_inspection;

static inline void mw_av_free(void *p) { av_free(p); }

/// Demuxes `buf` with `format_name`, decodes the first video frame and every audio frame (to tell silent from
/// sound). Returns 0 when it all decoded, -1 when the file is damaged (error says why), -2 on an internal
/// failure, -3 when the video frame is over `max_pixels` (width/height set), -4 past the deadline, -6 when FFmpeg
/// lacks the demuxer.
static inline int mw_av_inspect(const void *buf, size_t len, const char *format_name, int64_t max_pixels,
                         int64_t deadline_us, mw_av_inspection *out) {
    memset(out, 0, sizeof *out);
    mw_av_input in;
    AVFormatContext *fmt = NULL; AVIOContext *avio = NULL;
    int r = mw_av_open_input(buf, len, format_name, &in, &fmt, &avio, out->error, sizeof out->error);
    if (r) return r;
    int video = -1;
    AVCodecContext *audio_ctx[16] = { 0 };
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVCodecParameters *p = fmt->streams[i]->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_VIDEO && !(fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            out->video_streams++;
            if (video < 0) video = (int) i;
        } else if (p->codec_type == AVMEDIA_TYPE_AUDIO) out->audio_streams++;
        else out->other_streams++;
    }
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) out->duration_ms = fmt->duration / 1000;
    if (video < 0) { snprintf(out->error, sizeof out->error, "no video stream"); mw_av_close_input(&fmt, &avio); return -1; }
    AVStream *vs = fmt->streams[video];
    snprintf(out->video_codec, sizeof out->video_codec, "%s", avcodec_get_name(vs->codecpar->codec_id));
    {
        const char *pf = av_get_pix_fmt_name(vs->codecpar->format);
        snprintf(out->pixel_format, sizeof out->pixel_format, "%s", pf ? pf : "");
        int audio = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
        if (audio >= 0) snprintf(out->audio_codec, sizeof out->audio_codec, "%s", avcodec_get_name(fmt->streams[audio]->codecpar->codec_id));
    }
    out->width = vs->codecpar->width; out->height = vs->codecpar->height;
    if (out->width <= 0 || out->height <= 0) { snprintf(out->error, sizeof out->error, "the video has no size"); mw_av_close_input(&fmt, &avio); return -1; }
    if ((int64_t) out->width * out->height > max_pixels) { mw_av_close_input(&fmt, &avio); return -3; }
    AVCodecContext *vctx = mw_av_open_decoder(vs, 1, out->error, sizeof out->error);
    if (!vctx) { mw_av_close_input(&fmt, &avio); return -1; }
    for (unsigned i = 0; i < fmt->nb_streams && i < 16; i++) {
        if (fmt->streams[i]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        audio_ctx[i] = mw_av_open_decoder(fmt->streams[i], 1, out->error, sizeof out->error);
        if (!audio_ctx[i]) out->audio_peak = -1;
    }
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    struct SwsContext *sws = NULL;
    int status = (pkt && frame) ? 0 : -2;
    int have_frame = 0;
    while (status == 0) {
        if (av_gettime_relative() > deadline_us) { status = -4; break; }
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF) break;
        if (r < 0) { char why[128]; av_strerror(r, why, sizeof why); snprintf(out->error, sizeof out->error, "the container is damaged: %s", why); status = -1; break; }
        int si = pkt->stream_index;
        AVCodecContext *ctx = si == video ? (have_frame ? NULL : vctx) : (si < 16 ? audio_ctx[si] : NULL);
        if (ctx) {
            r = avcodec_send_packet(ctx, pkt);
            if (r < 0 && r != AVERROR(EAGAIN)) {
                if (si == video) { snprintf(out->error, sizeof out->error, "the %s video does not decode", out->video_codec); status = -1; }
                else out->audio_peak = -1;
            }
            while (status == 0 && avcodec_receive_frame(ctx, frame) == 0) {
                if (si == video && !have_frame) {
                    if (frame->width != out->width || frame->height != out->height) {
                        if ((int64_t) frame->width * frame->height > max_pixels) { status = -3; break; }
                        out->width = frame->width; out->height = frame->height;
                    }
                    out->first_frame = mw_av_rgba_alloc(out->width, out->height);
                    if (!out->first_frame || mw_av_frame_to_rgb_on_white(&sws, frame, out->width, out->height, out->first_frame)) {
                        snprintf(out->error, sizeof out->error, "the first frame does not convert"); status = -2;
                    }
                    have_frame = 1;
                } else if (si != video && out->audio_peak >= 0) {
                    int channels = frame->ch_layout.nb_channels;
                    int planar = av_sample_fmt_is_planar(frame->format);
                    int planes = planar ? channels : 1;
                    int per_plane = planar ? frame->nb_samples : frame->nb_samples * channels;
                    double peak = out->audio_peak;
                    for (int c = 0; c < planes && c < AV_NUM_DATA_POINTERS; c++) {
                        const uint8_t *d = frame->extended_data[c];
                        for (int k = 0; k < per_plane; k++) {
                            double v;
                            switch (av_get_packed_sample_fmt(frame->format)) {
                            case AV_SAMPLE_FMT_U8: v = (((const uint8_t *) d)[k] - 128) / 128.0; break;
                            case AV_SAMPLE_FMT_S16: v = ((const int16_t *) d)[k] / 32768.0; break;
                            case AV_SAMPLE_FMT_S32: v = ((const int32_t *) d)[k] / 2147483648.0; break;
                            case AV_SAMPLE_FMT_FLT: v = ((const float *) d)[k]; break;
                            case AV_SAMPLE_FMT_DBL: v = ((const double *) d)[k]; break;
                            default: v = 0; break;
                            }
                            v = fabs(v);
                            if (v > peak && isfinite(v)) peak = v;
                        }
                    }
                    out->audio_peak = peak > 1 ? 1 : peak;
                    out->audio_samples += frame->nb_samples;
                }
                av_frame_unref(frame);
            }
        }
        av_packet_unref(pkt);
    }
    if (status == 0 && !have_frame) {
        // Flush: a decoder with delay hands out its first frame only at the end.
        avcodec_send_packet(vctx, NULL);
        if (avcodec_receive_frame(vctx, frame) == 0) {
            out->first_frame = mw_av_rgba_alloc(out->width, out->height);
            if (out->first_frame && frame->width == out->width && frame->height == out->height &&
                mw_av_frame_to_rgb_on_white(&sws, frame, out->width, out->height, out->first_frame) == 0) have_frame = 1;
        }
        if (!have_frame) { snprintf(out->error, sizeof out->error, "no video frame decodes"); status = -1; }
    }
    if (status != 0 && out->first_frame) { av_freep(&out->first_frame); }
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&vctx);
    for (int i = 0; i < 16; i++) if (audio_ctx[i]) avcodec_free_context(&audio_ctx[i]);
    mw_av_close_input(&fmt, &avio);
    return status;
}

// ---- any animation to H.264 in MP4 ----------------------------------------------------------------------------

/// What `mw_av_to_h264_mp4` made.
typedef struct {
    char error[256];
    uint8_t *data;      // av_malloc'd MP4; free with mw_av_free
    int64_t size;
    int width, height;  // of the output
    int frames;
    int64_t duration_ms;
} mw_av_encoded;

/// Decodes the first video stream of `buf` (demuxer `format_name`: "gif", "mov,mp4,m4a,3gp,3g2,mj2"), flattens
/// transparency onto white, scales so the longest side is at most `max_side` with even dimensions, and encodes
/// H.264 (libx264, yuv420p, no B-frames, `preset`, `crf`) into an MP4 with its index first (`+faststart`) and no
/// audio, keeping every frame's own duration. Returns 0, -1 (damaged input), -2 (internal), -3 (too many pixels
/// or frames), -4 (deadline), -5 (output over `max_output` bytes), -6 (FFmpeg lacks the demuxer or libx264, or
/// libx264 does not open: the installation's fault, never the file's).
static inline int mw_av_to_h264_mp4(const void *buf, size_t len, const char *format_name, int max_side, int crf,
                             const char *preset, int threads, int64_t max_pixels, int64_t max_frames,
                             int64_t max_output, int64_t deadline_us, mw_av_encoded *out) {
    memset(out, 0, sizeof *out);
    mw_av_input in;
    AVFormatContext *ifmt = NULL; AVIOContext *iavio = NULL;
    int r = mw_av_open_input(buf, len, format_name, &in, &ifmt, &iavio, out->error, sizeof out->error);
    if (r) return r;
    int video = av_find_best_stream(ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (video < 0) { snprintf(out->error, sizeof out->error, "no video stream"); mw_av_close_input(&ifmt, &iavio); return -1; }
    AVStream *vs = ifmt->streams[video];
    int sw = vs->codecpar->width, sh = vs->codecpar->height;
    if (sw <= 0 || sh <= 0) { snprintf(out->error, sizeof out->error, "the animation has no size"); mw_av_close_input(&ifmt, &iavio); return -1; }
    if ((int64_t) sw * sh > max_pixels) { snprintf(out->error, sizeof out->error, "%d x %d is over the pixel limit", sw, sh); mw_av_close_input(&ifmt, &iavio); return -3; }
    AVCodecContext *dec = mw_av_open_decoder(vs, 1, out->error, sizeof out->error);
    if (!dec) { mw_av_close_input(&ifmt, &iavio); return -1; }

    // Output size: within max_side, even (yuv420p needs it), at least 2.
    double scale = 1.0;
    int longest = sw > sh ? sw : sh;
    if (longest > max_side) scale = (double) max_side / longest;
    int ow = (int) (sw * scale) & ~1, oh = (int) (sh * scale) & ~1;
    if (ow < 2) ow = 2;
    if (oh < 2) oh = 2;

    int status = 0;
    mw_av_output output = { .limit = max_output };
    AVFormatContext *ofmt = NULL;
    AVIOContext *oavio = NULL;
    AVCodecContext *enc = NULL;
    AVStream *os = NULL;
    AVPacket *pkt = av_packet_alloc(), *opkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *yuv = av_frame_alloc();
    uint8_t *rgba = mw_av_rgba_alloc(ow, oh);
    struct SwsContext *to_rgba = NULL;
    // Durations (ms) of frames sent to the encoder, in order (no B-frames: packets come out in that order).
    int64_t *durations = NULL; int64_t queued = 0, written = 0, capacity = 0;
    int64_t next_pts = 0;
    int header_written = 0;
    if (!pkt || !opkt || !frame || !yuv || !rgba) { status = -2; snprintf(out->error, sizeof out->error, "out of memory"); goto done; }

    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) { status = -6; snprintf(out->error, sizeof out->error, "FFmpeg has no libx264 encoder"); goto done; }
    enc = avcodec_alloc_context3(codec);
    if (!enc) { status = -2; goto done; }
    enc->width = ow; enc->height = oh;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational) { 1, 1000 };
    enc->max_b_frames = 0;
    enc->thread_count = threads;
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_BT709; enc->color_primaries = AVCOL_PRI_BT709; enc->color_trc = AVCOL_TRC_BT709;
    av_opt_set(enc->priv_data, "preset", preset, 0);
    av_opt_set_int(enc->priv_data, "crf", crf, 0);
    av_opt_set(enc->priv_data, "x264-params", "log=-1", 0);

    if (avformat_alloc_output_context2(&ofmt, NULL, "mp4", NULL) < 0 || !ofmt) { status = -2; goto done; }
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(enc, codec, NULL) < 0) { status = -6; snprintf(out->error, sizeof out->error, "libx264 does not open"); goto done; }
    os = avformat_new_stream(ofmt, NULL);
    if (!os || avcodec_parameters_from_context(os->codecpar, enc) < 0) { status = -2; goto done; }
    os->time_base = (AVRational) { 1, 1000 };
    {
        uint8_t *buffer = av_malloc(1 << 16);
        oavio = buffer ? avio_alloc_context(buffer, 1 << 16, 1, &output, mw_av_output_read, mw_av_output_write, mw_av_output_seek) : NULL;
        if (!oavio) { av_free(buffer); status = -2; goto done; }
    }
    ofmt->pb = oavio;
    ofmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    ofmt->opaque = &output;
    ofmt->io_open = mw_av_io_open;
    ofmt->io_close2 = mw_av_io_close2;
    {
        AVDictionary *opts = NULL;
        av_dict_set(&opts, "movflags", "+faststart", 0);
        r = avformat_write_header(ofmt, &opts);
        av_dict_free(&opts);
        if (r < 0) { status = -2; snprintf(out->error, sizeof out->error, "the MP4 header does not write"); goto done; }
        header_written = 1;
    }
    yuv->format = AV_PIX_FMT_YUV420P; yuv->width = ow; yuv->height = oh;
    if (av_frame_get_buffer(yuv, 0) < 0) { status = -2; goto done; }

    int draining = 0, encoder_flushed = 0;
    while (status == 0 && !encoder_flushed) {
        if (av_gettime_relative() > deadline_us) { status = -4; break; }
        int got_input = 0;
        if (!draining) {
            r = av_read_frame(ifmt, pkt);
            if (r == AVERROR_EOF) { draining = 1; avcodec_send_packet(dec, NULL); }
            else if (r < 0) { status = -1; snprintf(out->error, sizeof out->error, "the container is damaged"); break; }
            else if (pkt->stream_index == video) {
                r = avcodec_send_packet(dec, pkt);
                if (r < 0 && r != AVERROR(EAGAIN)) { status = -1; snprintf(out->error, sizeof out->error, "the animation does not decode"); av_packet_unref(pkt); break; }
                got_input = 1;
            }
            av_packet_unref(pkt);
            if (!got_input && !draining) continue;
        }
        int decoder_done = 0;
        for (;;) {
            r = avcodec_receive_frame(dec, frame);
            if (r == AVERROR(EAGAIN)) break;
            if (r == AVERROR_EOF) { decoder_done = 1; break; }
            if (r < 0) { status = -1; snprintf(out->error, sizeof out->error, "the animation does not decode"); break; }
            if (queued >= max_frames) { status = -3; snprintf(out->error, sizeof out->error, "more than %lld frames", (long long) max_frames); break; }
            if (mw_av_frame_to_rgb_on_white(&to_rgba, frame, ow, oh, rgba)) { status = -2; snprintf(out->error, sizeof out->error, "a frame does not convert"); break; }
            if (av_frame_make_writable(yuv) < 0) { status = -2; break; }
            mw_av_rgba_to_yuv420p(rgba, ow, oh, yuv);
            // This frame's duration, ms: the demuxer's own (GIF delays), else the gap to the stream's frame rate.
            int64_t duration = 0;
            if (frame->pkt_duration > 0) duration = av_rescale_q(frame->pkt_duration, vs->time_base, (AVRational) { 1, 1000 });
            if (duration <= 0 && vs->avg_frame_rate.num > 0) duration = av_rescale(1000, vs->avg_frame_rate.den, vs->avg_frame_rate.num);
            if (duration <= 0) duration = 100;
            yuv->pts = next_pts;
            next_pts += duration;
            if (queued == capacity) {
                capacity = capacity ? capacity * 2 : 256;
                int64_t *grown = av_realloc(durations, capacity * sizeof *durations);
                if (!grown) { status = -2; break; }
                durations = grown;
            }
            durations[queued++] = duration;
            av_frame_unref(frame);
            r = avcodec_send_frame(enc, yuv);
            if (r < 0) { status = -2; snprintf(out->error, sizeof out->error, "libx264 refused a frame"); break; }
            // Drain what the encoder has ready.
            while (status == 0 && avcodec_receive_packet(enc, opkt) == 0) {
                opkt->duration = written < queued ? durations[written] : 0;
                written++;
                opkt->stream_index = os->index;
                av_packet_rescale_ts(opkt, enc->time_base, os->time_base);
                r = av_interleaved_write_frame(ofmt, opkt);
                if (r < 0) { status = r == AVERROR(EFBIG) ? -5 : -2; snprintf(out->error, sizeof out->error, "the MP4 does not write"); }
            }
        }
        if (status == 0 && decoder_done) {
            if (queued == 0) { status = -1; snprintf(out->error, sizeof out->error, "no frame decodes"); break; }
            avcodec_send_frame(enc, NULL);
            while (status == 0 && avcodec_receive_packet(enc, opkt) == 0) {
                opkt->duration = written < queued ? durations[written] : 0;
                written++;
                opkt->stream_index = os->index;
                av_packet_rescale_ts(opkt, enc->time_base, os->time_base);
                r = av_interleaved_write_frame(ofmt, opkt);
                if (r < 0) { status = r == AVERROR(EFBIG) ? -5 : -2; snprintf(out->error, sizeof out->error, "the MP4 does not write"); }
            }
            encoder_flushed = 1;
        }
    }
    if (status == 0) {
        r = av_write_trailer(ofmt);
        header_written = 0;
        if (r < 0) { status = r == AVERROR(EFBIG) ? -5 : -2; snprintf(out->error, sizeof out->error, "the MP4 index does not write"); }
    }
    if (status == 0) {
        out->data = output.data; output.data = NULL;
        out->size = output.size;
        out->width = ow; out->height = oh;
        out->frames = (int) queued;
        out->duration_ms = next_pts;
    }
done:
    if (status == -5 && !out->error[0]) snprintf(out->error, sizeof out->error, "the MP4 is over %lld bytes", (long long) max_output);
    if (header_written && ofmt) av_write_trailer(ofmt);
    if (ofmt) avformat_free_context(ofmt);
    if (oavio) { av_freep(&oavio->buffer); avio_context_free(&oavio); }
    av_free(output.data);
    av_free(durations);
    av_free(rgba);
    sws_freeContext(to_rgba);
    av_frame_free(&frame);
    av_frame_free(&yuv);
    av_packet_free(&pkt);
    av_packet_free(&opkt);
    avcodec_free_context(&enc);
    avcodec_free_context(&dec);
    mw_av_close_input(&ifmt, &iavio);
    return status;
}

/// Silences FFmpeg's own logging (errors come back through the functions' `error` fields).
static inline void mw_av_quiet(void) { av_log_set_level(AV_LOG_QUIET); }
