// libseccomp's header, for the helper sandbox's C target (CHelperSandbox), the only code that uses it.
#ifndef MW_SECCOMP_SHIM_H
#define MW_SECCOMP_SHIM_H
#include <seccomp.h>
#endif
