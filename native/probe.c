/*
 * probe: a static program the tests run inside containers instead of parsing a shell's output.
 *
 * Usage: probe STEP [STEP...]   where a STEP is NAME or NAME:ARG (write takes NAME:FILE:TEXT).
 * Each step prints one line of JSON to stdout; a failing step prints {"step":..,"error":..}
 * and the probe exits 1. `argv` prints the remaining arguments and ends the list.
 *
 *   pid  hostname  id  cwd  env  ns  mounts  fds  cgroup   what the process sees
 *   tty   stdin's terminal (or null) and whether it is the session's controlling terminal
 *   ls:DIR  cat:FILE  write:FILE:TEXT  mkdir:DIR  stat:PATH   files
 *   out:TEXT  err:TEXT  argv ARGS...   stdio and arguments
 *   sleep:MS  exit:N  kill:SIG  wait-signal   time and endings
 *   alloc:MIB  fork:N  zombies:N  burn:MS  orphan   resources and processes
 *   storm:MS   chains of processes that fork their successor and exit, each after 1 ms, for MS ms
 *   listen:PORT  connect:HOST:PORT   TCP: one connection, its peer printed, one line echoed back
 *   udp-echo:PORT  udp:HOST:PORT        UDP: one datagram echoed back, its peer printed
 *   unix:PATH   a unix stream socket: "ping" sent, the reply printed (a daemon socket in reach)
 *   shm-create:KEY  shm-check:KEY  chroot-escape   namespaces and escapes
 *   status   the capability sets, NoNewPrivs and Seccomp lines of /proc/self/status
 *   personality:HEX  mount-tmpfs:DIR  unshare-user  open-write:FILE  read:FILE
 *            a system call tried: {"tried":NAME,"errno":null or "EPERM"...}; it does not
 *            stop the probe; open-write closes the file without writing to it
 *   syscall:NR[:ARG0]   system call number NR with ARG0 first (both decimal, ARG0 0 when left
 *            out) and zeros after, tried as above (only for calls a test knows are harmless so)
 *   seals:FILE   the seals of FILE (opened read-only, fcntl F_GET_SEALS), by name:
 *            {"seals":["seal","shrink","grow","write"]} ("future-write" too, when set)
 *   chroot:DIR   chroot(2) into DIR and chdir("/"): the later steps resolve paths there
 *   resolve:PATH   where the kernel's path lookup lands, as "DEV:INODE" or an errno name:
 *            {"resolve":PATH,"follow":..,"nofollow":..} (stat(2) and lstat(2) of PATH)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sched.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p == '\n') fputs("\\n", stdout);
    else if (*p == '\t') fputs("\\t", stdout);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void json_strs(char **v, int n) {
  putchar('[');
  for (int i = 0; i < n; i++) {
    if (i) putchar(',');
    json_str(v[i]);
  }
  putchar(']');
}

static int fail(const char *step, const char *what) {
  int e = errno;
  printf("{\"step\":");
  json_str(step);
  printf(",\"error\":");
  json_str(what);
  printf(",\"errno\":");
  json_str(strerrorname_np(e) ? strerrorname_np(e) : "0");
  printf("}\n");
  fflush(stdout);
  exit(1);
}

static void key_str(const char *key, const char *value) {
  printf("{\"%s\":", key);
  json_str(value);
  printf("}\n");
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted names in a directory, without . and .. */
static int list_dir(const char *path, char ***names) {
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0, cap = 64;
  *names = malloc(sizeof(char *) * (size_t)cap);
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n == cap) *names = realloc(*names, sizeof(char *) * (size_t)(cap *= 2));
    (*names)[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(*names, (size_t)n, sizeof(char *), cmp);
  return n;
}

static char *read_file(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (ssize_t n; (n = read(fd, buf + len, cap - len - 1)) > 0;)
    if ((len += (size_t)n) == cap - 1) buf = realloc(buf, cap *= 2);
  close(fd);
  buf[len] = 0;
  return buf;
}

