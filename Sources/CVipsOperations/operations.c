// Fixed-argument wrappers of libvips's variadic operations (see include/vips_operations.h).
#include "vips_operations.h"

int mw_thumbnail(const void *buf, size_t len, int size, const char *loader_options, const char *export_profile,
                 VipsImage **out) {
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

int mw_jpeg_shrunk(const void *buf, size_t len, int shrink, VipsImage **out) {
    return vips_jpegload_buffer((void *) buf, len, out, "shrink", shrink,
        "fail_on", VIPS_FAIL_ON_WARNING, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
}

int mw_thumbnail_image(VipsImage *in, int size, const char *export_profile, VipsImage **out) {
    if (export_profile)
        return vips_thumbnail_image(in, out, size, "height", size, "size", VIPS_SIZE_DOWN,
            "export_profile", export_profile, NULL);
    return vips_thumbnail_image(in, out, size, "height", size, "size", VIPS_SIZE_DOWN, NULL);
}

int mw_to_srgb8(VipsImage *in, VipsImage **out) {
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

int mw_flatten_white(VipsImage *in, VipsImage **out) {
    double white[3] = { 255.0, 255.0, 255.0 };
    VipsArrayDouble *background = vips_array_double_new(white, 3);
    int r = vips_flatten(in, out, "background", background, NULL);
    vips_area_unref(VIPS_AREA(background));
    return r;
}

int mw_save_webp(VipsImage *in, int quality, int effort, void **buf, size_t *len) {
    return vips_webpsave_buffer(in, buf, len, "Q", quality, "effort", effort, "strip", TRUE, NULL);
}

int mw_save_jpeg(VipsImage *in, int quality, void **buf, size_t *len) {
    return vips_jpegsave_buffer(in, buf, len, "Q", quality, "strip", TRUE,
        "optimize_coding", TRUE, NULL);
}

int mw_save_png(VipsImage *in, void **buf, size_t *len) {
    return vips_pngsave_buffer(in, buf, len, "strip", TRUE, NULL);
}

VipsImage *mw_image_full(const void *buf, size_t len) {
    return vips_image_new_from_buffer(buf, len, "", "fail_on", VIPS_FAIL_ON_WARNING, NULL);
}

int mw_autorot(VipsImage *in, VipsImage **out) { return vips_autorot(in, out, NULL); }

int mw_icc_to_srgb(VipsImage *in, VipsImage **out) {
    return vips_icc_transform(in, out, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_PERCEPTUAL, NULL);
}

int mw_resize(VipsImage *in, double scale, VipsImage **out) { return vips_resize(in, out, scale, NULL); }

VipsImage *mw_image_from_rgba(const void *data, int width, int height) {
    VipsImage *raw = vips_image_new_from_memory_copy(data, (size_t) width * height * 4, width, height, 4, VIPS_FORMAT_UCHAR);
    if (!raw) return NULL;
    VipsImage *out = NULL;
    int r = vips_copy(raw, &out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
    g_object_unref(raw);
    return r ? NULL : out;
}

int mw_n_pages(VipsImage *in) { return vips_image_get_n_pages(in); }

int mw_save_png8(VipsImage *in, void **buf, size_t *len) {
    return vips_pngsave_buffer(in, buf, len, "strip", TRUE, "bitdepth", 8, NULL);
}

int mw_pdf_page(const void *buf, size_t len, int page, double dpi, VipsImage **out) {
    return vips_pdfload_buffer((void *) buf, len, out, "page", page, "n", 1, "dpi", dpi, NULL);
}

int mw_pdf_n_pages(VipsImage *in) {
    int n = 1;
    if (vips_image_get_typeof(in, "n-pages") && vips_image_get_int(in, "n-pages", &n)) return 1;
    return n;
}

int mw_rgb8_pixels(VipsImage *in, void **buf, size_t *len) {
    VipsImage *srgb = NULL, *flat = NULL;
    if (mw_to_srgb8(in, &srgb)) return -1;
    if (vips_image_hasalpha(srgb)) {
        int r = mw_flatten_white(srgb, &flat);
        g_object_unref(srgb);
        if (r) return -1;
    } else {
        flat = srgb;
    }
    // Flatten leaves float pixels: exactly three 8-bit bands, or an error.
    if (vips_image_get_bands(flat) != 3 || vips_image_get_format(flat) != VIPS_FORMAT_UCHAR) {
        VipsImage *cast = NULL, *three = NULL;
        if (vips_extract_band(flat, &three, 0, "n", 3, NULL)) { g_object_unref(flat); return -1; }
        g_object_unref(flat);
        if (vips_cast(three, &cast, VIPS_FORMAT_UCHAR, NULL)) { g_object_unref(three); return -1; }
        g_object_unref(three);
        flat = cast;
    }
    *buf = vips_image_write_to_memory(flat, len);
    g_object_unref(flat);
    return *buf ? 0 : -1;
}
