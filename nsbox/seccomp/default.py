"""Docker's default seccomp profile (moby profiles/seccomp/default.json), as data.

Kept in Docker's own profile format (``archMap``, ``includes``/``excludes`` by
capability, architecture and minimum kernel) and turned into the OCI
``linux.seccomp`` form for each container by nsbox.seccomp.profile, exactly as
moby's setupSeccomp does.  Anything not allowed fails with EPERM
(defaultErrnoRet 1); clone3 fails with ENOSYS so that C libraries fall back to
clone(2), whose namespace flags the profile can inspect.

Relative to moby 20.10 (Debian 12's docker.io) this follows later moby releases:
io_uring_* are refused (moby 25: io_uring bypasses seccomp), AF_VSOCK sockets are
refused, bpf/perf_event_open also with CAP_BPF/CAP_PERFMON, and the newer
harmless calls (cachestat, fchmodat2, futex_wait/wake/requeue, map_shadow_stack)
are allowed.
"""

from __future__ import annotations

ALLOW = "SCMP_ACT_ALLOW"

ALWAYS = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
    "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
    "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64",
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
    "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
    "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect",
    "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
    "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
    "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall",
    "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat",
    "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
    "wait4", "waitid", "waitpid", "write", "writev",
)


def _caps(names: list[str], *caps: str) -> dict:
    return {"names": names, "action": ALLOW, "includes": {"caps": list(caps)}}


def _arches(names: list[str], *arches: str) -> dict:
    return {"names": names, "action": ALLOW, "includes": {"arches": list(arches)}}


# clone(2) flags a process without CAP_SYS_ADMIN may not pass: CLONE_NEWNS and
# CLONE_NEWCGROUP..CLONE_NEWNET (0x7E020000), i.e. no new namespaces.
CLONE_NS_MASK = 2114060288

PROFILE: dict = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_MIPS64", "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]},
        {"architecture": "SCMP_ARCH_MIPS64N32", "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"]},
        {"architecture": "SCMP_ARCH_MIPSEL64",
         "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]},
        {"architecture": "SCMP_ARCH_MIPSEL64N32",
         "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"]},
        {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
        {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": []},
    ],
    "syscalls": [
        {"names": list(ALWAYS), "action": ALLOW},
        {"names": ["socket"], "action": ALLOW, "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}],
         "comment": "every address family but AF_VSOCK (40)"},
        {"names": ["ptrace"], "action": ALLOW, "includes": {"minKernel": "4.8"},
         "comment": "before 4.8 ptrace could bypass seccomp"},
        *({"names": ["personality"], "action": ALLOW, "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]}
          for v in (0, 8, 131072, 131080, 4294967295)),
        _arches(["sync_file_range2", "swapcontext"], "ppc64le"),
        _arches(["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
                 "set_tls"], "arm", "arm64"),
        _arches(["arch_prctl"], "amd64", "x32"),
        _arches(["modify_ldt"], "amd64", "x32", "x86"),
        _arches(["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"], "s390", "s390x"),
        _arches(["riscv_flush_icache"], "riscv64"),
        _caps(["open_by_handle_at"], "CAP_DAC_READ_SEARCH"),
        _caps(["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
               "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
               "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
               "syslog", "umount", "umount2", "unshare"], "CAP_SYS_ADMIN"),
        {"names": ["clone"], "action": ALLOW,
         "args": [{"index": 0, "value": CLONE_NS_MASK, "op": "SCMP_CMP_MASKED_EQ"}],
         "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
        {"names": ["clone"], "action": ALLOW,
         "args": [{"index": 1, "value": CLONE_NS_MASK, "op": "SCMP_CMP_MASKED_EQ"}],
         "comment": "s390 parameter ordering for clone is different",
         "includes": {"arches": ["s390", "s390x"]}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "comment": "ENOSYS for clone3 on non-mips architectures",
         "excludes": {"caps": ["CAP_SYS_ADMIN"],
                      "arches": ["mips3l64n32", "mips64", "mips64n32", "mipsel", "mipsel64"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 89,
         "comment": "ENOSYS for clone3 on mips architectures",
         "includes": {"arches": ["mips3l64n32", "mips64", "mips64n32", "mipsel", "mipsel64"]},
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        _caps(["reboot"], "CAP_SYS_BOOT"),
        _caps(["chroot"], "CAP_SYS_CHROOT"),
        _caps(["delete_module", "init_module", "finit_module"], "CAP_SYS_MODULE"),
        _caps(["acct"], "CAP_SYS_PACCT"),
        _caps(["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
              "CAP_SYS_PTRACE"),
        _caps(["iopl", "ioperm"], "CAP_SYS_RAWIO"),
        _caps(["settimeofday", "stime", "clock_settime", "clock_settime64"], "CAP_SYS_TIME"),
        _caps(["vhangup"], "CAP_SYS_TTY_CONFIG"),
        _caps(["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], "CAP_SYS_NICE"),
        _caps(["syslog"], "CAP_SYSLOG"),
        _caps(["bpf"], "CAP_BPF"),
        _caps(["perf_event_open"], "CAP_PERFMON"),
    ],
}
