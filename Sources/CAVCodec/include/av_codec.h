// FFmpeg (libavformat, libavcodec, libswscale) for animations: the few operations mediaworker needs, written
// once in C because FFmpeg's API leans on macros (AVERROR, AVSEEK_SIZE) and callback structs Swift cannot spell.
// Everything works on memory (a helper process may not open files): custom AVIO over the caller's bytes in,
// a growable buffer out (with an io_open hook so the MP4 muxer's `+faststart` second pass reads it back).
// The logic lives in the .c files beside include/; this header shows Swift only plain C types, not FFmpeg's.
#ifndef MW_AV_CODEC_H
#define MW_AV_CODEC_H

#include <stddef.h>
#include <stdint.h>

// Swift sees `mw_av_status` as a closed enum with these case names (`.ok`, `.corrupt`, …).
#if defined(__has_attribute) && __has_attribute(swift_name)
#define MW_AV_SWIFT_NAME(name) __attribute__((swift_name(#name)))
#else
#define MW_AV_SWIFT_NAME(name)
#endif

/// How an FFmpeg operation ended. Swift reads it in one place (`VideoCodec.Failure`).
typedef enum __attribute__((enum_extensibility(closed))) {
    MW_AV_OK MW_AV_SWIFT_NAME(ok) = 0,
    /// The file is damaged or is not what its type says (`error` says why).
    MW_AV_CORRUPT MW_AV_SWIFT_NAME(corrupt) = -1,
    /// An allocation or a step that is not the file's fault failed (`error` says which, when known).
    MW_AV_INTERNAL MW_AV_SWIFT_NAME(internal) = -2,
    /// A video frame is over `max_pixels`; `width` and `height` hold its size.
    MW_AV_TOO_MANY_PIXELS MW_AV_SWIFT_NAME(tooManyPixels) = -3,
    /// The monotonic deadline passed.
    MW_AV_TIME_LIMIT MW_AV_SWIFT_NAME(timeLimit) = -4,
    /// The output would be over `max_output` bytes.
    MW_AV_TOO_LARGE MW_AV_SWIFT_NAME(tooLarge) = -5,
    /// FFmpeg lacks the demuxer or libx264, or libx264 does not open: the installation's fault, never the file's.
    MW_AV_CODEC_MISSING MW_AV_SWIFT_NAME(codecMissing) = -6,
    /// More than `max_frames` frames.
    MW_AV_TOO_MANY_FRAMES MW_AV_SWIFT_NAME(tooManyFrames) = -7,
} mw_av_status;

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

/// What `mw_av_to_h264_mp4` made.
typedef struct {
    char error[256];
    uint8_t *data;      // av_malloc'd MP4; free with mw_av_free
    int64_t size;
    int width, height;  // of the output (of the input when MW_AV_TOO_MANY_PIXELS)
    int frames;
    int64_t duration_ms;
} mw_av_encoded;

/// Frees what FFmpeg allocated for a result (`first_frame`, `data`); NULL is fine.
void mw_av_free(void *p);

/// Silences FFmpeg's own logging (errors come back through the functions' `error` fields).
void mw_av_quiet(void);

/// Demuxes `buf` with `format_name`, decodes the first video frame and every audio frame (to tell silent from
/// sound). MW_AV_CORRUPT when the file is damaged (error says why), MW_AV_INTERNAL on an internal failure,
/// MW_AV_TOO_MANY_PIXELS when the video frame is over `max_pixels` (width/height set), MW_AV_TIME_LIMIT past the
/// deadline (`av_gettime_relative` microseconds, the monotonic clock), MW_AV_CODEC_MISSING when FFmpeg lacks the
/// demuxer.
mw_av_status mw_av_inspect(const void *buf, size_t len, const char *format_name, int64_t max_pixels,
                           int64_t deadline_us, mw_av_inspection *out);

/// Decodes the first video stream of `buf` (demuxer `format_name`: "gif", "mov,mp4,m4a,3gp,3g2,mj2"), flattens
/// transparency onto white, scales so the longest side is at most `max_side` with even dimensions, and encodes
/// H.264 (libx264, yuv420p, no B-frames, `preset`, `crf`) into an MP4 with its index first (`+faststart`) and no
/// audio, keeping every frame's own duration. MW_AV_CORRUPT (damaged input), MW_AV_INTERNAL, MW_AV_TOO_MANY_PIXELS
/// (width/height: the input's), MW_AV_TOO_MANY_FRAMES, MW_AV_TIME_LIMIT, MW_AV_TOO_LARGE (output over
/// `max_output` bytes), MW_AV_CODEC_MISSING (FFmpeg lacks the demuxer or libx264, or libx264 does not open).
mw_av_status mw_av_to_h264_mp4(const void *buf, size_t len, const char *format_name, int max_side, int crf,
                               const char *preset, int threads, int64_t max_pixels, int64_t max_frames,
                               int64_t max_output, int64_t deadline_us, mw_av_encoded *out);

#endif
