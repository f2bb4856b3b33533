/*
 * filters: print the classic BPF seccomp filters a process runs under, so a test can run the
 * program a real runtime loaded. `filters PID` attaches with PTRACE_SEIZE (the process is not
 * signalled), stops it with PTRACE_INTERRUPT, reads each filter with PTRACE_SECCOMP_GET_FILTER
 * from index 0 (the filter installed last) until ENOENT, and detaches, which lets it run on; if
 * this program dies first, the kernel detaches it the same way. Each filter is one line on stdout:
 * the hex of its struct sock_filter array, as the kernel keeps it.
 * Needs CAP_SYS_ADMIN, and this process under no seccomp filter of its own (else EACCES); a
 * kernel without CONFIG_CHECKPOINT_RESTORE does not know the request (EIO). Exit 0, or 1 with
 * "filters: CALL: strerror" on stderr; a process that has exited (a zombie, as runc's init is
 * when the profile killed it) is named as such instead of the EPERM the kernel gives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static int failed(const char *call) {
  fprintf(stderr, "filters: %s: %s\n", call, strerror(errno));
  return 1;
}

/* Whether `pid` has exited and waits to be reaped: state Z (or X) in /proc/PID/stat. */
static int exited(pid_t pid) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int found = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  const char *end = found ? strrchr(line, ')') : NULL; /* the name may hold spaces and parentheses */
  return end && (end[2] == 'Z' || end[2] == 'X');
}

/* Print every filter of the stopped tracee; 0 once the kernel says there is no next one. */
static int dump(pid_t pid) {
  for (long index = 0;; index++) {
    long count = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)index, NULL);
    if (count < 0) return errno == ENOENT ? 0 : failed("PTRACE_SECCOMP_GET_FILTER");
    struct sock_filter *program = calloc(count, sizeof *program);
    if (!program) return failed("calloc");
    if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)index, program) != count) {
      free(program);
      return failed("PTRACE_SECCOMP_GET_FILTER");
    }
    const unsigned char *bytes = (const unsigned char *)program;
    for (size_t i = 0; i < count * sizeof *program; i++) printf("%02x", bytes[i]);
    printf("\n");
    free(program);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: filters PID\n");
    return 2;
  }
  pid_t pid = (pid_t)atoi(argv[1]);
  if (pid <= 0) {
    fprintf(stderr, "filters: not a PID: %s\n", argv[1]);
    return 2;
  }
  if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) {
    // A zombie cannot be traced: the kernel says EPERM, which reads like a lack of privilege.
    if (errno == EPERM && exited(pid)) {
      fprintf(stderr, "filters: PTRACE_SEIZE: process %d has exited (a zombie), so it has no filters left to read: did the profile allow every call runc's init makes between loading its filters and its exec?\n", (int)pid);
      return 1;
    }
    return failed("PTRACE_SEIZE");
  }
  // The requests below need the tracee in a ptrace stop; waitpid sees the stop of a non-child tracee only with __WALL.
  int status;
  if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0 || waitpid(pid, &status, __WALL) < 0) {
    int e = errno;
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    errno = e;
    return failed("PTRACE_INTERRUPT");
  }
  int r = WIFSTOPPED(status) ? dump(pid) : (errno = ESRCH, failed("waitpid"));
  if (WIFSTOPPED(status) && ptrace(PTRACE_DETACH, pid, NULL, NULL) < 0) return failed("PTRACE_DETACH");
  fflush(stdout);
  return r;
}
