// libopus 1.3.1 (Debian bookworm) runs `cpuid` on every opus_multistream_decode_float() call, which is
// what libopusfile decodes with; under a hypervisor cpuid traps and that alone took ~30% of a voice
// note's conversion. For the common mono/stereo streams (channel mapping family 0) a decode callback
// decodes each packet with a plain single-stream OpusDecoder instead (same libopus, same output gain);
// libopusfile still does the Ogg paging, links, holes, pre-skip and trimming. Logic: opus_direct.c.
#ifndef MW_OPUS_DIRECT_H
#define MW_OPUS_DIRECT_H

#include <opusfile.h>

/// The decode callback's state (opaque: one per OggOpusFile).
typedef struct MwOpusDirect MwOpusDirect;

/// Installs the direct decoder on `file`; free it with mw_opus_direct_free after op_free. NULL without memory
/// (libopusfile then decodes as it would without it).
MwOpusDirect *mw_opus_direct_attach(OggOpusFile *file);

/// Frees the state (NULL is fine).
void mw_opus_direct_free(MwOpusDirect *direct);

#endif
