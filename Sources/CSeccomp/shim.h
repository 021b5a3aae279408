// The helper processes' system-call filter, built with libseccomp. C because libseccomp's rule arguments are macros.
#ifndef MW_SECCOMP_SHIM_H
#define MW_SECCOMP_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Sets one resource limit (soft and hard); 0 on success, -errno on failure.
static inline int mw_set_rlimit(int resource, uint64_t value) {
    struct rlimit limit = { (rlim_t)value, (rlim_t)value };
    return setrlimit((__rlimit_resource_t)resource, &limit) == 0 ? 0 : -errno;
}

static inline int mw_rlimit_data(void) { return RLIMIT_DATA; }
static inline int mw_rlimit_core(void) { return RLIMIT_CORE; }
static inline int mw_rlimit_nofile(void) { return RLIMIT_NOFILE; }
static inline int mw_rlimit_fsize(void) { return RLIMIT_FSIZE; }

/// pipe2(2) (a GNU extension the Swift Glibc module does not show).
static inline int mw_pipe2(int fds[2], int flags) {
    return syscall(SYS_pipe2, fds, flags) == 0 ? 0 : -errno;
}

/// Sets a pipe's capacity (F_SETPIPE_SZ); the kernel may round it.
static inline int mw_set_pipe_size(int fd, int bytes) {
    return fcntl(fd, 1024 + 7, bytes);
}

/// posix_spawn closes every descriptor from `first` up in the child (glibc 2.34+).
static inline int mw_spawn_close_from(posix_spawn_file_actions_t *actions, int first) {
    return posix_spawn_file_actions_addclosefrom_np(actions, first);
}

/// POSIX_SPAWN_SETSID: the helper leads a session of its own (no controlling terminal to inject keys into).
/// (glibc 2.26+ defines it only under _GNU_SOURCE: 0x80.)
static inline short mw_spawn_setsid_flag(void) {
#ifdef POSIX_SPAWN_SETSID
    return POSIX_SPAWN_SETSID;
#else
    return 0x80;
#endif
}

/// The helper's memory cannot be read by a sibling (ptrace, /proc/PID/mem), and it leaves no core.
static inline int mw_not_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno;
}

/// The helper dies with its parent (checked against the parent's pid to close the race with an early death).
static inline int mw_die_with_parent(pid_t parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -errno;
    return getppid() == parent ? 0 : -ESRCH;
}

static inline int mw_no_new_privs(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

/// Loads a deny-list filter: every call below fails with EPERM (ENOSYS for the ones whose arguments a filter
/// cannot read, so libc falls back to a checked variant). What stays allowed: reading files, memory, threads,
/// the pipes the helper already holds. Returns 0, or a negative errno from libseccomp.
static inline int mw_seccomp_load(void) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return -ENOMEM;
    int rc = 0;
    const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
#define MW_DENY(name) do { int r = seccomp_rule_add(ctx, deny, SCMP_SYS(name), 0); if (r < 0 && r != -EDOM && r != -EFAULT) rc = r; } while (0)
#define MW_DENY_IF(name, ...) do { int r = seccomp_rule_add(ctx, deny, SCMP_SYS(name), __VA_ARGS__); if (r < 0 && r != -EDOM && r != -EFAULT) rc = r; } while (0)
    // Network.
    MW_DENY(socket); MW_DENY(socketpair); MW_DENY(connect); MW_DENY(bind); MW_DENY(listen);
    MW_DENY(accept); MW_DENY(accept4);
    // Programs and processes: no exec, no fork (threads only: clone must carry CLONE_THREAD).
    MW_DENY(execve); MW_DENY(execveat); MW_DENY(fork); MW_DENY(vfork);
    MW_DENY_IF(clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    { int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); if (r < 0 && r != -EDOM) rc = r; }
    // Signals only to itself (raise and abort use tgkill on its own pid).
    pid_t self = getpid();
    MW_DENY_IF(kill, 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self));
    MW_DENY_IF(tgkill, 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self));
    MW_DENY_IF(rt_sigqueueinfo, 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self));
    MW_DENY_IF(rt_tgsigqueueinfo, 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self));
    MW_DENY(tkill); MW_DENY(pidfd_send_signal);
    // No file writes: opening for writing or creating, and every call that changes the file system.
    const int writeFlags[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND };
    for (unsigned i = 0; i < sizeof writeFlags / sizeof writeFlags[0]; i++) {
        scmp_datum_t f = (scmp_datum_t)writeFlags[i];
        MW_DENY_IF(open, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, f, f));
        MW_DENY_IF(openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, f, f));
    }
    { int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0); if (r < 0 && r != -EDOM) rc = r; }
    MW_DENY(creat); MW_DENY(unlink); MW_DENY(unlinkat); MW_DENY(rename); MW_DENY(renameat); MW_DENY(renameat2);
    MW_DENY(mkdir); MW_DENY(mkdirat); MW_DENY(rmdir); MW_DENY(link); MW_DENY(linkat); MW_DENY(symlink);
    MW_DENY(symlinkat); MW_DENY(chmod); MW_DENY(fchmod); MW_DENY(fchmodat); MW_DENY(chown); MW_DENY(fchown);
    MW_DENY(lchown); MW_DENY(fchownat); MW_DENY(truncate); MW_DENY(mknod); MW_DENY(mknodat);
    MW_DENY(setxattr); MW_DENY(lsetxattr); MW_DENY(fsetxattr); MW_DENY(removexattr); MW_DENY(lremovexattr);
    MW_DENY(fremovexattr); MW_DENY(utime); MW_DENY(utimes); MW_DENY(utimensat); MW_DENY(futimesat);
    // Other processes, the kernel's attack surface, privileges.
    MW_DENY(ptrace); MW_DENY(process_vm_readv); MW_DENY(process_vm_writev); MW_DENY(pidfd_open);
    MW_DENY(pidfd_getfd); MW_DENY(mount); MW_DENY(umount2); MW_DENY(pivot_root); MW_DENY(chroot);
    MW_DENY(setns); MW_DENY(unshare); MW_DENY(reboot); MW_DENY(swapon); MW_DENY(swapoff); MW_DENY(kexec_load);
    MW_DENY(init_module); MW_DENY(finit_module); MW_DENY(delete_module); MW_DENY(bpf); MW_DENY(perf_event_open);
    MW_DENY(userfaultfd); MW_DENY(io_uring_setup); MW_DENY(io_uring_enter); MW_DENY(io_uring_register);
    MW_DENY(keyctl); MW_DENY(add_key); MW_DENY(request_key); MW_DENY(personality); MW_DENY(quotactl);
    MW_DENY(acct); MW_DENY(settimeofday); MW_DENY(clock_settime); MW_DENY(sethostname); MW_DENY(setdomainname);
    MW_DENY(iopl); MW_DENY(ioperm); MW_DENY(setuid); MW_DENY(setgid); MW_DENY(setreuid); MW_DENY(setregid);
    MW_DENY(setresuid); MW_DENY(setresgid); MW_DENY(setgroups); MW_DENY(setrlimit);
    // getrlimit is prlimit64 without a new limit: only setting one is refused (root could raise a hard limit).
    MW_DENY_IF(prlimit64, 1, SCMP_A2(SCMP_CMP_NE, 0));
#undef MW_DENY
#undef MW_DENY_IF
    // Every thread of the helper (libvips, GLib and Foundation start some before the filter), not just this one.
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc;
}

#endif
