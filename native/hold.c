/*
 * hold: a test's keeper of dead PIDs. `hold SECONDS CMD ARGS...` becomes a child subreaper, runs
 * CMD as its child (stdin /dev/null, SIGKILLed after SECONDS) and writes CMD's end to fd 3:
 * "exit N" or "signal N", a line. Then, until its stdin closes, it adopts what CMD left behind
 * (a runtime's create returns while the container runs on) and keeps each dead PID namespace
 * init as its zombie: a dead container's PID cannot pass to another process while the code under
 * test may still signal it. Other orphans are reaped as they die, since a namespace's init cannot
 * finish dying before every other process of its namespace is reaped; each one reaped is told on
 * fd 3 after CMD's end, a line "reaped PID exit N" or "reaped PID signal N". When stdin closes,
 * hold exits and init reaps what it held.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

/* Not yet reaped, the child still owns its PID: the kill cannot reach another process. */
static void time_up(int sig) {
  (void)sig;
  kill(child, SIGKILL);
}

static int read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return 0;
}

/* Whether PID is PID 1 of a namespace below hold's: its NSpid line has more than one number and ends in 1. */
static int namespace_init(int pid) {
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  if (read_file(path, text, sizeof text)) return 0;
  char *line = strstr(text, "\nNSpid:");
  if (!line) return 0;
  char *end = strchr(line + 1, '\n');
  if (end) *end = 0;
  char *last = strrchr(line, '\t');
  return last && last != strchr(line, '\t') && strcmp(last + 1, "1") == 0;
}

/* Reap every dead child of hold's but the namespace inits. */
static void reap_others(void) {
  DIR *proc = opendir("/proc");
  if (!proc) return;
  struct dirent *e;
  while ((e = readdir(proc))) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    int pid = atoi(e->d_name), ppid;
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_file(path, stat, sizeof stat)) continue;
    char *after = strrchr(stat, ')'), state;
    if (!after || sscanf(after + 2, "%c %d", &state, &ppid) != 2) continue;
    int status;
    if (ppid == getpid() && state == 'Z' && !namespace_init(pid) && waitpid(pid, &status, WNOHANG) == pid)
      dprintf(3, WIFEXITED(status) ? "reaped %d exit %d\n" : "reaped %d signal %d\n", pid, WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
  closedir(proc);
}

int main(int argc, char **argv) {
  int seconds = argc > 2 ? atoi(argv[1]) : 0;
  if (seconds <= 0) {
    fprintf(stderr, "usage: hold SECONDS CMD [ARGS...] (CMD's end goes to fd 3; hold exits when stdin closes)\n");
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
    perror("hold: prctl(PR_SET_CHILD_SUBREAPER, 1)");
    return 1;
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL); /* before the fork: no orphan's death goes unnoticed */
  int deaths = signalfd(-1, &chld, SFD_CLOEXEC);
  if (deaths < 0) {
    perror("hold: signalfd");
    return 1;
  }
  child = fork();
  if (child < 0) {
    perror("hold: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    int null = open("/dev/null", O_RDONLY); /* stdin is hold's line to its caller */
    if (null < 0 || dup2(null, 0) < 0) _exit(127);
    close(null);
    close(3);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "hold: execvp %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  signal(SIGALRM, time_up);
  alarm((unsigned)seconds);
  int status;
  while (waitpid(child, &status, 0) < 0) {}
  alarm(0);
  dprintf(3, WIFEXITED(status) ? "exit %d\n" : "signal %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  struct pollfd fds[2] = { { .fd = 0, .events = POLLIN }, { .fd = deaths, .events = POLLIN } };
  for (;;) {
    reap_others();
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return 1;
    if (fds[1].revents) {
      struct signalfd_siginfo info;
      while (read(deaths, &info, sizeof info) < 0 && errno == EINTR) {}
    }
    if (fds[0].revents) {
      char buf[256];
      if (read(0, buf, sizeof buf) <= 0) return 0;
    }
  }
}
