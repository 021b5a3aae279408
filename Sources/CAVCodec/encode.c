// Any animation to H.264 in MP4: decode, flatten onto white, scale, encode with libx264, mux with the index first.
#include "av_internal.h"

#include <libavutil/opt.h>
#include <libavutil/time.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/// Where the encoder's packets go: the muxer, with each packet's duration from the queue of frame durations.
typedef struct {
    AVCodecContext *enc;
    AVFormatContext *ofmt;
    AVStream *os;
    AVPacket *opkt;
    /// Durations (ms) of frames sent to the encoder, in order (no B-frames: packets come out in that order).
    const int64_t *durations;
    int64_t queued, written;
} mw_av_muxing;

/// Writes every packet the encoder has ready into the MP4 (the one drain loop: after each frame, and at the end).
static mw_av_status mw_av_drain(mw_av_muxing *m, char *error, size_t error_size) {
    mw_av_status status = MW_AV_OK;
    while (status == MW_AV_OK && avcodec_receive_packet(m->enc, m->opkt) == 0) {
        m->opkt->duration = m->written < m->queued ? m->durations[m->written] : 0;
        m->written++;
        m->opkt->stream_index = m->os->index;
        av_packet_rescale_ts(m->opkt, m->enc->time_base, m->os->time_base);
        int r = av_interleaved_write_frame(m->ofmt, m->opkt);
        if (r < 0) { status = r == AVERROR(EFBIG) ? MW_AV_TOO_LARGE : MW_AV_INTERNAL; snprintf(error, error_size, "the MP4 does not write"); }
    }
    return status;
}

