#include <stdlib.h>
#include <opusfile.h>

// libopus 1.3.1 (Debian bookworm) runs `cpuid` on every opus_multistream_decode_float() call, which is
// what libopusfile decodes with; under a hypervisor cpuid traps and that alone took ~30% of a voice
// note's conversion. For the common mono/stereo streams (channel mapping family 0) this decode
// callback decodes each packet with a plain single-stream OpusDecoder instead (same libopus, same
// output gain); libopusfile still does the Ogg paging, links, holes, pre-skip and trimming.

typedef struct {
    OggOpusFile *file;
    OpusDecoder *decoder;
    int link;          // link the decoder was made for; -1 before the first packet
    int use_default;   // this link is not family 0: leave it to libopusfile
} MwOpusDirect;

static int mw_opus_direct_decode(void *ctx, OpusMSDecoder *ms, void *pcm, const ogg_packet *op,
                                 int nsamples, int nchannels, int format, int li) {
    MwOpusDirect *d = (MwOpusDirect *) ctx;
    (void) ms;
    if (d->link != li) {
        d->link = li;
        d->use_default = 1;
        if (d->decoder) { opus_decoder_destroy(d->decoder); d->decoder = NULL; }
        const OpusHead *head = op_head(d->file, li);
        if (head && head->mapping_family == 0 && head->channel_count == nchannels && nchannels <= 2) {
            int err = 0;
            d->decoder = opus_decoder_create(48000, nchannels, &err);
            if (d->decoder && err == OPUS_OK && opus_decoder_ctl(d->decoder, OPUS_SET_GAIN(head->output_gain)) == OPUS_OK)
                d->use_default = 0;
        }
    }
    if (d->use_default || format != OP_DEC_FORMAT_FLOAT) return OP_DEC_USE_DEFAULT;
    int n = opus_decode_float(d->decoder, op->packet, (opus_int32) op->bytes, (float *) pcm, nsamples, 0);
    if (n < 0) return OP_EBADPACKET;
    if (n != nsamples) return OP_EBADPACKET;
    return 0;
}

/// Installs the direct decoder on `file`; free it with mw_opus_direct_free after op_free.
static inline MwOpusDirect *mw_opus_direct_attach(OggOpusFile *file) {
    MwOpusDirect *d = (MwOpusDirect *) calloc(1, sizeof(MwOpusDirect));
    if (!d) return NULL;
    d->file = file;
    d->link = -1;
    op_set_decode_callback(file, mw_opus_direct_decode, d);
    return d;
}

static inline void mw_opus_direct_free(MwOpusDirect *d) {
    if (!d) return;
    if (d->decoder) opus_decoder_destroy(d->decoder);
    free(d);
}
