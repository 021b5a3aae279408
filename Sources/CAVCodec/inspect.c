// Inspecting an MP4/MOV animation: its streams, its first frame, and whether its audio is silent.
#include "av_internal.h"

#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void mw_av_free(void *p) { av_free(p); }

void mw_av_quiet(void) { av_log_set_level(AV_LOG_QUIET); }

mw_av_status mw_av_inspect(const void *buf, size_t len, const char *format_name, int64_t max_pixels,
                           int64_t deadline_us, mw_av_inspection *out) {
    memset(out, 0, sizeof *out);
    mw_av_input in;
    AVFormatContext *fmt = NULL; AVIOContext *avio = NULL;
    mw_av_status status = mw_av_open_input(buf, len, format_name, &in, &fmt, &avio, out->error, sizeof out->error);
    if (status != MW_AV_OK) return status;
    int r;
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
    if (video < 0) { snprintf(out->error, sizeof out->error, "no video stream"); mw_av_close_input(&fmt, &avio); return MW_AV_CORRUPT; }
    AVStream *vs = fmt->streams[video];
    snprintf(out->video_codec, sizeof out->video_codec, "%s", avcodec_get_name(vs->codecpar->codec_id));
    {
        const char *pf = av_get_pix_fmt_name(vs->codecpar->format);
        snprintf(out->pixel_format, sizeof out->pixel_format, "%s", pf ? pf : "");
        int audio = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
        if (audio >= 0) snprintf(out->audio_codec, sizeof out->audio_codec, "%s", avcodec_get_name(fmt->streams[audio]->codecpar->codec_id));
    }
    out->width = vs->codecpar->width; out->height = vs->codecpar->height;
    if (out->width <= 0 || out->height <= 0) { snprintf(out->error, sizeof out->error, "the video has no size"); mw_av_close_input(&fmt, &avio); return MW_AV_CORRUPT; }
    if ((int64_t) out->width * out->height > max_pixels) { mw_av_close_input(&fmt, &avio); return MW_AV_TOO_MANY_PIXELS; }
    AVCodecContext *vctx = mw_av_open_decoder(vs, 1, out->error, sizeof out->error);
    if (!vctx) { mw_av_close_input(&fmt, &avio); return MW_AV_CORRUPT; }
    for (unsigned i = 0; i < fmt->nb_streams && i < 16; i++) {
        if (fmt->streams[i]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        audio_ctx[i] = mw_av_open_decoder(fmt->streams[i], 1, out->error, sizeof out->error);
        if (!audio_ctx[i]) out->audio_peak = -1;
    }
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    struct SwsContext *sws = NULL;
    status = (pkt && frame) ? MW_AV_OK : MW_AV_INTERNAL;
    int have_frame = 0;
    while (status == MW_AV_OK) {
        if (av_gettime_relative() > deadline_us) { status = MW_AV_TIME_LIMIT; break; }
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF) break;
        if (r < 0) { char why[128]; av_strerror(r, why, sizeof why); snprintf(out->error, sizeof out->error, "the container is damaged: %s", why); status = MW_AV_CORRUPT; break; }
        int si = pkt->stream_index;
        AVCodecContext *ctx = si == video ? (have_frame ? NULL : vctx) : (si < 16 ? audio_ctx[si] : NULL);
        if (ctx) {
            r = avcodec_send_packet(ctx, pkt);
            if (r < 0 && r != AVERROR(EAGAIN)) {
                if (si == video) { snprintf(out->error, sizeof out->error, "the %s video does not decode", out->video_codec); status = MW_AV_CORRUPT; }
                else out->audio_peak = -1;
            }
            while (status == MW_AV_OK && avcodec_receive_frame(ctx, frame) == 0) {
                if (si == video && !have_frame) {
                    if (frame->width != out->width || frame->height != out->height) {
                        if ((int64_t) frame->width * frame->height > max_pixels) { status = MW_AV_TOO_MANY_PIXELS; break; }
                        out->width = frame->width; out->height = frame->height;
                    }
                    out->first_frame = mw_av_rgba_alloc(out->width, out->height);
                    if (!out->first_frame || mw_av_frame_to_rgb_on_white(&sws, frame, out->width, out->height, out->first_frame)) {
                        snprintf(out->error, sizeof out->error, "the first frame does not convert"); status = MW_AV_INTERNAL;
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
    if (status == MW_AV_OK && !have_frame) {
        // Flush: a decoder with delay hands out its first frame only at the end.
        avcodec_send_packet(vctx, NULL);
        if (avcodec_receive_frame(vctx, frame) == 0) {
            out->first_frame = mw_av_rgba_alloc(out->width, out->height);
            if (out->first_frame && frame->width == out->width && frame->height == out->height &&
                mw_av_frame_to_rgb_on_white(&sws, frame, out->width, out->height, out->first_frame) == 0) have_frame = 1;
        }
        if (!have_frame) { snprintf(out->error, sizeof out->error, "no video frame decodes"); status = MW_AV_CORRUPT; }
    }
    if (status != MW_AV_OK && out->first_frame) { av_freep(&out->first_frame); }
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&vctx);
    for (int i = 0; i < 16; i++) if (audio_ctx[i]) avcodec_free_context(&audio_ctx[i]);
    mw_av_close_input(&fmt, &avio);
    return status;
}
