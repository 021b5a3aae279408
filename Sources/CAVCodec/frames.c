// Decoders, and decoded frames to RGBA on white and to the encoder's YUV 4:2:0.
#include "av_internal.h"

#include <libavutil/pixdesc.h>
#include <stdio.h>

AVCodecContext *mw_av_open_decoder(AVStream *stream, int threads, char *error, size_t error_size) {
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

/// Room past the end: libswscale's SIMD paths may write a few pixels past the last row when the width is not a
/// multiple of 16 (found with a 270-pixel-wide phone clip).
uint8_t *mw_av_rgba_alloc(int w, int h) {
    return av_malloc((size_t) w * h * 4 + (size_t) w * 4 + 256);
}

int mw_av_frame_to_rgb_on_white(struct SwsContext **sws, const AVFrame *frame, int w, int h, uint8_t *rgba) {
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

/// Limited-range BT.709 is what the encoder tags: one pass, integer arithmetic, chroma from the mean of each 2×2
/// block. libswscale's unscaled RGBA → YUV420P takes its generic path (and BT.601 unless told otherwise) and cost
/// more than the decoding.
void mw_av_rgba_to_yuv420p(const uint8_t *rgba, int w, int h, AVFrame *yuv) {
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
