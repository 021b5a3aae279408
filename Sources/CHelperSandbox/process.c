// Process-level calls for the helper sandbox that Swift's Glibc module does not show, or shows only as macros.
#define _GNU_SOURCE
#include "helper_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int mw_set_rlimit(int resource, uint64_t value) {
    struct rlimit limit = { (rlim_t)value, (rlim_t)value };
    return setrlimit((__rlimit_resource_t)resource, &limit) == 0 ? 0 : -errno;
}

int mw_rlimit_data(void) { return RLIMIT_DATA; }
int mw_rlimit_core(void) { return RLIMIT_CORE; }
int mw_rlimit_nofile(void) { return RLIMIT_NOFILE; }
int mw_rlimit_fsize(void) { return RLIMIT_FSIZE; }

int mw_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags) == 0 ? 0 : -errno;
}

int mw_set_pipe_size(int fd, int bytes) {
    return fcntl(fd, F_SETPIPE_SZ, bytes);
}

int mw_spawn_close_from(posix_spawn_file_actions_t *actions, int first) {
    return posix_spawn_file_actions_addclosefrom_np(actions, first);
}

short mw_spawn_setsid_flag(void) {
    return POSIX_SPAWN_SETSID;
}

int mw_not_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno;
}

int mw_is_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

int mw_die_with_parent(pid_t parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -errno;
    return getppid() == parent ? 0 : -ESRCH;
}

int mw_no_new_privs(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

long mw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return syscall(nr, a0, a1, a2, a3, a4, a5);
}
