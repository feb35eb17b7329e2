/* Escape/abuse attempts run inside a container by tests/integration/test_privileges.py.
 *
 * `checker NAME...` runs each named attempt and prints one line per attempt:
 * "NAME=ok" when the call succeeded, "NAME=EPERM" (errno name) when it failed,
 * or "NAME=<value>" for the probes that report a value.  `checker all` runs every one.
 * Raw syscall(2) is used so that the C library cannot emulate or hide a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <netinet/in.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *ename(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOTDIR: return "ENOTDIR";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EBUSY: return "EBUSY";
    case ENOMEM: return "ENOMEM";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}

static void report(const char *name, long rc) {
    if (rc < 0)
        printf("%s=%s\n", name, ename(errno));
    else
        printf("%s=ok\n", name);
}

/* The result of a call made in a child process (for calls that could change us). */
static void in_child(const char *name, long (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long rc = fn();
        _exit(rc < 0 ? (errno & 0xff) : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        printf("%s=ok\n", name);
    else if (WIFEXITED(st))
        printf("%s=%s\n", name, ename(WEXITSTATUS(st)));
    else
        printf("%s=signal%d\n", name, WTERMSIG(st));
}

static long open_write(const char *path) {
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return -1;
}

static long drop_caps(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    return syscall(SYS_capset, &h, d);
}

static long do_unshare_user(void) { return unshare(CLONE_NEWUSER); }
static long do_unshare_mnt(void) { return unshare(CLONE_NEWNS); }
static long do_unshare_net(void) { return unshare(CLONE_NEWNET); }

static long do_clone_newuser(void) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return pid < 0 ? -1 : 0;
}

static long do_clone3(void) {
    uint64_t args[11];
    memset(args, 0, sizeof args);
    args[4] = SIGCHLD; /* exit_signal */
    long pid = syscall(435 /* clone3 */, args, sizeof args);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return pid < 0 ? -1 : 0;
}

/* Without capabilities (a compromised, unprivileged process), attach to PID 1. */
static long do_ptrace_pid1(void) {
    if (drop_caps() < 0)
        return -1;
    long rc = ptrace(PTRACE_ATTACH, 1, 0, 0);
    if (rc == 0)
        ptrace(PTRACE_DETACH, 1, 0, 0);
    return rc;
}

static long do_sethostname(void) { return sethostname("escaped", 7); }

static long do_settime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return syscall(SYS_clock_settime, CLOCK_REALTIME, &ts);
}

static long do_settimeofday(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return syscall(SYS_settimeofday, &tv, NULL);
}

static long do_mount_tmpfs(void) { return mount("none", "/tmp", "tmpfs", 0, NULL); }
static long do_mount_proc(void) { return mount("proc", "/mnt", "proc", 0, NULL); }
static long do_umount_proc(void) { return umount2("/proc", MNT_DETACH); }

static long do_raw_socket(void) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