mw_av_status mw_av_to_h264_mp4(const void *buf, size_t len, const char *format_name, int max_side, int crf,
                               const char *preset, int threads, int64_t max_pixels, int64_t max_frames,
                               int64_t max_output, int64_t deadline_us, mw_av_encoded *out) {
    memset(out, 0, sizeof *out);
    mw_av_input in;
    AVFormatContext *ifmt = NULL; AVIOContext *iavio = NULL;
    mw_av_status status = mw_av_open_input(buf, len, format_name, &in, &ifmt, &iavio, out->error, sizeof out->error);
    if (status != MW_AV_OK) return status;
    int r;
    int video = av_find_best_stream(ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (video < 0) { snprintf(out->error, sizeof out->error, "no video stream"); mw_av_close_input(&ifmt, &iavio); return MW_AV_CORRUPT; }
    AVStream *vs = ifmt->streams[video];
    int sw = vs->codecpar->width, sh = vs->codecpar->height;
    if (sw <= 0 || sh <= 0) { snprintf(out->error, sizeof out->error, "the animation has no size"); mw_av_close_input(&ifmt, &iavio); return MW_AV_CORRUPT; }
    if ((int64_t) sw * sh > max_pixels) {
        snprintf(out->error, sizeof out->error, "%d x %d is over the pixel limit", sw, sh);
        out->width = sw; out->height = sh;
        mw_av_close_input(&ifmt, &iavio);
        return MW_AV_TOO_MANY_PIXELS;
    }
    AVCodecContext *dec = mw_av_open_decoder(vs, 1, out->error, sizeof out->error);
    if (!dec) { mw_av_close_input(&ifmt, &iavio); return MW_AV_CORRUPT; }

    // Output size: within max_side, even (yuv420p needs it), at least 2.
    double scale = 1.0;
    int longest = sw > sh ? sw : sh;
    if (longest > max_side) scale = (double) max_side / longest;
    int ow = (int) (sw * scale) & ~1, oh = (int) (sh * scale) & ~1;
    if (ow < 2) ow = 2;
    if (oh < 2) oh = 2;

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
    int64_t *durations = NULL; int64_t capacity = 0;
    mw_av_muxing muxing = { 0 };
    int64_t next_pts = 0;
    int header_written = 0;
    if (!pkt || !opkt || !frame || !yuv || !rgba) { status = MW_AV_INTERNAL; snprintf(out->error, sizeof out->error, "out of memory"); goto done; }

    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) { status = MW_AV_CODEC_MISSING; snprintf(out->error, sizeof out->error, "FFmpeg has no libx264 encoder"); goto done; }
    enc = avcodec_alloc_context3(codec);
    if (!enc) { status = MW_AV_INTERNAL; goto done; }
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

    if (avformat_alloc_output_context2(&ofmt, NULL, "mp4", NULL) < 0 || !ofmt) { status = MW_AV_INTERNAL; goto done; }
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(enc, codec, NULL) < 0) { status = MW_AV_CODEC_MISSING; snprintf(out->error, sizeof out->error, "libx264 does not open"); goto done; }
    os = avformat_new_stream(ofmt, NULL);
    if (!os || avcodec_parameters_from_context(os->codecpar, enc) < 0) { status = MW_AV_INTERNAL; goto done; }
    os->time_base = (AVRational) { 1, 1000 };
    oavio = mw_av_output_context(&output);
    if (!oavio) { status = MW_AV_INTERNAL; goto done; }
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
        if (r < 0) { status = MW_AV_INTERNAL; snprintf(out->error, sizeof out->error, "the MP4 header does not write"); goto done; }
        header_written = 1;
    }
    yuv->format = AV_PIX_FMT_YUV420P; yuv->width = ow; yuv->height = oh;
    if (av_frame_get_buffer(yuv, 0) < 0) { status = MW_AV_INTERNAL; goto done; }
    muxing = (mw_av_muxing) { .enc = enc, .ofmt = ofmt, .os = os, .opkt = opkt };

    int draining = 0, encoder_flushed = 0;
    while (status == MW_AV_OK && !encoder_flushed) {
        if (av_gettime_relative() > deadline_us) { status = MW_AV_TIME_LIMIT; break; }
        int got_input = 0;
        if (!draining) {
            r = av_read_frame(ifmt, pkt);
            if (r == AVERROR_EOF) { draining = 1; avcodec_send_packet(dec, NULL); }
            else if (r < 0) { status = MW_AV_CORRUPT; snprintf(out->error, sizeof out->error, "the container is damaged"); break; }
            else if (pkt->stream_index == video) {
                r = avcodec_send_packet(dec, pkt);
                if (r < 0 && r != AVERROR(EAGAIN)) { status = MW_AV_CORRUPT; snprintf(out->error, sizeof out->error, "the animation does not decode"); av_packet_unref(pkt); break; }
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
            if (r < 0) { status = MW_AV_CORRUPT; snprintf(out->error, sizeof out->error, "the animation does not decode"); break; }
            if (muxing.queued >= max_frames) { status = MW_AV_TOO_MANY_FRAMES; snprintf(out->error, sizeof out->error, "more than %lld frames", (long long) max_frames); break; }
            if (mw_av_frame_to_rgb_on_white(&to_rgba, frame, ow, oh, rgba)) { status = MW_AV_INTERNAL; snprintf(out->error, sizeof out->error, "a frame does not convert"); break; }
            if (av_frame_make_writable(yuv) < 0) { status = MW_AV_INTERNAL; break; }
            mw_av_rgba_to_yuv420p(rgba, ow, oh, yuv);
            // This frame's duration, ms: the demuxer's own (GIF delays), else the gap to the stream's frame rate.
            int64_t duration = 0;
            if (frame->pkt_duration > 0) duration = av_rescale_q(frame->pkt_duration, vs->time_base, (AVRational) { 1, 1000 });
            if (duration <= 0 && vs->avg_frame_rate.num > 0) duration = av_rescale(1000, vs->avg_frame_rate.den, vs->avg_frame_rate.num);
            if (duration <= 0) duration = 100;
            yuv->pts = next_pts;
            next_pts += duration;
            if (muxing.queued == capacity) {
                capacity = capacity ? capacity * 2 : 256;
                int64_t *grown = av_realloc(durations, capacity * sizeof *durations);
                if (!grown) { status = MW_AV_INTERNAL; break; }
                durations = grown;
                muxing.durations = durations;
            }
            durations[muxing.queued++] = duration;
            av_frame_unref(frame);
            r = avcodec_send_frame(enc, yuv);
            if (r < 0) { status = MW_AV_INTERNAL; snprintf(out->error, sizeof out->error, "libx264 refused a frame"); break; }
            // Drain what the encoder has ready; a write that failed ends the loop (nothing more can be written).
            status = mw_av_drain(&muxing, out->error, sizeof out->error);
            if (status != MW_AV_OK) break;
        }
        if (status == MW_AV_OK && decoder_done) {
            if (muxing.queued == 0) { status = MW_AV_CORRUPT; snprintf(out->error, sizeof out->error, "no frame decodes"); break; }
            avcodec_send_frame(enc, NULL);
            status = mw_av_drain(&muxing, out->error, sizeof out->error);
            encoder_flushed = 1;
        }
    }
    if (status == MW_AV_OK) {
        r = av_write_trailer(ofmt);
        header_written = 0;
        if (r < 0) { status = r == AVERROR(EFBIG) ? MW_AV_TOO_LARGE : MW_AV_INTERNAL; snprintf(out->error, sizeof out->error, "the MP4 index does not write"); }
    }
    if (status == MW_AV_OK) {
        out->data = output.data; output.data = NULL;
        out->size = output.size;
        out->width = ow; out->height = oh;
        out->frames = (int) muxing.queued;
        out->duration_ms = next_pts;
    }
done:
    if (status == MW_AV_TOO_LARGE && !out->error[0]) snprintf(out->error, sizeof out->error, "the MP4 is over %lld bytes", (long long) max_output);
    if (header_written && ofmt) av_write_trailer(ofmt);
    if (ofmt) avformat_free_context(ofmt);
    mw_av_free_context(&oavio);
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