static long num(const char *step, const char *arg) {
  char *end;
  if (!arg || !*arg) { errno = EINVAL; fail(step, "needs a number, as in STEP:N"); }
  long v = strtol(arg, &end, 10);
  if (*end) { errno = EINVAL; fail(step, "not a number"); }
  return v;
}

static double now_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void echo_line(int fd) {
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) (void)!write(fd, buf, (size_t)n);
}

static void step_ns(void) {
  static const char *kinds[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
  printf("{\"ns\":{");
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    char path[64], link[128] = "";
    snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n > 0) link[n] = 0;
    printf("%s\"%s\":", i ? "," : "", kinds[i]);
    json_str(link);
  }
  printf("}}\n");
}

static void step_chroot_escape(void) {
  /* The classic escape: a second chroot moves the root below the cwd, and ".." walks out. */
  mkdir(".probe-escape", 0755);
  if (chroot(".probe-escape")) fail("chroot-escape", "chroot(\".probe-escape\")");
  for (int i = 0; i < 64; i++) (void)!chdir("..");
  if (chroot(".")) fail("chroot-escape", "chroot(\".\")");
  char **names;
  int n = list_dir("/", &names);
  printf("{\"root\":");
  json_strs(names, n < 0 ? 0 : n);
  printf("}\n");
}

/* The outcome of a system call tried on purpose: the errno's name, or null when it worked. */
static void tried(const char *name, long result) {
  printf("{\"tried\":\"%s\",\"result\":%ld,\"errno\":", name, result);
  if (result < 0) printf("\"%s\"}\n", strerrorname_np(errno)); else printf("null}\n");
}

static void step_status(void) {
  static const char *keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
  char *text = read_file("/proc/self/status");
  if (!text) fail("status", "/proc/self/status");
  printf("{\"status\":{");
  int first = 1;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
      if (strcmp(line, keys[i])) continue;
      char *value = colon + 1;
      while (*value == ' ' || *value == '\t') value++;
      printf("%s\"%s\":", first ? "" : ",", line);
      json_str(value);
      first = 0;
    }
  }
  printf("}}\n");
}