static long do_packet_socket(void) {
    int fd = socket(17 /* AF_PACKET */, SOCK_RAW, 0);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

static long do_vsock(void) {
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

static long do_chown_root_file(void) {
    int fd = open("/tmp/.chown-probe", O_CREAT | O_WRONLY, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    long rc = chown("/tmp/.chown-probe", 1234, 1234);
    unlink("/tmp/.chown-probe");
    return rc;
}

static long do_bind_low_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static void read_kcore(void) {
    int fd = open("/proc/kcore", O_RDONLY);
    if (fd < 0) {
        printf("kcore=%s\n", ename(errno));
        return;
    }
    char buf[64];
    long n = read(fd, buf, sizeof buf);
    if (n < 0)
        printf("kcore=%s\n", ename(errno));
    else
        printf("kcore=read%ld\n", n);
    close(fd);
}

static void count_procs(void) {
    /* Processes visible through /proc: the container's own (a new PID namespace). */
    FILE *f = popen("ls /proc", "r");
    int n = 0, max = 0;
    char line[64];
    while (f && fgets(line, sizeof line, f)) {
        int pid = atoi(line);
        if (pid > 0) {
            n++;
            if (pid > max)
                max = pid;
        }
    }
    if (f)
        pclose(f);
    printf("procs=%d\nmaxpid=%d\n", n, max);
}

static void status(void) {
    printf("nnp=%d\nseccomp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    printf("capeff=%08x%08x\n", d[1].effective, d[0].effective);
    printf("umask=%04o\n", umask(022));
}

/* read:PATH prints "read:PATH=readN" (bytes of a first read) or the errno name. */
static void read_path(const char *n, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s=%s\n", n, ename(errno));
        return;
    }
    char buf[64];
    long got = read(fd, buf, sizeof buf);
    if (got < 0)
        printf("%s=%s\n", n, ename(errno));
    else
        printf("%s=read%ld\n", n, got);
    close(fd);
}

static int run(const char *n) {
    uint64_t attr[16];
    memset(attr, 0, sizeof attr);
#define IS(x) (strcmp(n, x) == 0)
    if (strncmp(n, "read:", 5) == 0) read_path(n, n + 5);
    else if (strncmp(n, "write:", 6) == 0) report(n, open_write(n + 6));
    else if (IS("status")) status();
    else if (IS("procs")) count_procs();
    else if (IS("kcore")) read_kcore();
    else if (IS("keyctl")) report(n, syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0));
    else if (IS("add_key")) report(n, syscall(SYS_add_key, "user", "nsbox", "x", 1, -3));
    else if (IS("request_key")) report(n, syscall(SYS_request_key, "user", "nsbox", NULL, 0));
    else if (IS("bpf")) report(n, syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, 48));
    else if (IS("perf_event_open")) report(n, syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
    else if (IS("kexec_load")) report(n, syscall(SYS_kexec_load, 0, 0, NULL, 0));
    else if (IS("kexec_file_load")) report(n, syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
    else if (IS("open_by_handle_at")) report(n, syscall(SYS_open_by_handle_at, AT_FDCWD, attr, O_RDONLY));
    else if (IS("init_module")) report(n, syscall(SYS_init_module, attr, 8, ""));
    else if (IS("finit_module")) report(n, syscall(SYS_finit_module, 0, "", 0));
    else if (IS("delete_module")) report(n, syscall(SYS_delete_module, "nsbox_none", O_NONBLOCK));
    else if (IS("reboot")) report(n, syscall(SYS_reboot, 0xfee1dead, 0x28121969, 0x4321fedc /* POWER_OFF */, 0));
    else if (IS("swapon")) report(n, syscall(SYS_swapon, "/nonexistent", 0));
    else if (IS("syslog")) report(n, syscall(SYS_syslog, 3 /* READ_ALL */, attr, sizeof attr));
    else if (IS("acct")) report(n, syscall(SYS_acct, NULL));
    else if (IS("iopl")) report(n, syscall(SYS_iopl, 3));
    else if (IS("io_uring_setup")) report(n, syscall(425, 1, attr));
    else if (IS("userfaultfd")) report(n, syscall(SYS_userfaultfd, 0));
    else if (IS("personality")) report(n, syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */));
    else if (IS("setns")) report(n, syscall(SYS_setns, open("/proc/1/ns/mnt", O_RDONLY), 0));
    else if (IS("mount")) in_child(n, do_mount_tmpfs);
    else if (IS("mount_proc")) in_child(n, do_mount_proc);
    else if (IS("umount")) in_child(n, do_umount_proc);
    else if (IS("unshare_user")) in_child(n, do_unshare_user);
    else if (IS("unshare_mnt")) in_child(n, do_unshare_mnt);
    else if (IS("unshare_net")) in_child(n, do_unshare_net);
    else if (IS("clone_newuser")) in_child(n, do_clone_newuser);
    else if (IS("clone3")) in_child(n, do_clone3);
    else if (IS("ptrace_pid1")) in_child(n, do_ptrace_pid1);
    else if (IS("sethostname")) in_child(n, do_sethostname);
    else if (IS("settime")) in_child(n, do_settime);
    else if (IS("settimeofday")) in_child(n, do_settimeofday);
    else if (IS("sysctl")) report(n, open_write("/proc/sys/kernel/hostname"));
    else if (IS("core_pattern")) report(n, open_write("/proc/sys/kernel/core_pattern"));
    else if (IS("sysrq")) report(n, open_write("/proc/sysrq-trigger"));
    else if (IS("sysfs")) report(n, open_write("/sys/kernel/profiling"));
    else if (IS("raw_socket")) report(n, do_raw_socket());
    else if (IS("packet_socket")) report(n, do_packet_socket());
    else if (IS("vsock")) report(n, do_vsock());
    else if (IS("chown")) report(n, do_chown_root_file());
    else if (IS("bind80")) report(n, do_bind_low_port());
    else {
        fprintf(stderr, "checker: unknown test %s\n", n);
        return 2;
    }
    return 0;
}

static const char *ALL[] = {
    "status", "procs", "kcore", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "kexec_load", "kexec_file_load", "open_by_handle_at", "init_module", "finit_module",
    "delete_module", "reboot", "swapon", "syslog", "acct", "iopl", "io_uring_setup", "userfaultfd",
    "personality", "setns", "mount", "mount_proc", "umount", "unshare_user", "unshare_mnt",
    "unshare_net", "clone_newuser", "clone3", "ptrace_pid1", "sethostname", "settime",
    "settimeofday", "sysctl", "core_pattern", "sysrq", "sysfs", "raw_socket", "packet_socket",
    "vsock", "chown", "bind80", NULL,
};

int main(int argc, char **argv) {
    int rc = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "all") == 0) {
            for (const char **t = ALL; *t; t++)
                rc |= run(*t);
        } else {
            rc |= run(argv[i]);
        }
    }
    return rc;
}
