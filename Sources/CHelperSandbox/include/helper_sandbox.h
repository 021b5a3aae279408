// The helper processes' kernel-enforced confinement: resource limits, Landlock, the seccomp allow-list, and the
// few process calls Swift's Glibc module does not show. The logic lives in the .c files beside include/.
#ifndef MW_HELPER_SANDBOX_H
#define MW_HELPER_SANDBOX_H

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/syscall.h>  // SYS_* numbers for Swift callers of mw_syscall and mw_seccomp_try

/// What became of one layer: 0 on success, or a negative errno.
typedef enum {
    MW_LAYER_ACTIVE = 0,
    /// The kernel does not offer this layer (or this part of it): listed, never fatal.
    MW_LAYER_UNAVAILABLE = 1,
    /// The kernel offers it but refused to apply it.
    MW_LAYER_FAILED = 2,
    /// Not attempted in this process.
    MW_LAYER_NOT_ATTEMPTED = 3,
} mw_layer_state;

/// What the early (pre-main) Landlock step did in this process.
typedef struct {
    mw_layer_state state;
    /// The kernel's Landlock ABI version (0 when it has none).
    int abi;
    /// The errno of a failure.
    int error;
    /// Whether signals and abstract UNIX sockets are scoped to the helper (ABI 6 and later).
    int scoped;
    /// Read-only paths allowed (a rule was added for each).
    int paths;
} mw_landlock_report;

/// The i-th file or folder of the host a helper reads besides /usr, /dev and its own /proc (the dynamic loader's
/// cache, fontconfig, libmagic, the time zone, the CPU list); NULL past the end. bubblewrap binds exactly these,
/// and Landlock allows reading exactly these, so the two lists cannot drift apart.
const char *mw_helper_host_path(int i);

/// The report of the Landlock domain applied before main (helper processes only; see landlock.c).
mw_landlock_report mw_landlock_status(void);

/// Sets one resource limit (soft and hard); 0 on success, -errno on failure.
int mw_set_rlimit(int resource, uint64_t value);
int mw_rlimit_data(void);
int mw_rlimit_core(void);
int mw_rlimit_nofile(void);
int mw_rlimit_fsize(void);

/// pipe2(2) (a GNU extension the Swift Glibc module does not show); 0 or -errno.
int mw_pipe2(int fds[2], int flags);
/// Sets a pipe's capacity (F_SETPIPE_SZ); the kernel may round it.
int mw_set_pipe_size(int fd, int bytes);
/// posix_spawn closes every descriptor from `first` up in the child (glibc 2.34+).
int mw_spawn_close_from(posix_spawn_file_actions_t *actions, int first);
/// POSIX_SPAWN_SETSID: the helper leads a session of its own (no controlling terminal to inject keys into).
short mw_spawn_setsid_flag(void);

/// This process's memory and /proc files cannot be read by other processes of its user, and it leaves no core.
int mw_not_dumpable(void);
/// Whether this process is dumpable now (1) or not (0).
int mw_is_dumpable(void);
/// The helper dies with its parent (checked against the parent's pid to close the race with an early death).
int mw_die_with_parent(pid_t parent);
int mw_no_new_privs(void);

/// Loads the helper's seccomp allow-list on every thread; 0, or a negative errno from libseccomp.
int mw_seccomp_load(void);

/// A system call as the filter judges it, for the syscall matrix test: runs `nr` with the six arguments in a
/// child thread of a forked process that loaded the filter first, and returns the call's result or -errno.
/// (Forked so that the caller stays unfiltered.)
long mw_seccomp_try(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/// A raw system call with six arguments (Swift cannot call the variadic syscall(2)): the result, or -1 with errno.
long mw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

#endif