/* The file a lookup of `path` reaches, as "DEV:INODE", or the errno's name when it fails. */
static void print_lookup(const char *key, const char *path, int follow) {
  struct stat st;
  printf(",\"%s\":", key);
  if ((follow ? stat(path, &st) : lstat(path, &st)) == 0) printf("\"%llu:%llu\"", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
  else json_str(strerrorname_np(errno));
}

static int step(char *name, char *arg, char **rest, int nrest) {
  if (!strcmp(name, "pid")) printf("{\"pid\":%d,\"ppid\":%d}\n", getpid(), getppid());
  else if (!strcmp(name, "tty")) {
    const char *tty = ttyname(0);
    printf("{\"tty\":");
    if (tty) printf("\"%s\"", tty); else printf("null");
    printf(",\"controlling\":%s}\n", tty && tcgetsid(0) == getsid(0) ? "true" : "false");
  } else if (!strcmp(name, "hostname")) {
    char h[256] = "";
    gethostname(h, sizeof h);
    key_str("hostname", h);
  } else if (!strcmp(name, "id")) {
    gid_t groups[64];
    int n = getgroups(64, groups);
    printf("{\"uid\":%d,\"gid\":%d,\"groups\":[", getuid(), getgid());
    for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", groups[i]);
    printf("]}\n");
  } else if (!strcmp(name, "cwd")) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) fail(name, "getcwd");
    key_str("cwd", cwd);
  } else if (!strcmp(name, "env")) {
    int n = 0;
    while (environ[n]) n++;
    printf("{\"env\":");
    json_strs(environ, n);
    printf("}\n");
  } else if (!strcmp(name, "ns")) step_ns();
  else if (!strcmp(name, "mounts") || !strcmp(name, "cgroup")) {
    char *text = read_file(!strcmp(name, "mounts") ? "/proc/self/mountinfo" : "/proc/self/cgroup");
    if (!text) fail(name, "cannot read /proc: is it mounted?");
    key_str(name, text);
  } else if (!strcmp(name, "fds")) {
    char **names;
    int n = list_dir("/proc/self/fd", &names);
    if (n < 0) fail(name, "opendir(\"/proc/self/fd\")");
    printf("{\"fds\":");
    json_strs(names, n);
    printf("}\n");
  } else if (!strcmp(name, "ls")) {
    char **names;
    int n = list_dir(arg && *arg ? arg : ".", &names);
    if (n < 0) fail(name, arg);
    printf("{\"ls\":");
    json_strs(names, n);
    printf("}\n");
  } else if (!strcmp(name, "cat")) {
    char *text = read_file(arg ? arg : "");
    if (!text) fail(name, arg ? arg : "");
    key_str("cat", text);
  } else if (!strcmp(name, "write")) {
    char *text = arg ? strchr(arg, ':') : NULL;
    if (!text) { errno = EINVAL; fail(name, "expected write:FILE:TEXT"); }
    *text++ = 0;
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) fail(name, arg);
    close(fd);
    key_str("wrote", arg);
  } else if (!strcmp(name, "mkdir")) {
    if (mkdir(arg ? arg : "", 0755)) fail(name, arg ? arg : "");
    key_str("made", arg);
  } else if (!strcmp(name, "stat")) {
    struct stat st;
    if (lstat(arg ? arg : "", &st)) fail(name, arg ? arg : "");
    printf("{\"mode\":%u,\"uid\":%u,\"gid\":%u,\"size\":%lld,\"rdev\":[%u,%u]}\n", st.st_mode,
           st.st_uid, st.st_gid, (long long)st.st_size, major(st.st_rdev), minor(st.st_rdev));
  } else if (!strcmp(name, "out") || !strcmp(name, "err")) {
    FILE *f = !strcmp(name, "out") ? stdout : stderr;
    fprintf(f, "%s\n", arg ? arg : "");
  } else if (!strcmp(name, "argv")) {
    printf("{\"argv\":");
    json_strs(rest, nrest);
    printf("}\n");
    return nrest; /* consumes the rest */
  } else if (!strcmp(name, "sleep")) {
    long ms = num(name, arg);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
    printf("{\"slept\":%ld}\n", ms);
  } else if (!strcmp(name, "exit")) {
    fflush(stdout);
    exit((int)num(name, arg));
  } else if (!strcmp(name, "kill")) {
    fflush(stdout);
    int sig = (int)num(name, arg);
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
    /* Still here: as PID 1 of a PID namespace, the kernel drops signals with no handler. */
    errno = EPERM;
    fail(name, getpid() == 1 ? "PID 1 of a namespace ignores signals it has no handler for"
                            : "the signal did not end the process");
  } else if (!strcmp(name, "wait-signal")) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    printf("{\"waiting\":%d}\n", getpid());
    fflush(stdout);
    int sig;
    sigwait(&all, &sig);
    printf("{\"signal\":%d}\n", sig);
  } else if (!strcmp(name, "alloc")) {
    long mib = num(name, arg);
    for (long i = 0; i < mib; i++) {
      char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) fail(name, "mmap");
      memset(p, 1, 1 << 20); /* touch every page, or nothing is charged */
    }
    printf("{\"allocated_mib\":%ld}\n", mib);
  } else if (!strcmp(name, "fork")) {
    long n = num(name, arg), made = 0;
    const char *err = NULL;
    pid_t pids[4096];
    for (; made < n && made < 4096; made++) {
      pid_t p = fork();
      if (p < 0) { err = strerrorname_np(errno); break; }
      if (p == 0) { pause(); _exit(0); }
      pids[made] = p;
    }
    for (long i = 0; i < made; i++) { kill(pids[i], SIGKILL); waitpid(pids[i], NULL, 0); }
    printf("{\"forked\":%ld,\"error\":", made);
    if (err) json_str(err); else fputs("null", stdout);
    printf("}\n");
  } else if (!strcmp(name, "zombies")) {
    long n = num(name, arg);
    for (long i = 0; i < n; i++)
      if (fork() == 0) _exit(0); /* never waited for */
    printf("{\"zombies\":%ld}\n", n);
  } else if (!strcmp(name, "storm")) {
    /* Four chains of processes, each forking its successor and exiting after a millisecond,
     * for MS ms: PIDs come and go by thousands a second. (With no pause at all, even runc's
     * v1 freeze gives up now and then: a task in the middle of exiting cannot be frozen.) */
    double ms = (double)num(name, arg), start = now_ms(CLOCK_MONOTONIC);
    struct timespec beat = {0, 1000000L};
    for (int i = 0; i < 4; i++)
      if (fork() == 0) {
        while (now_ms(CLOCK_MONOTONIC) - start < ms) {
          nanosleep(&beat, NULL);
          if (fork() > 0) _exit(0); /* a failed fork (the limit) is tried again */
        }
        _exit(0);
      }
    while (wait(NULL) > 0 || errno == EINTR) {} /* the orphans come to PID 1 of the namespace */
    printf("{\"stormed_ms\":%.0f}\n", ms);
  } else if (!strcmp(name, "burn")) {
    double ms = (double)num(name, arg), start = now_ms(CLOCK_MONOTONIC);
    volatile unsigned long x = 0;
    while (now_ms(CLOCK_MONOTONIC) - start < ms) x++;
    printf("{\"burned_ms\":%.0f,\"cpu_ms\":%.0f}\n", ms, now_ms(CLOCK_PROCESS_CPUTIME_ID));
  } else if (!strcmp(name, "orphan")) {
    /* Child forks a grandchild and exits; the grandchild says who adopted it. */
    int fds[2];
    if (pipe(fds)) fail(name, "pipe");
    pid_t child = fork();
    if (child == 0) {
      pid_t parent = getpid();
      if (fork() == 0) {
        while (getppid() == parent) usleep(1000);
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d", getppid());
        (void)!write(fds[1], buf, (size_t)n);
        _exit(0);
      }
      _exit(0);
    }
    close(fds[1]);
    waitpid(child, NULL, 0);
    char buf[32] = "";
    (void)!read(fds[0], buf, sizeof buf - 1);
    printf("{\"self\":%d,\"adopted_by\":%s}\n", getpid(), buf);
  } else if (!strcmp(name, "listen")) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)num(name, arg))};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) fail(name, "bind/listen");
    printf("{\"listening\":%d}\n", ntohs(a.sin_port));
    fflush(stdout);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &len);
    if (c < 0) fail(name, "accept");
    key_str("peer", inet_ntoa(peer.sin_addr));
    fflush(stdout);
    echo_line(c);
    close(c);
    close(s);
  } else if (!strcmp(name, "connect")) {
    char *port = arg ? strrchr(arg, ':') : NULL;
    if (!port) { errno = EINVAL; fail(name, "expected connect:HOST:PORT"); }
    *port++ = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)num(name, port))};
    if (inet_pton(AF_INET, arg, &a.sin_addr) != 1) { errno = EINVAL; fail(name, "bad address"); }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval limit = {.tv_sec = 5};  /* a dropped SYN fails in 5 s, not after minutes of retries */
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) fail(name, "connect");
    (void)!write(s, "ping\n", 5);
    char buf[64] = "";
    ssize_t n = read(s, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    key_str("reply", buf);
    close(s);
  } else if (!strcmp(name, "unix")) {
    /* unix:PATH: send "ping\n" to a unix stream socket and print the reply (a daemon's socket) */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", arg ? arg : "");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) fail(name, arg ? arg : "");
    (void)!write(s, "ping\n", 5);
    char buf[256] = "";
    ssize_t n = read(s, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    key_str("reply", buf);
    close(s);
  } else if (!strcmp(name, "udp-echo")) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)num(name, arg))}, peer;
    if (bind(s, (struct sockaddr *)&a, sizeof a)) fail(name, "bind");
    printf("{\"listening\":%d}\n", ntohs(a.sin_port));
    fflush(stdout);
    char buf[64];
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
    if (n < 0) fail(name, "recvfrom");
    key_str("peer", inet_ntoa(peer.sin_addr));
    if (sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&peer, len) < 0) fail(name, "sendto");
    close(s);
  } else if (!strcmp(name, "udp")) {
    char *port = arg ? strrchr(arg, ':') : NULL;
    if (!port) { errno = EINVAL; fail(name, "expected udp:HOST:PORT"); }
    *port++ = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)num(name, port))};
    if (inet_pton(AF_INET, arg, &a.sin_addr) != 1) { errno = EINVAL; fail(name, "bad address"); }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval limit = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (connect(s, (struct sockaddr *)&a, sizeof a) || write(s, "ping\n", 5) != 5) fail(name, "send");
    char buf[64] = "";
    ssize_t n = read(s, buf, sizeof buf - 1);
    if (n < 0) fail(name, "no reply within 5 s");
    buf[n] = 0;
    key_str("reply", buf);
    close(s);
  } else if (!strcmp(name, "shm-create") || !strcmp(name, "shm-check")) {
    int create = !strcmp(name, "shm-create");
    int id = shmget((key_t)num(name, arg), 4096, create ? IPC_CREAT | 0600 : 0);
    if (create && id < 0) fail(name, "shmget");
    printf("{\"key\":%s,\"exists\":%s}\n", arg, id >= 0 ? "true" : "false");
  } else if (!strcmp(name, "shm-remove")) {
    int id = shmget((key_t)num(name, arg), 0, 0);
    if (id < 0 || shmctl(id, IPC_RMID, NULL)) fail(name, "shmctl");
    printf("{\"removed\":%s}\n", arg);
  } else if (!strcmp(name, "chroot-escape")) step_chroot_escape();
  else if (!strcmp(name, "status")) step_status();
  else if (!strcmp(name, "chroot")) {
    if (chroot(arg ? arg : "") || chdir("/")) fail(name, arg ? arg : "");
    key_str("chroot", arg);
  } else if (!strcmp(name, "resolve")) {
    printf("{\"resolve\":");
    json_str(arg ? arg : "");
    print_lookup("follow", arg ? arg : "", 1);
    print_lookup("nofollow", arg ? arg : "", 0);
    printf("}\n");
  }
  else if (!strcmp(name, "personality")) tried(name, personality(strtoul(arg ? arg : "0", NULL, 16)));
  else if (!strcmp(name, "syscall")) {
    char *rest;
    long nr = strtol(arg ? arg : "-1", &rest, 10);
    tried(name, syscall(nr, *rest == ':' ? strtol(rest + 1, NULL, 10) : 0, 0, 0, 0, 0, 0));
  }
  else if (!strcmp(name, "mount-tmpfs")) {
    long r = mount("tmpfs", arg ? arg : "", "tmpfs", 0, NULL);
    tried(name, r);
    if (r == 0) umount2(arg, MNT_DETACH);
  } else if (!strcmp(name, "unshare-user")) tried(name, unshare(CLONE_NEWUSER));
  else if (!strcmp(name, "open-write")) {
    int fd = open(arg ? arg : "", O_WRONLY);
    tried(name, fd);
    if (fd >= 0) close(fd);
  } else if (!strcmp(name, "seals")) {
    static const struct { int bit; const char *name; } names[] = {
      {F_SEAL_SEAL, "seal"}, {F_SEAL_SHRINK, "shrink"}, {F_SEAL_GROW, "grow"},
      {F_SEAL_WRITE, "write"}, {F_SEAL_FUTURE_WRITE, "future-write"}};
    int fd = open(arg ? arg : "", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(name, arg ? arg : "");
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) fail(name, "fcntl F_GET_SEALS");
    close(fd);
    printf("{\"seals\":[");
    int first = 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
      if (seals & names[i].bit) printf("%s\"%s\"", first ? "" : ",", names[i].name), first = 0;
    printf("]}\n");
  } else if (!strcmp(name, "read")) {
    char buf[64];
    int fd = open(arg ? arg : "", O_RDONLY);
    long n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    tried(name, n);
    if (fd >= 0) close(fd);
  }
  else {
    errno = EINVAL;
    fail(name, "unknown step (see the comment at the top of native/probe.c)");
  }
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    char *arg = strchr(argv[i], ':');
    if (arg) *arg++ = 0;
    i += step(argv[i], arg, argv + i + 1, argc - i - 1);
  }
  return 0;
}
