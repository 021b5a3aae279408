// The smallest shim that lets Swift use libvips: Swift cannot call C variadic functions, so each
// variadic call mediaworker needs is wrapped here in a fixed-argument static inline function.
#include <vips/vips.h>

/// Opens an image lazily (header only) from memory, sequential access, with the given fail_on level.
static inline VipsImage *mw_image_header(const void *buf, size_t len, int fail_on) {
    return vips_image_new_from_buffer(buf, len, "",
        "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", fail_on, NULL);
}

/// vips_thumbnail_buffer: longest side `size`, never upscaled, EXIF orientation applied.
/// `loader_options` reach the loader (libvips 8.14 does not forward thumbnail's own `fail_on` to
/// buffer loaders, so strictness is passed as "fail_on=warning" here).
static inline int mw_thumbnail(const void *buf, size_t len, int size, const char *loader_options,
                               const char *export_profile, VipsImage **out) {
    if (!export_profile)
        return vips_thumbnail_buffer((void *) buf, len, out, size,
            "height", size, "size", VIPS_SIZE_DOWN, "option_string", loader_options, NULL);
    return vips_thumbnail_buffer((void *) buf, len, out, size,
        "height", size,
        "size", VIPS_SIZE_DOWN,
        "option_string", loader_options,
        "export_profile", export_profile,
        NULL);
}

/// JPEG decoded at 1/shrink scale by libjpeg's DCT scaling (shrink 1, 2, 4 or 8), strict, sequential.
static inline int mw_jpeg_shrunk(const void *buf, size_t len, int shrink, VipsImage **out) {
    return vips_jpegload_buffer((void *) buf, len, out, "shrink", shrink,
        "fail_on", VIPS_FAIL_ON_WARNING, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
}

/// vips_thumbnail_image on an already-loaded (already shrunk) image.
static inline int mw_thumbnail_image(VipsImage *in, int size, const char *export_profile, VipsImage **out) {
    if (export_profile)
        return vips_thumbnail_image(in, out, size, "height", size, "size", VIPS_SIZE_DOWN,
            "export_profile", export_profile, NULL);
    return vips_thumbnail_image(in, out, size, "height", size, "size", VIPS_SIZE_DOWN, NULL);
}

/// Converts any interpretation (B_W, GREY16, RGB16, CMYK, ...) to 8-bit sRGB, keeping alpha.
static inline int mw_to_srgb8(VipsImage *in, VipsImage **out) {
    VipsImage *t = NULL;
    if (vips_colourspace(in, &t, VIPS_INTERPRETATION_sRGB, NULL))
        return -1;
    if (vips_image_get_format(t) != VIPS_FORMAT_UCHAR) {
        int r = vips_cast(t, out, VIPS_FORMAT_UCHAR, NULL);
        g_object_unref(t);
        return r;
    }
    *out = t;
    return 0;
}

/// Drops alpha onto white, for output formats without transparency.
static inline int mw_flatten_white(VipsImage *in, VipsImage **out) {
    double white[3] = { 255.0, 255.0, 255.0 };
    VipsArrayDouble *background = vips_array_double_new(white, 3);
    int r = vips_flatten(in, out, "background", background, NULL);
    vips_area_unref(VIPS_AREA(background));
    return r;
}

static inline int mw_save_webp(VipsImage *in, int quality, int effort, void **buf, size_t *len) {
    return vips_webpsave_buffer(in, buf, len, "Q", quality, "effort", effort, "strip", TRUE, NULL);
}

static inline int mw_save_jpeg(VipsImage *in, int quality, void **buf, size_t *len) {
    return vips_jpegsave_buffer(in, buf, len, "Q", quality, "strip", TRUE,
        "optimize_coding", TRUE, NULL);
}

static inline int mw_save_png(VipsImage *in, void **buf, size_t *len) {
    return vips_pngsave_buffer(in, buf, len, "strip", TRUE, NULL);
}

/// Per-evaluation time limit: libvips emits "eval" between tiles; past the deadline the image is
/// killed, so the running evaluation stops with an error instead of running on.
typedef struct {
    gint64 deadline_us;
    int fired;
} MwDeadline;

static void mw_deadline_eval(VipsImage *image, VipsProgress *progress, void *user) {
    (void) progress;
    MwDeadline *deadline = (MwDeadline *) user;
    if (!deadline->fired && g_get_monotonic_time() > deadline->deadline_us) {
        deadline->fired = 1;
        vips_image_set_kill(image, TRUE);
    }
}

/// Attaches a deadline (monotonic microseconds) to `image`; images built from it afterwards inherit it.
/// The returned struct lives as long as the image.
static inline const MwDeadline *mw_watch_deadline(VipsImage *image, gint64 deadline_us) {
    MwDeadline *deadline = g_new0(MwDeadline, 1);
    deadline->deadline_us = deadline_us;
    g_object_set_data_full(G_OBJECT(image), "mw-deadline", deadline, g_free);
    vips_image_set_progress(image, TRUE);
    g_signal_connect(image, "eval", G_CALLBACK(mw_deadline_eval), deadline);
    return deadline;
}

static inline gint64 mw_monotonic_us(void) { return g_get_monotonic_time(); }

// ---- delivery images (operator files sent to WhatsApp as they are) ----------------------------------------------

/// The whole first frame, strict, random access (the delivery image is re-encoded at full size).
static inline VipsImage *mw_image_full(const void *buf, size_t len) {
    return vips_image_new_from_buffer(buf, len, "", "fail_on", VIPS_FAIL_ON_WARNING, NULL);
}

/// EXIF orientation applied (and the orientation tag dropped).
static inline int mw_autorot(VipsImage *in, VipsImage **out) { return vips_autorot(in, out, NULL); }

/// The embedded ICC profile applied, into sRGB.
static inline int mw_icc_to_srgb(VipsImage *in, VipsImage **out) {
    return vips_icc_transform(in, out, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_PERCEPTUAL, NULL);
}

/// Scaled by `scale` (< 1) with libvips's default kernel.
static inline int mw_resize(VipsImage *in, double scale, VipsImage **out) { return vips_resize(in, out, scale, NULL); }

/// An 8-bit sRGB RGBA image copied from packed pixels.
static inline VipsImage *mw_image_from_rgba(const void *data, int width, int height) {
    VipsImage *raw = vips_image_new_from_memory_copy(data, (size_t) width * height * 4, width, height, 4, VIPS_FORMAT_UCHAR);
    if (!raw) return NULL;
    VipsImage *out = NULL;
    int r = vips_copy(raw, &out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
    g_object_unref(raw);
    return r ? NULL : out;
}

/// Frames in a GIF or WebP (1 for still images).
static inline int mw_n_pages(VipsImage *in) { return vips_image_get_n_pages(in); }

/// An 8-bit PNG without metadata.
static inline int mw_save_png8(VipsImage *in, void **buf, size_t *len) {
    return vips_pngsave_buffer(in, buf, len, "strip", TRUE, "bitdepth", 8, NULL);
}
