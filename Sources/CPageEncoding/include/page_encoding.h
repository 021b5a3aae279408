// Encoding of pixels the parent has already checked, for the safe copies of PDFs: JPEG through libjpeg(-turbo)
// into memory, and zlib's deflate (a PDF's FlateDecode). Nothing here reads a file format: the input is packed
// 8-bit samples of a known size. Results are malloc'd (free with free()).
#ifndef MW_PAGE_ENCODING_H
#define MW_PAGE_ENCODING_H

#include <stddef.h>

typedef enum {
    MW_PAGE_OK = 0,
    MW_PAGE_BAD_ARGUMENT = 1,
    MW_PAGE_ENCODER_FAILED = 2,
    MW_PAGE_NO_MEMORY = 3,
} mw_page_status;

/// Baseline JPEG of `width` × `height` packed samples with `components` 1 (grey) or 3 (RGB), quality 1–100, 4:2:0
/// chroma subsampling for RGB, optimised Huffman tables, no JFIF extras beyond the APP0 header.
mw_page_status mw_jpeg_encode(const unsigned char *samples, int width, int height, int components, int quality,
                              unsigned char **out, size_t *out_len);

/// zlib (RFC 1950) stream of `len` bytes at `level` 0–9.
mw_page_status mw_deflate(const unsigned char *in, size_t len, int level, unsigned char **out, size_t *out_len);

/// At most `max_colours` (2–256) colours for packed 8-bit RGB (libimagequant at `speed` 1–10, dithering `dither` 0–1): `indices` (width ×
/// height bytes) and `palette` (3 × `*colours` bytes, at most 768) filled by the caller's buffers.
/// MW_PAGE_ENCODER_FAILED when the result would be below `min_quality` (0–100): a photo is better as a JPEG.
mw_page_status mw_quantize(const unsigned char *rgb, int width, int height, int max_colours, int speed, int min_quality, float dither,
                           unsigned char *indices, unsigned char *palette, int *colours);

#endif
