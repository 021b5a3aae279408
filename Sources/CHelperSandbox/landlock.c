// Landlock for helper processes, applied before main while the process still has one thread.
//
// Landlock binds the calling thread and the threads it creates later, never threads that already run. A helper's
// libvips, GLib and Swift runtime start threads during start-up, so the domain is entered here, in a constructor
// that runs before main (and before any of those threads), in processes whose first argument is `helper`. Reads
// are limited to what the decoders load (the system's /usr, a few files of /etc, the executable, the libraries it
// has mapped, its own /proc entry and a few devices); every write, every other read, TCP, signals to processes
// outside the domain and abstract UNIX sockets outside it are refused. The layer holds on its own: without the
// namespaces, the blob store, the database and the service's /proc files are still out of reach.
#define _GNU_SOURCE
#include "helper_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// The uapi as of Landlock ABI 7 (Debian 12's headers stop at ABI 2): names of our own, the kernel's numbers.
#define MW_LL_CREATE_RULESET_VERSION (1U << 0)
#define MW_LL_RULE_PATH_BENEATH 1
#define MW_LL_FS_EXECUTE (1ULL << 0)
#define MW_LL_FS_READ_FILE (1ULL << 2)
#define MW_LL_FS_READ_DIR (1ULL << 3)
#define MW_LL_FS_ABI1 ((1ULL << 13) - 1)   // execute … make_sym
#define MW_LL_FS_REFER (1ULL << 13)        // ABI 2
#define MW_LL_FS_TRUNCATE (1ULL << 14)     // ABI 3
#define MW_LL_FS_IOCTL_DEV (1ULL << 15)    // ABI 5
#define MW_LL_NET_BIND_TCP (1ULL << 0)     // ABI 4
#define MW_LL_NET_CONNECT_TCP (1ULL << 1)  // ABI 4
#define MW_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)  // ABI 6
#define MW_LL_SCOPE_SIGNAL (1ULL << 1)                // ABI 6

struct mw_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct mw_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

static mw_landlock_report report = { MW_LAYER_NOT_ATTEMPTED, 0, 0, 0, 0 };

mw_landlock_report mw_landlock_status(void) { return report; }

/// What libvips, poppler, fontconfig, libmagic, FFmpeg and the C and Swift runtimes read outside /usr.
static const char *const host_paths[] = {
    "/etc/ld.so.cache", "/etc/fonts", "/etc/magic", "/etc/magic.mime", "/etc/localtime", "/var/cache/fontconfig",
    "/sys/devices/system/cpu",
};

const char *mw_helper_host_path(int i) {
    return i >= 0 && (size_t)i < sizeof host_paths / sizeof host_paths[0] ? host_paths[i] : NULL;
}

/// Besides those: the system, a few devices, and this process's own /proc entry.
static const char *const fixed_paths[] = {
    "/usr", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/proc/self",
};

static int add_path(int ruleset, const char *path) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return 0;  // not on this system (or not bound into the sandbox): nothing to allow
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) == 0) {
        struct mw_path_beneath_attr rule = {
            .allowed_access = S_ISDIR(st.st_mode) ? (MW_LL_FS_READ_FILE | MW_LL_FS_READ_DIR) : MW_LL_FS_READ_FILE,
            .parent_fd = fd,
        };
        if (syscall(SYS_landlock_add_rule, ruleset, MW_LL_RULE_PATH_BENEATH, &rule, 0) == 0) {
            report.paths++;
        } else {
            rc = -errno;
        }
    }
    close(fd);
    return rc;
}

/// The directories of every file this process has mapped (its libraries) outside /usr, e.g. the Swift runtime.
static int add_mapped_library_dirs(int ruleset) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return 0;
    char line[PATH_MAX + 256], last[PATH_MAX] = "";
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');
        if (!path) continue;
        path[strcspn(path, "\n")] = 0;
        if (strncmp(path, "/usr/", 5) == 0) continue;
        char *slash = strrchr(path, '/');
        if (!slash || slash == path) continue;
        *slash = 0;
        if (strcmp(path, last) == 0) continue;
        snprintf(last, sizeof last, "%s", path);
        rc = add_path(ruleset, path);
    }
    fclose(maps);
    return rc;
}

static void fail(int error) {
    report.state = MW_LAYER_FAILED;
    report.error = error;
}

static void mw_landlock_apply(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, MW_LL_CREATE_RULESET_VERSION);
    if (abi < 0) {
        report.state = MW_LAYER_UNAVAILABLE;
        report.error = errno;
        return;
    }
    report.abi = (int)abi;
    struct mw_ruleset_attr attr = { .handled_access_fs = MW_LL_FS_ABI1 };
    if (abi >= 2) attr.handled_access_fs |= MW_LL_FS_REFER;
    if (abi >= 3) attr.handled_access_fs |= MW_LL_FS_TRUNCATE;
    if (abi >= 5) attr.handled_access_fs |= MW_LL_FS_IOCTL_DEV;
    if (abi >= 4) attr.handled_access_net = MW_LL_NET_BIND_TCP | MW_LL_NET_CONNECT_TCP;
    if (abi >= 6) attr.scoped = MW_LL_SCOPE_ABSTRACT_UNIX_SOCKET | MW_LL_SCOPE_SIGNAL;
    size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) { fail(errno); return; }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof fixed_paths / sizeof fixed_paths[0]; i++) rc = add_path(ruleset, fixed_paths[i]);
    for (int i = 0; rc == 0 && mw_helper_host_path(i); i++) rc = add_path(ruleset, mw_helper_host_path(i));
    if (rc == 0) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) { exe[n] = 0; rc = add_path(ruleset, exe); }
    }
    if (rc == 0) rc = add_mapped_library_dirs(ruleset);
    if (rc != 0) { close(ruleset); fail(-rc); return; }
    // Landlock needs no_new_privs (or CAP_SYS_ADMIN); the helper sets it again later, which is harmless.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        int error = errno;
        close(ruleset);
        fail(error);
        return;
    }
    close(ruleset);
    report.scoped = abi >= 6;
    report.state = MW_LAYER_ACTIVE;
}

/// The program's helper entry point, when it has one (`mediaworker` defines it in Swift; test programs do not).
extern int mw_helper_main(int argc, char **argv) __attribute__((weak));

/// Runs before main in every process of a program that links this target; acts only in helpers: Landlock first,
/// then, in a program that defines `mw_helper_main`, the helper itself, so that it never reaches an async `main`
/// (whose libdispatch threads would outlive the lock-down).
__attribute__((constructor)) static void mw_landlock_early(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc >= 2 && argv && argv[1] && strcmp(argv[1], "helper") == 0) {
        mw_landlock_apply();
        if (mw_helper_main) exit(mw_helper_main(argc, argv));
    }
}
