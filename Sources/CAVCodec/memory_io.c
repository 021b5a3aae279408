// Memory-only I/O for FFmpeg: a helper process may not open files, so the demuxer reads the caller's bytes through
// a custom AVIO context and the muxer writes into a growable buffer, which its `+faststart` pass reads back.
#include "av_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/// One read from memory at `*pos`: what the three readers below share.
static int mw_av_read_at(const uint8_t *data, int64_t size, int64_t *pos, uint8_t *buf, int n) {
    int64_t left = size - *pos;
    if (left <= 0) return AVERROR_EOF;
    if (n > left) n = (int) left;
    memcpy(buf, data + *pos, n);
    *pos += n;
    return n;
}

/// One seek in memory of `size` bytes, to at most `limit`: what the three seekers below share.
static int64_t mw_av_seek_in(int64_t *pos, int64_t size, int64_t limit, int64_t offset, int whence) {
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

static int mw_av_input_read(void *opaque, uint8_t *buf, int n) {
    mw_av_input *in = opaque;
    return mw_av_read_at(in->data, in->size, &in->pos, buf, n);
}

static int64_t mw_av_input_seek(void *opaque, int64_t offset, int whence) {
    mw_av_input *in = opaque;
    return mw_av_seek_in(&in->pos, in->size, in->size, offset, whence);
}

// libavformat 61 (FFmpeg 7) made the write callback's buffer const; Debian bookworm has 59 (FFmpeg 5.1).
#if LIBAVFORMAT_VERSION_MAJOR >= 61
typedef const uint8_t mw_av_write_byte;
#else
typedef uint8_t mw_av_write_byte;
#endif

static int mw_av_output_write(void *opaque, mw_av_write_byte *buf, int n) {
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

static int mw_av_output_read(void *opaque, uint8_t *buf, int n) {
    mw_av_output *out = opaque;
    return mw_av_read_at(out->data, out->size, &out->pos, buf, n);
}

/// The muxer may seek past the end it has written so far (up to the limit) and write there.
static int64_t mw_av_output_seek(void *opaque, int64_t offset, int whence) {
    mw_av_output *out = opaque;
    return mw_av_seek_in(&out->pos, out->size, out->limit, offset, whence);
}

AVIOContext *mw_av_output_context(mw_av_output *output) {
    uint8_t *buffer = av_malloc(1 << 16);
    AVIOContext *avio = buffer ? avio_alloc_context(buffer, 1 << 16, 1, output, mw_av_output_read, mw_av_output_write, mw_av_output_seek) : NULL;
    if (!avio) av_free(buffer);
    return avio;
}

/// A second reader over the same output, for the MP4 muxer's faststart pass (it "re-opens the file").
typedef struct { mw_av_output *shared; int64_t pos; } mw_av_reopened;

static int mw_av_reopened_read(void *opaque, uint8_t *buf, int n) {
    mw_av_reopened *r = opaque;
    return mw_av_read_at(r->shared->data, r->shared->size, &r->pos, buf, n);
}

static int64_t mw_av_reopened_seek(void *opaque, int64_t offset, int whence) {
    mw_av_reopened *r = opaque;
    return mw_av_seek_in(&r->pos, r->shared->size, r->shared->size, offset, whence);
}

int mw_av_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **options) {
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

int mw_av_io_close2(AVFormatContext *s, AVIOContext *pb) {
    (void) s;
    if (!pb) return 0;
    av_free(pb->opaque);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    return 0;
}

void mw_av_free_context(AVIOContext **avio) {
    if (*avio) { av_freep(&(*avio)->buffer); avio_context_free(avio); }
}

void mw_av_close_input(AVFormatContext **fmt, AVIOContext **avio) {
    avformat_close_input(fmt);
    mw_av_free_context(avio);
}

mw_av_status mw_av_open_input(const void *buf, size_t len, const char *format_name, mw_av_input *in,
                              AVFormatContext **fmt_out, AVIOContext **avio_out, char *error, size_t error_size) {
    in->data = buf; in->size = (int64_t) len; in->pos = 0;
    *fmt_out = NULL; *avio_out = NULL;
    const AVInputFormat *format = av_find_input_format(format_name);
    if (!format) { snprintf(error, error_size, "FFmpeg has no %s demuxer", format_name); return MW_AV_CODEC_MISSING; }
    uint8_t *buffer = av_malloc(1 << 16);
    AVIOContext *avio = buffer ? avio_alloc_context(buffer, 1 << 16, 0, in, mw_av_input_read, NULL, mw_av_input_seek) : NULL;
    AVFormatContext *fmt = avio ? avformat_alloc_context() : NULL;
    if (!fmt) {
        if (avio) mw_av_free_context(&avio); else av_free(buffer);
        snprintf(error, error_size, "out of memory opening the demuxer");
        return MW_AV_INTERNAL;
    }
    fmt->pb = avio;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->max_streams = 16;
    int r = avformat_open_input(&fmt, NULL, format, NULL);
    if (r < 0) {
        char why[128]; av_strerror(r, why, sizeof why);
        snprintf(error, error_size, "the %s container does not open: %s", format_name, why);
        mw_av_free_context(&avio);
        return MW_AV_CORRUPT;
    }
    *avio_out = avio;
    r = avformat_find_stream_info(fmt, NULL);
    if (r < 0) {
        char why[128]; av_strerror(r, why, sizeof why);
        snprintf(error, error_size, "the %s container's streams do not read: %s", format_name, why);
        mw_av_close_input(&fmt, avio_out);
        return MW_AV_CORRUPT;
    }
    *fmt_out = fmt;
    return MW_AV_OK;
}
