// The libvips operations mediaworker needs, as fixed-argument C functions: Swift cannot call libvips's variadic
// functions (optional arguments are name/value pairs ending in NULL), so each call is spelled out once in C here.
// Results follow libvips's own convention: 0 on success, non-zero on failure with the reason in libvips's error
// buffer (read it with vips_error_buffer_copy); constructors return NULL on failure.
#ifndef MW_VIPS_OPERATIONS_H
#define MW_VIPS_OPERATIONS_H

#include <vips/vips.h>

// ---- thumbnails -------------------------------------------------------------------------------------------------

/// vips_thumbnail_buffer: longest side `size`, never upscaled, EXIF orientation applied.
/// `loader_options` reach the loader (libvips 8.14 does not forward thumbnail's own `fail_on` to
/// buffer loaders, so strictness is passed as "fail_on=warning" here).
int mw_thumbnail(const void *buf, size_t len, int size, const char *loader_options, const char *export_profile,
                 VipsImage **out);

/// JPEG decoded at 1/shrink scale by libjpeg's DCT scaling (shrink 1, 2, 4 or 8), strict, sequential.
int mw_jpeg_shrunk(const void *buf, size_t len, int shrink, VipsImage **out);

/// vips_thumbnail_image on an already-loaded (already shrunk) image.
int mw_thumbnail_image(VipsImage *in, int size, const char *export_profile, VipsImage **out);

/// Converts any interpretation (B_W, GREY16, RGB16, CMYK, ...) to 8-bit sRGB, keeping alpha.
int mw_to_srgb8(VipsImage *in, VipsImage **out);

/// Drops alpha onto white, for output formats without transparency.
int mw_flatten_white(VipsImage *in, VipsImage **out);

/// WebP, JPEG and PNG without metadata, into a g_malloc'd buffer (free with g_free).
int mw_save_webp(VipsImage *in, int quality, int effort, void **buf, size_t *len);
int mw_save_jpeg(VipsImage *in, int quality, void **buf, size_t *len);
int mw_save_png(VipsImage *in, void **buf, size_t *len);

// ---- the per-evaluation time limit (deadline.c) -----------------------------------------------------------------

/// A deadline on libvips's monotonic clock; `fired` once it stopped an evaluation.
typedef struct {
    gint64 deadline_us;
    int fired;
} MwDeadline;

/// Attaches a deadline (monotonic microseconds) to `image`; images built from it afterwards inherit it.
/// The returned struct lives as long as the image.
const MwDeadline *mw_watch_deadline(VipsImage *image, gint64 deadline_us);

/// libvips's monotonic clock (g_get_monotonic_time), microseconds.
gint64 mw_monotonic_us(void);

// ---- delivery images (operator files sent to WhatsApp as they are) ----------------------------------------------

/// The whole first frame, strict, random access (the delivery image is re-encoded at full size).
VipsImage *mw_image_full(const void *buf, size_t len);

/// EXIF orientation applied (and the orientation tag dropped).
int mw_autorot(VipsImage *in, VipsImage **out);

/// The embedded ICC profile applied, into sRGB.
int mw_icc_to_srgb(VipsImage *in, VipsImage **out);

/// Scaled by `scale` (< 1) with libvips's default kernel.
int mw_resize(VipsImage *in, double scale, VipsImage **out);

/// An 8-bit sRGB RGBA image copied from packed pixels.
VipsImage *mw_image_from_rgba(const void *data, int width, int height);

/// Frames in a GIF or WebP (1 for still images).
int mw_n_pages(VipsImage *in);

/// An 8-bit PNG without metadata.
int mw_save_png8(VipsImage *in, void **buf, size_t *len);

// ---- safe copies of PDFs (pages rendered to raw pixels inside a helper) ---------------------------------------

/// One page of a PDF, opened lazily (header only until its pixels are read) at `dpi`.
int mw_pdf_page(const void *buf, size_t len, int page, double dpi, VipsImage **out);

/// Pages in a PDF opened by mw_pdf_page (its "n-pages" field; 1 when absent).
int mw_pdf_n_pages(VipsImage *in);

/// The image flattened onto white as packed 8-bit RGB (width × height × 3 bytes) in a g_malloc'd buffer (free
/// with g_free). The image's deadline (mw_watch_deadline) stops the rendering.
int mw_rgb8_pixels(VipsImage *in, void **buf, size_t *len);

#endif
