// The helper processes' system-call filter: an allow-list built with libseccomp.
//
// The list is what the decoders were seen to call after the lock-down over the whole fixture corpus, hostile
// files included (scripts/record-helper-syscalls.py records it into scripts/helper-syscalls.txt: 36 distinct
// calls over 90 fixtures), plus the calls of the same families that the C library makes on other paths (stat
// variants, vectored reads, sleeping, the Swift runtime's event loop). Every other call, including every number this filter does not know, fails with
// EPERM; a call from another architecture's table (x32, i386) kills the process. Arguments are checked where a
// call is harmless only in some forms: files open read-only, mappings of files are never shared and writable,
// fcntl takes no owner, signal, lock, lease or notification commands, clone makes threads only, signals go only
// to this process, prctl only names threads and reads, resource limits are only read, ioctl only asks terminals
// and pipes harmless questions.
#define _GNU_SOURCE
#include "helper_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/// Allowed with any arguments: they act only on this process, its memory, its own descriptors, or read time.
static const char *const allowed[] = {
    // Descriptors the helper holds (its pipes, files it opened read-only).
    "read", "write", "readv", "writev", "pread64", "preadv", "preadv2", "lseek", "close", "close_range",
    "fadvise64", "getpeername" /* FFmpeg asks whether a descriptor is a socket: ENOTSOCK */,
    "dup", "dup2", "dup3", "eventfd2", "poll", "ppoll",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    // libdispatch's event loop (the Swift runtime's, started before the lock-down) re-arms its timer on its own
    // thread at any time: refusing it is a trap (DISPATCH_INTERNAL_CRASH), not an error.
    "timerfd_create", "timerfd_settime", "timerfd_gettime",
    // File metadata and names (reads; Landlock and the mount namespace decide which files exist).
    "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs", "statfs", "getdents64", "readlink", "readlinkat",
    "access", "faccessat", "faccessat2", "getcwd",
    // Memory (mmap and mremap checked below for shared writable file mappings).
    "munmap", "mremap", "mprotect", "madvise", "brk", "mincore", "membarrier", "get_mempolicy",
    // Threads and their synchronisation.
    "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "sched_yield", "sched_getaffinity",
    "sched_getparam", "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "getpriority",
    // Signals to itself and their handling.
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "restart_syscall",
    // Identity and time (reads).
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "getpgrp", "getpgid", "getsid", "uname", "sysinfo", "getrusage", "times", "getrlimit", "getrandom",
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "exit", "exit_group",
};

/// Refused with ENOSYS rather than EPERM, so the C library falls back to an older call the filter can check.
static const char *const fall_back[] = { "clone3", "openat2" };

#define MW_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE)

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned count, const struct scmp_arg_cmp *args) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0;  // not a call of this architecture
    int rc = seccomp_rule_add_array(ctx, action, nr, count, args);
    return rc == -EDOM || rc == -EFAULT ? 0 : rc;  // a pseudo-call libseccomp cannot place on this architecture
}

#define MW_ALLOW_IF(name, ...) do { \
        const struct scmp_arg_cmp cmp[] = { __VA_ARGS__ }; \
        if (rc == 0) rc = add(ctx, SCMP_ACT_ALLOW, name, sizeof cmp / sizeof cmp[0], cmp); \
    } while (0)

static int build(scmp_filter_ctx ctx) {
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++) rc = add(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
    for (size_t i = 0; rc == 0 && i < sizeof fall_back / sizeof fall_back[0]; i++)
        rc = add(ctx, SCMP_ACT_ERRNO(ENOSYS), fall_back[i], 0, NULL);

    // Files open for reading only (no write, create, truncate or append; no O_TMPFILE).
    MW_ALLOW_IF("openat", SCMP_A2(SCMP_CMP_MASKED_EQ, MW_WRITE_FLAGS, 0));
    MW_ALLOW_IF("open", SCMP_A1(SCMP_CMP_MASKED_EQ, MW_WRITE_FLAGS, 0));
    // Mappings: private ones, or shared ones that cannot be written (a shared writable file mapping writes files).
    MW_ALLOW_IF("mmap", SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_SHARED, 0));
    MW_ALLOW_IF("mmap", SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, 0));
    // Threads only: a clone without CLONE_THREAD (a new process) or with a namespace flag is refused.
    MW_ALLOW_IF("clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID
                                 | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP, CLONE_THREAD));
    // Signals to this process only (raise and abort use tgkill on their own pid).
    scmp_datum_t self = (scmp_datum_t)getpid();
    MW_ALLOW_IF("kill", SCMP_A0(SCMP_CMP_EQ, self));
    MW_ALLOW_IF("tgkill", SCMP_A0(SCMP_CMP_EQ, self));
    MW_ALLOW_IF("rt_sigqueueinfo", SCMP_A0(SCMP_CMP_EQ, self));
    MW_ALLOW_IF("rt_tgsigqueueinfo", SCMP_A0(SCMP_CMP_EQ, self));
    // Limits are read, never set (prlimit64 with no new limit, on this process).
    MW_ALLOW_IF("prlimit64", SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
    // fcntl: descriptor flags and duplicates; O_ASYNC (signal-driven I/O) never set.
    const int fcntl_plain[] = { F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_GETPIPE_SZ, F_GET_SEALS };
    for (size_t i = 0; i < sizeof fcntl_plain / sizeof fcntl_plain[0]; i++)
        MW_ALLOW_IF("fcntl", SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_plain[i]));
    MW_ALLOW_IF("fcntl", SCMP_A1(SCMP_CMP_EQ, F_SETFL), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0));
    // prctl: thread and mapping names, and reading its own state. Never PR_SET_DUMPABLE or PR_SET_PDEATHSIG.
    const int prctl_plain[] = { PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_PDEATHSIG, PR_GET_NO_NEW_PRIVS,
                                PR_GET_SECCOMP, PR_CAPBSET_READ, 0x53564d41 /* PR_SET_VMA */ };
    for (size_t i = 0; i < sizeof prctl_plain / sizeof prctl_plain[0]; i++)
        MW_ALLOW_IF("prctl", SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctl_plain[i]));
    // ioctl: "is this a terminal" and pipe questions; never TIOCSTI and friends, never a device's own commands.
    const unsigned long ioctl_plain[] = { TCGETS, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX };
    for (size_t i = 0; i < sizeof ioctl_plain / sizeof ioctl_plain[0]; i++)
        MW_ALLOW_IF("ioctl", SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctl_plain[i]));
    return rc;
}

int mw_seccomp_load(void) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) return -ENOMEM;
    int rc = build(ctx);
    // Another architecture's system-call table (i386 through int 0x80, x32) is not in the filter: kill.
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    // Every thread of the helper (libvips, GLib and Foundation start some before the filter), not just this one.
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc;
}

long mw_seccomp_try(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -100000 - errno;
    pid_t pid = fork();
    if (pid < 0) { close(fds[0]); close(fds[1]); return -100000 - errno; }
    if (pid == 0) {
        close(fds[0]);
        long result = -200000;
        if (mw_no_new_privs() == 0 && mw_seccomp_load() == 0) {
            long r = syscall(nr, a0, a1, a2, a3, a4, a5);
            result = r < 0 ? -errno : r;
        }
        (void)!write(fds[1], &result, sizeof result);
        _exit(0);
    }
    close(fds[1]);
    long result = -300000;
    ssize_t n;
    do { n = read(fds[0], &result, sizeof result); } while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (n != (ssize_t)sizeof result) return WIFSIGNALED(status) ? -400000 - WTERMSIG(status) : -300000;
    return result;
}
