// libvips through pkg-config. Swift cannot call C variadic functions: the fixed-argument wrappers mediaworker needs
// are C in Sources/CVipsOperations. The one wrapper left here is a single line because the tests open images
// through it exactly as the pipeline does (they import this module).
#include <vips/vips.h>

/// Opens an image lazily (header only) from memory, sequential access, with the given fail_on level.
static inline VipsImage *mw_image_header(const void *buf, size_t len, int fail_on) { return vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", fail_on, NULL); }
