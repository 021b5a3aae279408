// libopusfile through pkg-config; the decode callback that bypasses libopus's per-call cpuid is C in
// Sources/CAudioDecoding (opus_direct.c).
#include <opusfile.h>
