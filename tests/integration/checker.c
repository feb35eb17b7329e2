/* Escape/abuse attempts run inside a container by tests/integration/test_privileges.py
 * and test_escape_battery.py.
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
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <dirent.h>

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
    case EEXIST: return "EEXIST";
    case ENOTTY: return "ENOTTY";
    case EIO: return "EIO";
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

static long do_setns_pid1_mnt(void) {
    int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
    long rc = syscall(SYS_setns, fd, 0);
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
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


/* ---- device nodes, sockets, namespaces, clocks, raw I/O (issue 15's classes) ---- */

static long do_mknod(const char *path, mode_t kind, unsigned maj, unsigned min) {
    long rc = mknod(path, kind | 0600, makedev(maj, min));
    int e = errno;
    if (rc == 0)
        unlink(path);
    errno = e;
    return rc;
}

static long do_socket(int domain, int type, int proto) {
    int fd = socket(domain, type, proto);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

static long do_unshare_ipc(void) { return unshare(CLONE_NEWIPC); }
static long do_unshare_uts(void) { return unshare(CLONE_NEWUTS); }
static long do_unshare_pid(void) { return unshare(CLONE_NEWPID); }
static long do_unshare_cgroup(void) { return unshare(CLONE_NEWCGROUP); }
static long do_unshare_time(void) { return unshare(0x80 /* CLONE_NEWTIME */); }
static long do_mount_bind(void) { return mount("/", "/mnt", NULL, MS_BIND | MS_REC, NULL); }
static long do_fsopen(void) { return syscall(430 /* fsopen */, "tmpfs", 0); }
static long do_open_tree(void) { return syscall(428 /* open_tree */, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */); }
static long do_swapoff(void) { return syscall(SYS_swapoff, "/nonexistent"); }
static long do_ioperm(void) { return syscall(SYS_ioperm, 0x80, 1, 1); }

static long do_adjtimex(void) {
    struct timex t;
    memset(&t, 0, sizeof t);
    t.modes = ADJ_TICK;
    t.tick = 10000;
    return syscall(SYS_adjtimex, &t);
}

static long do_clock_adjtime(void) {
    struct timex t;
    memset(&t, 0, sizeof t);
    t.modes = ADJ_TICK;
    t.tick = 10000;
    return syscall(SYS_clock_adjtime, CLOCK_REALTIME, &t);
}

/* Enter a namespace of PID 1 through a pidfd (the modern way in, setns(2)). */
static long do_pidfd_setns(void) {
    long fd = syscall(434 /* pidfd_open */, 1, 0);
    if (fd < 0)
        return -1;
    long rc = syscall(SYS_setns, fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Ptrace of one's own child: the one kind of ptrace a default container keeps. */
static long do_ptrace_child(void) {
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    if (child < 0)
        return -1;
    long rc = ptrace(PTRACE_ATTACH, child, 0, 0);
    int e = errno;
    if (rc == 0) {
        waitpid(child, NULL, __WALL);
        ptrace(PTRACE_DETACH, child, 0, 0);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    errno = e;
    return rc;
}

/* Another process's memory and descriptors: pidfd_getfd, process_vm_readv, kcmp (CAP_SYS_PTRACE in the profile). */
static long do_pidfd_getfd(void) {
    long fd = syscall(434 /* pidfd_open */, 1, 0);
    if (fd < 0)
        return -1;
    long rc = syscall(438 /* pidfd_getfd */, fd, 0, 0);
    int e = errno;
    if (rc >= 0)
        close(rc);
    close(fd);
    errno = e;
    return rc;
}

static long do_process_vm_readv(void) {
    char buf[8], *remote = (char *)0x400000;
    struct { void *base; size_t len; } local = {buf, sizeof buf}, rem = {remote, sizeof buf};
    return syscall(SYS_process_vm_readv, 1, &local, 1, &rem, 1, 0);
}

static long do_kcmp(void) { return syscall(SYS_kcmp, 1, getpid(), 0 /* KCMP_FILE */, 0, 0); }

/* io_uring_enter/register on a bad fd: EBADF when allowed, EPERM when filtered. */
static long do_io_uring_enter(void) { return syscall(426, -1, 0, 0, 0, NULL, 0); }
static long do_io_uring_register(void) { return syscall(427, -1, 0, NULL, 0); }

/* kallsyms=zeros when every address shown is 0 (kptr_restrict / no CAP_SYSLOG). */
static void kernel_addresses(const char *n, const char *path, int field) {
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s=%s\n", n, ename(errno));
        return;
    }
    char line[512];
    int lines = 0, nonzero = 0;
    while (lines < 200 && fgets(line, sizeof line, f)) {
        char *tok = strtok(line, " \t\n");
        for (int i = 0; tok && i < field; i++)
            tok = strtok(NULL, " \t\n");
        if (!tok)
            continue;
        lines++;
        if (strtoull(tok, NULL, 16) != 0)
            nonzero++;
    }
    fclose(f);
    printf("%s=%s\n", n, lines == 0 ? "empty" : nonzero ? "addresses" : "zeros");
}

/* Anything under /sys/fs/cgroup writable: the hierarchies' roots and one level
 * below (v1 controllers): mkdir of a cgroup, cgroup.procs, release_agent. */
static int try_cgroup_dir(const char *dir, char *what, size_t len, int *mkdir_errno) {
    char p[512];
    snprintf(p, sizeof p, "%s/nsbox-escape-probe", dir);
    if (mkdir(p, 0755) == 0) {
        rmdir(p);
        snprintf(what, len, "mkdir:%s", dir);
        return 1;
    }
    if (*mkdir_errno == 0)
        *mkdir_errno = errno;
    const char *files[] = {"cgroup.procs", "release_agent", "notify_on_release", "cgroup.subtree_control", NULL};
    for (const char **f = files; *f; f++) {
        snprintf(p, sizeof p, "%s/%s", dir, *f);
        if (open_write(p) == 0) {
            snprintf(what, len, "write:%s", p);
            return 1;
        }
    }
    return 0;
}

static void cgroupfs(void) {
    char what[600] = "";
    int first_errno = 0;
    int found = try_cgroup_dir("/sys/fs/cgroup", what, sizeof what, &first_errno);
    DIR *d = opendir("/sys/fs/cgroup");
    struct dirent *e;
    while (!found && d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[300];
        snprintf(sub, sizeof sub, "/sys/fs/cgroup/%s", e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            found = try_cgroup_dir(sub, what, sizeof what, &first_errno);
    }
    if (d)
        closedir(d);
    if (found)
        printf("cgroupfs=ok %s\n", what);
    else
        printf("cgroupfs=%s\n", ename(first_errno));
}

/* File descriptors beyond stdio, in this process and in PID 1 (nsbox must leak none). */
static void host_fds(void) {
    const char *dirs[] = {"/proc/self/fd", "/proc/1/fd", NULL};
    int extra = 0;
    char seen[512] = "";
    for (const char **dp = dirs; *dp; dp++) {
        DIR *d = opendir(*dp);
        if (!d)
            continue;
        int own = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            int fd = atoi(e->d_name);
            if (fd <= 2 || ((dp == dirs || getpid() == 1) && fd == own))
                continue;
            char p[300], target[200] = "";
            snprintf(p, sizeof p, "%s/%s", *dp, e->d_name);
            long n = readlink(p, target, sizeof target - 1);
            target[n > 0 ? n : 0] = 0;
            extra++;
            size_t used = strlen(seen);
            snprintf(seen + used, sizeof seen - used, " %s->%s", p, target);
        }
        closedir(d);
    }
    printf("hostfds=%d%s\n", extra, seen);
}

/* Namespaces seen through /proc that are not ours (another process's way in). */
static void foreign_namespaces(void) {
    const char *kinds[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts", NULL};
    int foreign = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (atoi(e->d_name) <= 0)
            continue;
        for (const char **k = kinds; *k; k++) {
            char a[300], b[64];
            struct stat sa, sb;
            snprintf(a, sizeof a, "/proc/%s/ns/%s", e->d_name, *k);
            snprintf(b, sizeof b, "/proc/self/ns/%s", *k);
            if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino != sb.st_ino)
                foreign++;
        }
    }
    if (d)
        closedir(d);
    printf("foreign_ns=%d\n", foreign);
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
    else if (IS("setns")) report(n, do_setns_pid1_mnt());
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
    else if (IS("mknod_char")) report(n, do_mknod("/tmp/.nsbox-mem", S_IFCHR, 1, 1)); /* /dev/mem */
    else if (IS("mknod_block")) report(n, do_mknod("/tmp/.nsbox-sda", S_IFBLK, 8, 0));
    else if (IS("mknod_kmsg")) report(n, do_mknod("/tmp/.nsbox-kmsg", S_IFCHR, 1, 11));
    else if (IS("raw6_socket")) report(n, do_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
    else if (IS("raw_tcp_socket")) report(n, do_socket(AF_INET, SOCK_RAW, IPPROTO_TCP));
    else if (IS("packet_dgram")) report(n, do_socket(17 /* AF_PACKET */, SOCK_DGRAM, 0));
    else if (IS("ping_socket")) report(n, do_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
    else if (IS("unshare_ipc")) in_child(n, do_unshare_ipc);
    else if (IS("unshare_uts")) in_child(n, do_unshare_uts);
    else if (IS("unshare_pid")) in_child(n, do_unshare_pid);
    else if (IS("unshare_cgroup")) in_child(n, do_unshare_cgroup);
    else if (IS("unshare_time")) in_child(n, do_unshare_time);
    else if (IS("mount_bind")) in_child(n, do_mount_bind);
    else if (IS("fsopen")) report(n, do_fsopen());
    else if (IS("open_tree")) report(n, do_open_tree());
    else if (IS("swapoff")) report(n, do_swapoff());
    else if (IS("ioperm")) report(n, do_ioperm());
    else if (IS("adjtimex")) in_child(n, do_adjtimex);
    else if (IS("clock_adjtime")) in_child(n, do_clock_adjtime);
    else if (IS("pidfd_setns")) in_child(n, do_pidfd_setns);
    else if (IS("ptrace_child")) in_child(n, do_ptrace_child);
    else if (IS("pidfd_getfd")) in_child(n, do_pidfd_getfd);
    else if (IS("process_vm_readv")) in_child(n, do_process_vm_readv);
    else if (IS("kcmp")) report(n, do_kcmp());
    else if (IS("io_uring_enter")) report(n, do_io_uring_enter());
    else if (IS("io_uring_register")) report(n, do_io_uring_register());
    else if (IS("kallsyms")) kernel_addresses(n, "/proc/kallsyms", 0);
    else if (IS("modules_addr")) kernel_addresses(n, "/proc/modules", 5);
    else if (IS("cgroupfs")) cgroupfs();
    else if (IS("hostfds")) host_fds();
    else if (IS("foreign_ns")) foreign_namespaces();
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
    "vsock", "chown", "bind80", "mknod_char", "mknod_block", "mknod_kmsg", "raw6_socket", "raw_tcp_socket",
    "packet_dgram", "ping_socket", "unshare_ipc", "unshare_uts", "unshare_pid", "unshare_cgroup",
    "unshare_time", "mount_bind", "fsopen", "open_tree", "swapoff", "ioperm", "adjtimex", "clock_adjtime",
    "pidfd_setns", "pidfd_getfd", "process_vm_readv", "kcmp", "ptrace_child", "io_uring_enter", "io_uring_register", "kallsyms", "modules_addr",
    "cgroupfs", "hostfds", "foreign_ns", NULL,
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
