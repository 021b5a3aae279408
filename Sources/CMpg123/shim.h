// libmpg123 through pkg-config; its reader over memory is C in Sources/CAudioDecoding (mpg123_memory.c).
#include <sys/types.h>
#include <mpg123.h>
