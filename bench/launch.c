/*
 * bench/launch.c: the benchmarks' process launcher (built by common.py, see README.md).
 *
 * Why C and not Python's os.fork/posix_spawn: a child's ru_maxrss starts at its
 * parent's peak RSS (fork copies mm->hiwater_rss; exec_mmap() folds the old mm's
 * high-water mark into signal->maxrss, also for a vfork child sharing our mm), so
 * a Python harness (~10 MiB) would put a 10 MiB floor under every runtime's
 * figure.  This launcher's RSS is a few hundred KiB, which the "floor" row shows.
 *
 * A server: reads requests from stdin, one per run, as NUL-terminated fields
 *     MNTNS \0 PATH \0 ARG1 \0 ... \0 \0        (an empty field ends a request)
 * MNTNS is "-" or a /proc/PID/ns/mnt to setns(2) into before execve (crun's view
 * of the cgroups, see common.py).  PATH is executed with ARG0 = PATH, the
 * launcher's environment, stdin and stdout on /dev/null, stderr inherited.
 * Replies one line per request on stdout:
 *     STATUS T0_NS T1_NS MAXRSS_KIB UTIME_US STIME_US MINFLT MAJFLT
 * STATUS is the raw wait status; T0/T1 are CLOCK_MONOTONIC just before fork(2)
 * and just after wait4(2) returned; the rest is wait4's rusage of the child
 * (which includes every descendant the child or its descendants reaped).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXARGS 256

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void child(const char *mntns, char **argv, int devnull, const char *cwd)
{
	if (strcmp(mntns, "-") != 0) {
		int fd = open(mntns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNS) < 0 || chdir(cwd) < 0) {
			perror("launch: setns");
			_exit(125);
		}
	}
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
		_exit(125);
	execv(argv[0], argv);
	fprintf(stderr, "launch: execv %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int main(void)
{
	char *fields[MAXARGS + 2];
	char cwd[4096];
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || !getcwd(cwd, sizeof cwd)) {
		perror("launch");
		return 1;
	}
	for (;;) {
		int n = 0;
		for (;;) {
			char *line = NULL;
			size_t cap = 0;
			ssize_t len = getdelim(&line, &cap, '\0', stdin);
			if (len <= 0) {
				free(line);
				return n ? 1 : 0; /* EOF: done (mid-request: an error) */
			}
			if (line[0] == '\0') {
				free(line);
				break;
			}
			if (n >= MAXARGS + 1) {
				fprintf(stderr, "launch: too many arguments\n");
				return 1;
			}
			fields[n++] = line;
		}
		if (n < 2) {
			fprintf(stderr, "launch: a request needs MNTNS and PATH\n");
			return 1;
		}
		fields[n] = NULL;
		fflush(stderr);
		long long t0 = now_ns();
		pid_t pid = fork();
		if (pid == 0)
			child(fields[0], fields + 1, devnull, cwd);
		if (pid < 0) {
			perror("launch: fork");
			return 1;
		}
		int status;
		struct rusage ru;
		while (wait4(pid, &status, 0, &ru) < 0) {
			if (errno != EINTR) {
				perror("launch: wait4");
				return 1;
			}
		}
		long long t1 = now_ns();
		printf("%d %lld %lld %ld %lld %lld %ld %ld\n", status, t0, t1, ru.ru_maxrss,
		       (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		       (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
		       ru.ru_minflt, ru.ru_majflt);
		fflush(stdout);
		for (int i = 0; i < n; i++)
			free(fields[i]);
	}
}
