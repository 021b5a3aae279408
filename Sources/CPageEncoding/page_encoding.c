// See include/page_encoding.h.
#include "page_encoding.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
#include <zlib.h>
#include <libimagequant.h>

struct mw_jpeg_error {
    struct jpeg_error_mgr base;
    jmp_buf escape;
};

static void mw_jpeg_fail(j_common_ptr info) {
    struct mw_jpeg_error *error = (struct mw_jpeg_error *) info->err;
    longjmp(error->escape, 1);
}

static void mw_jpeg_silent(j_common_ptr info, int level) { (void) info; (void) level; }

mw_page_status mw_jpeg_encode(const unsigned char *samples, int width, int height, int components, int quality,
                              unsigned char **out, size_t *out_len) {
    if (!samples || width <= 0 || height <= 0 || width > 65500 || height > 65500 || (components != 1 && components != 3)
        || quality < 1 || quality > 100 || !out || !out_len)
        return MW_PAGE_BAD_ARGUMENT;
    struct jpeg_compress_struct info;
    struct mw_jpeg_error error;
    // libjpeg's memory destination grows this buffer (malloc) as it writes; its address is libjpeg's, so it lives in
    // memory and holds the current buffer when an error jumps back here.
    unsigned char *target = NULL;
    unsigned long size = 0;
    info.err = jpeg_std_error(&error.base);
    error.base.error_exit = mw_jpeg_fail;
    error.base.emit_message = mw_jpeg_silent;
    if (setjmp(error.escape)) {
        jpeg_destroy_compress(&info);
        free(target);
        return MW_PAGE_ENCODER_FAILED;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &target, &size);
    info.image_width = (JDIMENSION) width;
    info.image_height = (JDIMENSION) height;
    info.input_components = components;
    info.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    info.optimize_coding = TRUE;
    info.write_JFIF_header = TRUE;
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t) width * (size_t) components;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW) (samples + (size_t) info.next_scanline * stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *out = target;
    *out_len = (size_t) size;
    return MW_PAGE_OK;
}

mw_page_status mw_deflate(const unsigned char *in, size_t len, int level, unsigned char **out, size_t *out_len) {
    if ((!in && len) || level < 0 || level > 9 || !out || !out_len) return MW_PAGE_BAD_ARGUMENT;
    uLongf bound = compressBound((uLong) len);
    unsigned char *buffer = malloc(bound ? bound : 1);
    if (!buffer) return MW_PAGE_NO_MEMORY;
    if (compress2(buffer, &bound, in, (uLong) len, level) != Z_OK) {
        free(buffer);
        return MW_PAGE_ENCODER_FAILED;
    }
    *out = buffer;
    *out_len = (size_t) bound;
    return MW_PAGE_OK;
}

mw_page_status mw_quantize(const unsigned char *rgb, int width, int height, int max_colours, int speed, int min_quality, float dither,
                           unsigned char *indices, unsigned char *palette, int *colours) {
    if (!rgb || width <= 0 || height <= 0 || !indices || !palette || !colours) return MW_PAGE_BAD_ARGUMENT;
    size_t count = (size_t) width * (size_t) height;
    unsigned char *rgba = malloc(count * 4);
    if (!rgba) return MW_PAGE_NO_MEMORY;
    for (size_t i = 0; i < count; i++) {
        rgba[4 * i] = rgb[3 * i];
        rgba[4 * i + 1] = rgb[3 * i + 1];
        rgba[4 * i + 2] = rgb[3 * i + 2];
        rgba[4 * i + 3] = 255;
    }
    mw_page_status status = MW_PAGE_ENCODER_FAILED;
    liq_attr *attr = liq_attr_create();
    liq_image *image = NULL;
    liq_result *result = NULL;
    if (!attr) { free(rgba); return MW_PAGE_NO_MEMORY; }
    if (liq_set_max_colors(attr, max_colours) != LIQ_OK || liq_set_speed(attr, speed) != LIQ_OK
        || liq_set_quality(attr, min_quality, 100) != LIQ_OK) goto done;
    image = liq_image_create_rgba(attr, rgba, width, height, 0);
    if (!image || liq_image_quantize(image, attr, &result) != LIQ_OK) goto done;
    liq_set_dithering_level(result, dither);
    if (liq_write_remapped_image(result, image, indices, count) != LIQ_OK) goto done;
    const liq_palette *entries = liq_get_palette(result);
    if (!entries || entries->count < 1 || entries->count > 256) goto done;
    for (unsigned int c = 0; c < entries->count; c++) {
        palette[3 * c] = entries->entries[c].r;
        palette[3 * c + 1] = entries->entries[c].g;
        palette[3 * c + 2] = entries->entries[c].b;
    }
    *colours = (int) entries->count;
    status = MW_PAGE_OK;
done:
    if (result) liq_result_destroy(result);
    if (image) liq_image_destroy(image);
    liq_attr_destroy(attr);
    free(rgba);
    return status;
}
