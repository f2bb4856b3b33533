/*
 * minidocker-init: a container's PID 1 for `docker run --init`, in the way of docker-init
 * (tini). It runs the command as its child and then only does what the kernel asks of a
 * PID 1: it reaps every child that ends (orphans included, so no zombie piles up) and
 * passes the signals it gets on to the command, which, not being PID 1, gets the default
 * actions the kernel withholds from PID 1. It exits the way the command exits.
 *
 *   minidocker-init [--] COMMAND [ARG...]
 *
 * Static, so it runs in any root filesystem. Mechanism only: the daemon decides when to use it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    fprintf(stderr, "usage: minidocker-init [--] COMMAND [ARG...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "minidocker-init: fork: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[first], &argv[first]);
    fprintf(stderr, "minidocker-init: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig); /* the command decides what the signal means */
      continue;
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue; /* an orphan, reaped */
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return WEXITSTATUS(status);
    }
  }
}
