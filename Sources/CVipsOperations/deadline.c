// Per-evaluation time limit: libvips emits "eval" between tiles; past the deadline the image is killed, so the
// running evaluation stops with an error instead of running on.
#include "vips_operations.h"

static void mw_deadline_eval(VipsImage *image, VipsProgress *progress, void *user) {
    (void) progress;
    MwDeadline *deadline = (MwDeadline *) user;
    // libvips emits "eval" from its worker threads at once: the flag is read and set atomically (ThreadSanitizer
    // found the plain int racing); the caller reads it after the evaluation has ended.
    if (!__atomic_load_n(&deadline->fired, __ATOMIC_RELAXED) && g_get_monotonic_time() > deadline->deadline_us) {
        __atomic_store_n(&deadline->fired, 1, __ATOMIC_RELAXED);
        vips_image_set_kill(image, TRUE);
    }
}

const MwDeadline *mw_watch_deadline(VipsImage *image, gint64 deadline_us) {
    MwDeadline *deadline = g_new0(MwDeadline, 1);
    deadline->deadline_us = deadline_us;
    g_object_set_data_full(G_OBJECT(image), "mw-deadline", deadline, g_free);
    vips_image_set_progress(image, TRUE);
    g_signal_connect(image, "eval", G_CALLBACK(mw_deadline_eval), deadline);
    return deadline;
}

gint64 mw_monotonic_us(void) { return g_get_monotonic_time(); }
