// The single-stream Opus decode callback (why: include/opus_direct.h).
#include "opus_direct.h"

#include <stdlib.h>

struct MwOpusDirect {
    OggOpusFile *file;
    OpusDecoder *decoder;
    int link;          // link the decoder was made for; -1 before the first packet
    int use_default;   // this link is not family 0: leave it to libopusfile
};

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

MwOpusDirect *mw_opus_direct_attach(OggOpusFile *file) {
    MwOpusDirect *d = (MwOpusDirect *) calloc(1, sizeof(MwOpusDirect));
    if (!d) return NULL;
    d->file = file;
    d->link = -1;
    op_set_decode_callback(file, mw_opus_direct_decode, d);
    return d;
}

void mw_opus_direct_free(MwOpusDirect *d) {
    if (!d) return;
    if (d->decoder) opus_decoder_destroy(d->decoder);
    free(d);
}
