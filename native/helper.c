/*
 * minidocker-helper: performs primitive operations on request, one at a time.
 *
 * Node is multithreaded: the kernel refuses unshare(CLONE_NEWUSER) and setns() into a mount
 * namespace to a threaded process, and unshare(CLONE_NEWNS) moves only the calling thread,
 * not the threads that would go on to start processes. runc has the same problem with
 * Go and solves it with nsexec.c, which runs before the Go runtime starts. This helper plays
 * that part for the workbook: it is single-threaded, it makes no decisions, and it reports
 * every failure as data. What to do and in which order is decided by the TypeScript side.
 *
 * Protocol (on the control socket, fd given as argv[1]):
 *   request  = COUNT NUL FIELD NUL FIELD NUL ...   COUNT fields, the first is the operation
 *   response = one line of JSON: {"ok":true,...} or {"ok":false,"syscall":...,"errno":...}
 * A successful `exec` sends no response: the control socket is close-on-exec, so the
 * TypeScript side sees end-of-file. That is how Go's os/exec tells exec success from failure.
 * After `fork`, the parent answers with the child's PID, closes its end of the socket and
 * relays the child's exit; the child goes on serving requests.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define MAX_FIELDS 4096

static int ctl = -1;        /* control socket */
static FILE *ctl_in;        /* buffered reader over ctl */

/* ---------- output: one JSON line per request ---------- */

static char out[1 << 16];
static size_t out_len;

static void put(const char *s) {
  size_t n = strlen(s);
  if (out_len + n >= sizeof out) n = sizeof out - out_len - 1;
  memcpy(out + out_len, s, n);
  out_len += n;
  out[out_len] = 0;
}

static void putf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + out_len, sizeof out - out_len, fmt, ap);
  va_end(ap);
  if (n > 0) out_len += (size_t)n < sizeof out - out_len ? (size_t)n : sizeof out - out_len - 1;
}

/* Append s as a JSON string literal. */
static void put_json(const char *s) {
  put("\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') putf("\\%c", *p);
    else if (*p == '\n') put("\\n");
    else if (*p < 0x20) putf("\\u%04x", *p);
    else { char c[2] = {(char)*p, 0}; put(c); }
  }
  put("\"");
}

static void send_line(void) {
  put("\n");
  size_t off = 0;
  while (off < out_len) {
    ssize_t n = write(ctl, out + off, out_len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* the other side went away: nothing left to tell */
    off += (size_t)n;
  }
  out_len = 0;
  out[0] = 0;
}

/* ---------- failures, named like Node's SystemError ---------- */

/* The call as text, e.g. pivot_root("/r", "/r/.old"); built by the op before it runs. */
static char call[8192];
static const char *err_path, *err_dest;
/* Set by failures_to: where a failed request is told, no caller being left to read the reply. */
static int failure_fd = -1;

static void call_begin(const char *name) {
  snprintf(call, sizeof call, "%s(", name);
  err_path = err_dest = NULL;
}

static void call_arg(const char *fmt, ...) {
  size_t len = strlen(call);
  if (call[len - 1] != '(' && len + 2 < sizeof call) { strcat(call, ", "); len += 2; }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(call + len, sizeof call - len, fmt, ap);
  va_end(ap);
}

static void call_str(const char *s) {
  if (!s) { call_arg("NULL"); return; }
  call_arg("\"%s\"", s);
}

static void call_end(void) {
  size_t len = strlen(call);
  if (len + 1 < sizeof call) strcat(call, ")");
}

static int fail(const char *syscall_name) {
  int e = errno;
  const char *name = strerrorname_np(e);
  put("{\"ok\":false,\"syscall\":");
  put_json(syscall_name);
  put(",\"call\":");
  put_json(call);
  putf(",\"errno\":%d,\"code\":", e);
  put_json(name ? name : "EUNKNOWN");
  put(",\"message\":");
  put_json(strerror(e));
  if (err_path) { put(",\"path\":"); put_json(err_path); }
  if (err_dest) { put(",\"dest\":"); put_json(err_dest); }
  put("}");
  send_line();
  if (failure_fd >= 0) {
    dprintf(failure_fd, "%s failed: %s (%s)\n", call, name ? name : "EUNKNOWN", strerror(e));
    _exit(1);
  }
  return -1;
}

/* A request that does not make sense is reported like a syscall failing with EINVAL. */
static int bad_request(const char *op, const char *why) {
  snprintf(call, sizeof call, "%s: %s", op, why);
  errno = EINVAL;
  return fail(op);
}

static int ok(void) {
  put("{\"ok\":true}");
  send_line();
  return 0;
}

/* Answer {"ok":true,"fd":N}: an fd the helper keeps open for a later request. */
static int ok_fd(int fd) {
  putf("{\"ok\":true,\"fd\":%d}", fd);
  send_line();
  return 0;
}

/* ---------- names for flags ---------- */

struct flag { const char *name, *constant; unsigned long value; };

static const struct flag ns_flags[] = {
  {"mount", "CLONE_NEWNS", CLONE_NEWNS}, {"uts", "CLONE_NEWUTS", CLONE_NEWUTS},
  {"ipc", "CLONE_NEWIPC", CLONE_NEWIPC}, {"pid", "CLONE_NEWPID", CLONE_NEWPID},
  {"network", "CLONE_NEWNET", CLONE_NEWNET}, {"user", "CLONE_NEWUSER", CLONE_NEWUSER},
  {"cgroup", "CLONE_NEWCGROUP", CLONE_NEWCGROUP}, {"time", "CLONE_NEWTIME", CLONE_NEWTIME},
  {0, 0, 0}};

static const struct flag mount_flags[] = {
  {"rdonly", "MS_RDONLY", MS_RDONLY}, {"nosuid", "MS_NOSUID", MS_NOSUID},
  {"nodev", "MS_NODEV", MS_NODEV}, {"noexec", "MS_NOEXEC", MS_NOEXEC},
  {"remount", "MS_REMOUNT", MS_REMOUNT}, {"bind", "MS_BIND", MS_BIND}, {"rec", "MS_REC", MS_REC},
  {"private", "MS_PRIVATE", MS_PRIVATE}, {"slave", "MS_SLAVE", MS_SLAVE},
  {"shared", "MS_SHARED", MS_SHARED}, {"unbindable", "MS_UNBINDABLE", MS_UNBINDABLE},
  {"move", "MS_MOVE", MS_MOVE}, {"relatime", "MS_RELATIME", MS_RELATIME},
  {"noatime", "MS_NOATIME", MS_NOATIME}, {"strictatime", "MS_STRICTATIME", MS_STRICTATIME},
  {"nodiratime", "MS_NODIRATIME", MS_NODIRATIME}, {0, 0, 0}};

static const struct flag rlimit_names[] = {
  {"RLIMIT_CPU", "RLIMIT_CPU", RLIMIT_CPU}, {"RLIMIT_FSIZE", "RLIMIT_FSIZE", RLIMIT_FSIZE},
  {"RLIMIT_DATA", "RLIMIT_DATA", RLIMIT_DATA}, {"RLIMIT_STACK", "RLIMIT_STACK", RLIMIT_STACK},
  {"RLIMIT_CORE", "RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_RSS", "RLIMIT_RSS", RLIMIT_RSS},
  {"RLIMIT_NPROC", "RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_NOFILE", "RLIMIT_NOFILE", RLIMIT_NOFILE},
  {"RLIMIT_MEMLOCK", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", "RLIMIT_AS", RLIMIT_AS},
  {"RLIMIT_LOCKS", "RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_SIGPENDING", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
  {"RLIMIT_MSGQUEUE", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", "RLIMIT_NICE", RLIMIT_NICE},
  {"RLIMIT_RTPRIO", "RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", "RLIMIT_RTTIME", RLIMIT_RTTIME},
  {0, 0, 0}};

static const struct flag seal_flags[] = {
  {"seal", "F_SEAL_SEAL", F_SEAL_SEAL}, {"shrink", "F_SEAL_SHRINK", F_SEAL_SHRINK},
  {"grow", "F_SEAL_GROW", F_SEAL_GROW}, {"write", "F_SEAL_WRITE", F_SEAL_WRITE},
  {"future-write", "F_SEAL_FUTURE_WRITE", F_SEAL_FUTURE_WRITE},
  {0, 0, 0}};

static const struct flag open_flags[] = {
  {"rdonly", "O_RDONLY", O_RDONLY}, {"wronly", "O_WRONLY", O_WRONLY}, {"rdwr", "O_RDWR", O_RDWR},
  {"creat", "O_CREAT", O_CREAT}, {"excl", "O_EXCL", O_EXCL}, {"trunc", "O_TRUNC", O_TRUNC},
  {"nofollow", "O_NOFOLLOW", O_NOFOLLOW}, {"directory", "O_DIRECTORY", O_DIRECTORY},
  {"path", "O_PATH", O_PATH}, {0, 0, 0}};

static const struct flag umount_flags[] = {
  {"force", "MNT_FORCE", MNT_FORCE}, {"detach", "MNT_DETACH", MNT_DETACH},
  {"expire", "MNT_EXPIRE", MNT_EXPIRE}, {"nofollow", "UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW},
  {0, 0, 0}};

/* Parse "a,b,c" against a table; writes the kernel's names, "A|B" (or "0"), into text. */
static int parse_flags(const struct flag *table, const char *list, unsigned long *value,
                       char *text, size_t text_len) {
  *value = 0;
  text[0] = 0;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    const struct flag *f = table;
    while (f->name && strcmp(f->name, tok)) f++;
    if (!f->name) return -1;
    *value |= f->value;
    size_t len = strlen(text);
    snprintf(text + len, text_len - len, "%s%s", len ? "|" : "", f->constant);
  }
  if (!text[0]) snprintf(text, text_len, "0");
  return 0;
}

static int parse_int(const char *s, long *v) {
  char *end;
  errno = 0;
  *v = strtol(s, &end, 10);
  return (errno || !*s || *end) ? -1 : 0;
}

/* ---------- operations ---------- */

// #region exec
/* exec PATH ARGC ARGV... ENV...: one execve of exactly PATH. No PATH search: which file runs
 * (runc looks the command up in the container's PATH) is the TypeScript side's decision. */
static int op_exec(int argc, char **argv) {
  long n;
  if (argc < 3 || parse_int(argv[2], &n) || n < 1 || n > argc - 3)
    return bad_request("exec", "expected PATH ARGC ARGV... ENV...");
  const char *path = argv[1];
  char **args = calloc((size_t)n + 1, sizeof *args);
  if (!args) return bad_request("exec", "out of memory");
  memcpy(args, &argv[3], (size_t)n * sizeof *args);
  char **env = &argv[3 + n]; /* the request's field list is NULL-terminated */
  call_begin("execve");
  call_str(path);
  call_end();
  err_path = path;
  execve(path, args, env);
  free(args);
  return fail("execve");
}
// #endregion exec

// #region relay
static pid_t relay_child;

static void relay_signal(int sig) {
  if (relay_child > 0) kill(relay_child, sig);
}

/* The parent after fork: wait for the child, passing on the signals a terminal or a
 * supervisor sends, then leave the way the child left (exit code, or the same signal).
 * It reaps every child while it waits, orphans reparented to it included. */
static void relay(pid_t child) {
  relay_child = child;
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  struct sigaction sa = {.sa_handler = relay_signal, .sa_flags = SA_RESTART};
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaction(forwarded[i], &sa, NULL);
  int status;
  for (;;) {
    pid_t r = waitpid(-1, &status, 0);
    if (r == child) break;
    if (r < 0 && errno != EINTR) _exit(255);
  }
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  _exit(128 + sig); /* a signal that does not kill (e.g. SIGCHLD) */
}

/* fork [FD...]: the given fds are closed in the parent once the fork has succeeded, before it answers. */
static int op_fork(int argc, char **a) {
  int fds[64];
  int n = argc - 1;
  if (n > 64) return bad_request("fork", "too many fds");
  for (int i = 0; i < n; i++) {
    long fd;
    if (parse_int(a[i + 1], &fd)) return bad_request("fork", "fd must be a number");
    if (fd == ctl) return bad_request("fork", "that is the control socket");
    if (fcntl((int)fd, F_GETFD) < 0) return bad_request("fork", "fd is not open");
    fds[i] = (int)fd;
  }
  call_begin("fork");
  call_end();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) return 0; /* the child keeps serving; the parent answers for both */
  for (int i = 0; i < n; i++) close(fds[i]);
  putf("{\"ok\":true,\"pid\":%d}", pid);
  send_line();
  close(ctl);
  relay(pid);
  return 0;
}
// #endregion relay

static int op_unshare(const char *list) {
  unsigned long flags;
  char text[512];
  if (parse_flags(ns_flags, list, &flags, text, sizeof text))
    return bad_request("unshare", "unknown namespace (expected mount,uts,ipc,pid,network,user,cgroup,time)");
  call_begin("unshare");
  call_arg("%s", text);
  call_end();
  return unshare((int)flags) ? fail("unshare") : ok();
}

/* open(2) PATH close-on-exec, the call named for a failure (flags_text is how it reads). */
static int open_named(const char *path, int flags, const char *flags_text) {
  call_begin("open");
  call_str(path);
  call_arg("%s", flags_text);
  call_end();
  err_path = path;
  return open(path, flags | O_CLOEXEC);
}

/* KIND for setns's nstype: "" or absent is 0 (any kind), else that kind's one flag. */
static int setns_type(const char *op, const char *kind, unsigned long *nstype, char *text, size_t len) {
  *nstype = 0;
  snprintf(text, len, "0");
  if (kind && *kind && (strchr(kind, ',') || parse_flags(ns_flags, kind, nstype, text, len)))
    return bad_request(op, "unknown namespace (expected one of mount,uts,ipc,pid,network,user,cgroup,time)");
  return 0;
}

/* setns PATH [KIND]: open PATH now and join what it names; nstype 0 joins any kind of namespace, KIND's flag only that kind. */
static int op_setns(int argc, char **a) {
  if (argc != 2 && argc != 3) return bad_request("setns", "wrong number of arguments");
  const char *path = a[1];
  unsigned long nstype;
  char text[512];
  if (setns_type("setns", argc == 3 ? a[2] : NULL, &nstype, text, sizeof text)) return -1;
  int fd = open_named(path, O_RDONLY, "O_RDONLY");
  if (fd < 0) return fail("open");
  call_begin("setns");
  call_str(path);
  call_arg("%s", text);
  call_end();
  err_path = path;
  int r = setns(fd, (int)nstype);
  int e = errno;
  close(fd);
  errno = e;
  return r ? fail("setns") : ok();
}

/* setns_fd FD [KIND]: join the namespace behind an fd the helper holds (from open), which stays open. */
static int op_setns_fd(int argc, char **a) {
  long fd;
  if (argc != 2 && argc != 3) return bad_request("setns_fd", "wrong number of arguments");
  if (parse_int(a[1], &fd)) return bad_request("setns_fd", "fd must be a number");
  unsigned long nstype;
  char text[512];
  if (setns_type("setns_fd", argc == 3 ? a[2] : NULL, &nstype, text, sizeof text)) return -1;
  call_begin("setns");
  call_arg("%ld", fd);
  call_arg("%s", text);
  call_end();
  return setns((int)fd, (int)nstype) ? fail("setns") : ok();
}

/* open PATH: open(2) read-only and keep the fd (close-on-exec); answers its number. */
static int op_open(const char *path) {
  int fd = open_named(path, O_RDONLY, "O_RDONLY");
  return fd < 0 ? fail("open") : ok_fd(fd);
}

/* DIRFD for the *at calls: a number, or "cwd" for AT_FDCWD. */
static int parse_dirfd(const char *s, long *fd) {
  if (!strcmp(s, "cwd")) { *fd = AT_FDCWD; return 0; }
  return parse_int(s, fd);
}

/* A DIRFD in the call's trace, as strace writes it. */
static void call_dirfd(long fd) {
  if (fd == AT_FDCWD) call_arg("AT_FDCWD"); else call_arg("%ld", fd);
}

/* openat DIRFD PATH FLAGS MODE: openat(2) with open_flags (close-on-exec added); answers the fd. */
static int op_openat(char **a) {
  long dirfd, mode;
  unsigned long flags;
  char text[256];
  if (parse_dirfd(a[1], &dirfd) || parse_int(a[4], &mode))
    return bad_request("openat", "expected DIRFD|cwd PATH FLAGS MODE");
  if (parse_flags(open_flags, a[3], &flags, text, sizeof text))
    return bad_request("openat", "unknown open flag");
  call_begin("openat");
  call_dirfd(dirfd);
  call_str(a[2]);
  call_arg("%s", text);
  if (flags & O_CREAT) call_arg("0%lo", mode);
  call_end();
  err_path = a[2];
  int fd = openat((int)dirfd, a[2], (int)flags | O_CLOEXEC, (mode_t)mode);
  return fd < 0 ? fail("openat") : ok_fd(fd);
}

/* mkdirat DIRFD PATH MODE: mkdirat(2), which never follows a symlink at PATH's last component. */
static int op_mkdirat(char **a) {
  long dirfd, mode;
  if (parse_dirfd(a[1], &dirfd) || parse_int(a[3], &mode))
    return bad_request("mkdirat", "expected DIRFD|cwd PATH MODE");
  call_begin("mkdirat");
  call_dirfd(dirfd);
  call_str(a[2]);
  call_arg("0%lo", mode);
  call_end();
  err_path = a[2];
  return mkdirat((int)dirfd, a[2], (mode_t)mode) ? fail("mkdirat") : ok();
}

/* close FD: close one fd the helper holds. */
static int op_close(const char *fd_s) {
  long fd;
  if (parse_int(fd_s, &fd)) return bad_request("close", "fd must be a number");
  if (fd == ctl) return bad_request("close", "that is the control socket");
  call_begin("close");
  call_arg("%ld", fd);
  call_end();
  return close((int)fd) ? fail("close") : ok();
}

/* fchdir FD: make the directory behind an fd the helper holds its working directory. */
static int op_fchdir(const char *fd_s) {
  long fd;
  if (parse_int(fd_s, &fd)) return bad_request("fchdir", "fd must be a number");
  call_begin("fchdir");
  call_arg("%ld", fd);
  call_end();
  return fchdir((int)fd) ? fail("fchdir") : ok();
}

static int op_mount(char **a) {
  unsigned long flags;
  char text[512];
  if (parse_flags(mount_flags, a[4], &flags, text, sizeof text))
    return bad_request("mount", "unknown mount flag");
  const char *src = *a[1] ? a[1] : NULL, *type = *a[3] ? a[3] : NULL, *data = *a[5] ? a[5] : NULL;
  call_begin("mount");
  call_str(src);
  call_str(a[2]);
  call_str(type);
  call_arg("%s", text);
  call_str(data);
  call_end();
  err_path = src ? src : a[2];
  err_dest = a[2];
  return mount(src, a[2], type, flags, data) ? fail("mount") : ok();
}

static int op_umount2(const char *target, const char *list) {
  unsigned long flags;
  char text[256];
  if (parse_flags(umount_flags, list, &flags, text, sizeof text))
    return bad_request("umount2", "unknown flag (expected force,detach,expire,nofollow)");
  call_begin("umount2");
  call_str(target);
  call_arg("%s", text);
  call_end();
  err_path = target;
  return umount2(target, (int)flags) ? fail("umount2") : ok();
}

static void call_path2(const char *name, const char *a, const char *b) {
  call_begin(name);
  call_str(a);
  call_str(b);
  call_end();
  err_path = a;
  err_dest = b;
}

static int op_pivot_root(const char *new_root, const char *put_old) {
  call_path2("pivot_root", new_root, put_old);
  return syscall(SYS_pivot_root, new_root, put_old) ? fail("pivot_root") : ok();
}

static int op_symlink(const char *target, const char *linkpath) {
  call_path2("symlink", target, linkpath);
  err_path = linkpath;
  err_dest = NULL;
  return symlink(target, linkpath) ? fail("symlink") : ok();
}

static int op_path1(const char *name, const char *path, int (*fn)(const char *)) {
  call_begin(name);
  call_str(path);
  call_end();
  err_path = path;
  return fn(path) ? fail(name) : ok();
}

static int op_mkdir(const char *path, const char *mode_s) {
  long mode;
  if (parse_int(mode_s, &mode)) return bad_request("mkdir", "mode must be a number");
  call_begin("mkdir");
  call_str(path);
  call_arg("0%lo", mode);
  call_end();
  err_path = path;
  return mkdir(path, (mode_t)mode) ? fail("mkdir") : ok();
}

/* mknod PATH c|b|p MODE MAJOR MINOR */
static int op_mknod(char **a) {
  long mode, major_n, minor_n;
  if ((strcmp(a[2], "c") && strcmp(a[2], "b") && strcmp(a[2], "p")) || parse_int(a[3], &mode) ||
      parse_int(a[4], &major_n) || parse_int(a[5], &minor_n))
    return bad_request("mknod", "expected PATH c|b|p MODE MAJOR MINOR");
  mode_t type = a[2][0] == 'c' ? S_IFCHR : a[2][0] == 'b' ? S_IFBLK : S_IFIFO;
  call_begin("mknod");
  call_str(a[1]);
  call_arg("%s|0%lo", type == S_IFCHR ? "S_IFCHR" : type == S_IFBLK ? "S_IFBLK" : "S_IFIFO", mode);
  call_arg("makedev(%ld, %ld)", major_n, minor_n);
  call_end();
  err_path = a[1];
  if (mknod(a[1], type | (mode_t)mode, makedev(major_n, minor_n))) return fail("mknod");
  /* mknod's mode is filtered by the umask; devices must keep exactly the mode asked for */
  call_begin("chmod");
  call_str(a[1]);
  call_arg("0%lo", mode);
  call_end();
  return chmod(a[1], (mode_t)mode) ? fail("chmod") : ok();
}

static int op_write_file(const char *path, const char *data) {
  call_begin("open");
  call_str(path);
  call_arg("O_WRONLY|O_CREAT|O_TRUNC");
  call_end();
  err_path = path;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("open");
  call_begin("write");
  call_str(path);
  call_arg("%zu bytes", strlen(data));
  call_end();
  ssize_t n = write(fd, data, strlen(data));
  int e = errno;
  close(fd);
  errno = e;
  return n < 0 ? fail("write") : ok();
}

static int op_sethostname(const char *name) {
  call_begin("sethostname");
  call_str(name);
  call_end();
  return sethostname(name, strlen(name)) ? fail("sethostname") : ok();
}

static int op_prctl(const char *what, const char *arg) {
  long v;
  call_begin("prctl");
  if (!strcmp(what, "subreaper")) {
    call_arg("PR_SET_CHILD_SUBREAPER, 1");
    call_end();
    return prctl(PR_SET_CHILD_SUBREAPER, 1) ? fail("prctl") : ok();
  }
  if (!strcmp(what, "pdeathsig") && !parse_int(arg, &v)) {
    call_arg("PR_SET_PDEATHSIG, %ld", v);
    call_end();
    return prctl(PR_SET_PDEATHSIG, v) ? fail("prctl") : ok();
  }
  if (!strcmp(what, "no_new_privs")) {
    call_arg("PR_SET_NO_NEW_PRIVS, 1");
    call_end();
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? fail("prctl") : ok();
  }
  if (!strcmp(what, "capbset_drop") && !parse_int(arg, &v)) {
    call_arg("PR_CAPBSET_DROP, %ld", v);
    call_end();
    return prctl(PR_CAPBSET_DROP, v, 0, 0, 0) ? fail("prctl") : ok();
  }
  if (!strcmp(what, "keepcaps") && !parse_int(arg, &v)) {
    call_arg("PR_SET_KEEPCAPS, %ld", v);
    call_end();
    return prctl(PR_SET_KEEPCAPS, v, 0, 0, 0) ? fail("prctl") : ok();
  }
  if (!strcmp(what, "ambient_raise") && !parse_int(arg, &v)) {
    call_arg("PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, %ld", v);
    call_end();
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) ? fail("prctl") : ok();
  }
  return bad_request("prctl", "expected subreaper, pdeathsig SIG, no_new_privs, capbset_drop CAP, keepcaps 0|1 or ambient_raise CAP");
}

/* capset(2) with version 3: three 64-bit masks, each given in hex. */
static int op_capset(const char *eff_s, const char *prm_s, const char *inh_s) {
  const char *s[3] = {eff_s, prm_s, inh_s};
  unsigned long long m[3];
  for (int i = 0; i < 3; i++) {
    char *end;
    errno = 0;
    m[i] = strtoull(s[i], &end, 16);
    if (errno || !*s[i] || *end) return bad_request("capset", "masks must be hexadecimal numbers");
  }
  call_begin("capset");
  call_arg("{_LINUX_CAPABILITY_VERSION_3, 0}, {effective=0x%llx, permitted=0x%llx, inheritable=0x%llx}", m[0], m[1], m[2]);
  call_end();
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = (__u32)(m[0] >> (32 * i));
    data[i].permitted = (__u32)(m[1] >> (32 * i));
    data[i].inheritable = (__u32)(m[2] >> (32 * i));
  }
  return syscall(SYS_capset, &header, data) ? fail("capset") : ok();
}

/* Decode `hex` (two digits a byte) into `bytes`, which has room for strlen(hex) / 2; the byte count, or -1 when it is not hex. */
static ssize_t unhex(const char *hex, unsigned char *bytes) {
  size_t len = strlen(hex);
  if (len % 2) return -1;
  for (size_t i = 0; i < len / 2; i++) {
    char pair[3] = {hex[2 * i], hex[2 * i + 1], 0}, *end;
    if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1])) return -1;
    bytes[i] = (unsigned char)strtoul(pair, &end, 16);
  }
  return (ssize_t)(len / 2);
}

/* seccomp(SECCOMP_SET_MODE_FILTER): load a classic BPF program, given as the hex of its struct sock_filter array. */
static int op_seccomp(const char *hex) {
  size_t len = strlen(hex);
  if (!len || len % 16) return bad_request("seccomp", "the program must be whole 8-byte instructions in hex");
  unsigned short count = (unsigned short)(len / 16);
  if (len / 16 > BPF_MAXINSNS) return bad_request("seccomp", "the program is longer than BPF_MAXINSNS (4096) instructions");
  unsigned char *bytes = malloc(len / 2);
  if (unhex(hex, bytes) < 0) { free(bytes); return bad_request("seccomp", "the program is not hex"); }
  struct sock_fprog prog = {count, (struct sock_filter *)bytes};
  call_begin("seccomp");
  call_arg("SECCOMP_SET_MODE_FILTER, 0, {len=%u}", count);
  call_end();
  int r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
  free(bytes);
  return r ? fail("seccomp") : ok();
}

static int op_setgroups(int argc, char **argv) {
  gid_t groups[256];
  if (argc - 1 > 256) return bad_request("setgroups", "too many groups");
  call_begin("setgroups");
  call_arg("%d, [", argc - 1);
  for (int i = 1; i < argc; i++) {
    long g;
    if (parse_int(argv[i], &g)) return bad_request("setgroups", "gids must be numbers");
    groups[i - 1] = (gid_t)g;
    size_t len = strlen(call);
    snprintf(call + len, sizeof call - len, "%s%ld", i > 1 ? ", " : "", g);
  }
  strncat(call, "]", sizeof call - strlen(call) - 1);
  call_end();
  return setgroups((size_t)(argc - 1), groups) ? fail("setgroups") : ok();
}

static int op_setid(const char *name, const char *id_s) {
  long id;
  if (parse_int(id_s, &id)) return bad_request(name, "id must be a number");
  call_begin(name);
  call_arg("%ld", id);
  call_end();
  int r = !strcmp(name, "setuid") ? setuid((uid_t)id) : setgid((gid_t)id);
  return r ? fail(name) : ok();
}

/* umask MODE (octal): set the file mode creation mask (umask(2) cannot fail). */
static int op_umask(const char *mode_s) {
  char *end;
  unsigned long mode = strtoul(mode_s, &end, 8);
  if (!*mode_s || *end || mode > 0777) return bad_request("umask", "mode must be octal, at most 0777");
  call_begin("umask");
  call_arg("0%lo", mode);
  call_end();
  umask((mode_t)mode);
  return ok();
}

static int op_setsid(void) {
  call_begin("setsid");
  call_end();
  return setsid() < 0 ? fail("setsid") : ok();
}

/* close_fds FROM: close every fd from FROM (at least 3) up, except the control socket
 * (close-on-exec anyway). */
static int op_close_fds(const char *from_s) {
  long from;
  if (parse_int(from_s, &from) || from < 3) return bad_request("close_fds", "FROM must be a number of at least 3");
  call_begin("close_range");
  call_arg("%ld, ~0U, 0", from);
  call_end();
  if (ctl > from && syscall(SYS_close_range, (unsigned)from, ctl - 1, 0)) return fail("close_range");
  if (syscall(SYS_close_range, (unsigned)(ctl + 1 > from ? ctl + 1 : from), ~0U, 0)) return fail("close_range");
  return ok();
}

/* failures_to FD: from now on a request that fails also writes its error to FD, as one line in
 * SyscallError's words, and ends the helper with exit status 1. */
static int op_failures_to(const char *fd_s) {
  long fd;
  if (parse_int(fd_s, &fd) || fd < 0) return bad_request("failures_to", "FD must be a number");
  snprintf(call, sizeof call, "fcntl(%ld, F_GETFD)", fd); /* only to see that it is open */
  err_path = err_dest = NULL;
  if (fcntl((int)fd, F_GETFD) < 0) return fail("fcntl");
  failure_fd = (int)fd;
  return ok();
}

// #region memfd_exec
/* memfd_exec SEALS: execute this helper again from a copy of its own binary in memory
 * (memfd_create), with the seals SEALS (names from seal_flags, comma-separated, "" for none)
 * added to the copy, keeping the control socket. /proc/PID/exe then names the copy, not the file on disk.
 * The new image answers the request once it runs; on failure this one answers with the error.
 * The caller must send nothing else until the answer: buffered requests do not survive exec. */
static int op_memfd_exec(const char *list) {
  unsigned long seals;
  char text[256];
  if (parse_flags(seal_flags, list, &seals, text, sizeof text)) {
    snprintf(text, sizeof text, "unknown seal in \"%.100s\": the names are F_SEAL_*'s, lowercase, without the prefix (memfd_create(2), fcntl(2) \"File sealing\")", list);
    return bad_request("memfd_exec", text);
  }
  call_begin("memfd_create");
  call_str("minidocker-helper");
  call_arg("MFD_CLOEXEC|MFD_ALLOW_SEALING");
  call_end();
  int mfd = memfd_create("minidocker-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return fail("memfd_create");
  call_begin("open");
  call_str("/proc/self/exe");
  call_end();
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0) { int e = errno; close(mfd); errno = e; return fail("open"); }
  char buf[65536];
  ssize_t n;
  call_begin("write");
  call_arg("memfd");
  call_end();
  while ((n = read(src, buf, sizeof buf)) > 0)
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(mfd, buf + off, (size_t)(n - off));
      if (w < 0) { int e = errno; close(src); close(mfd); errno = e; return fail("write"); }
      off += w;
    }
  close(src);
  call_begin("fcntl");
  call_arg("memfd, F_ADD_SEALS, %s", text);
  call_end();
  if (seals && fcntl(mfd, F_ADD_SEALS, (int)seals)) { int e = errno; close(mfd); errno = e; return fail("fcntl"); }
  char fd_s[16];
  snprintf(fd_s, sizeof fd_s, "%d", ctl);
  char *args[] = {"minidocker-helper", fd_s, "--reply", NULL};
  extern char **environ;
  call_begin("fexecve");
  call_arg("memfd");
  call_end();
  fcntl(ctl, F_SETFD, 0); /* the control socket must survive this one exec */
  fexecve(mfd, args, environ);
  int e = errno;
  fcntl(ctl, F_SETFD, FD_CLOEXEC);
  close(mfd);
  errno = e;
  return fail("fexecve");
}
// #endregion memfd_exec

/* Block until one byte arrives on an inherited fd (a sync pipe). End-of-file is an error. */
static int op_wait_fd(const char *fd_s) {
  long fd;
  if (parse_int(fd_s, &fd)) return bad_request("wait_fd", "fd must be a number");
  call_begin("read");
  call_arg("%ld", fd);
  call_arg("1");
  call_end();
  char c;
  ssize_t n;
  while ((n = read((int)fd, &c, 1)) < 0 && errno == EINTR) {}
  if (n == 0) errno = EPIPE;
  if (n != 1) return fail("read");
  close((int)fd);
  return ok();
}

/* lsetxattr PATH NAME VALUE: set one extended attribute; setxattr_hex takes VALUE as the hex of
 * its bytes, for binary values such as security.capability.
 * The l- variant: an xattr on a symlink names the link itself, never what it points to. */
static int op_setxattr(const char *path, const char *name, const char *value, int hex) {
  unsigned char bytes[4096];
  ssize_t size = (ssize_t)strlen(value);
  if (hex && (size / 2 > (ssize_t)sizeof bytes || (size = unhex(value, bytes)) < 0))
    return bad_request("setxattr_hex", "the value must be hex, at most 4096 bytes");
  call_begin("lsetxattr");
  call_str(path);
  call_str(name);
  if (hex) call_arg("x\"%s\"", value);
  else call_str(value);
  call_arg("%zd", size);
  call_arg("0");
  call_end();
  err_path = path;
  return lsetxattr(path, name, hex ? (const void *)bytes : value, (size_t)size, 0) ? fail("lsetxattr") : ok();
}

/* lgetxattr PATH NAME: answers {"ok":true,"value":"..."}, the value as text or, for getxattr_hex,
 * as the hex of its bytes; trusted.* needs CAP_SYS_ADMIN. */
static int op_getxattr(const char *path, const char *name, int hex) {
  char value[4096];
  call_begin("lgetxattr");
  call_str(path);
  call_str(name);
  call_end();
  err_path = path;
  ssize_t n = lgetxattr(path, name, value, sizeof value - 1);
  if (n < 0) return fail("lgetxattr");
  value[n] = 0;
  put("{\"ok\":true,\"value\":");
  if (hex) {
    put("\"");
    for (ssize_t i = 0; i < n; i++) putf("%02x", (unsigned char)value[i]);
    put("\"");
  } else put_json(value);
  put("}");
  send_line();
  return 0;
}

/* setrlimit NAME SOFT HARD: one resource limit of the helper, inherited across exec (config.json's process.rlimits). */
static int op_setrlimit(const char *name, const char *soft_s, const char *hard_s) {
  unsigned long resource;
  char constant[64];
  if (parse_flags(rlimit_names, name, &resource, constant, sizeof constant) || strchr(name, ','))
    return bad_request("setrlimit", "unknown resource");
  char *end_soft, *end_hard;
  errno = 0;
  struct rlimit limit = { .rlim_cur = strtoull(soft_s, &end_soft, 10), .rlim_max = strtoull(hard_s, &end_hard, 10) };
  if (errno || *end_soft || *end_hard || !*soft_s || !*hard_s) return bad_request("setrlimit", "limits must be numbers");
  call_begin("setrlimit");
  call_arg("%s, {%s, %s}", constant, soft_s, hard_s);
  call_end();
  return setrlimit((int)resource, &limit) ? fail("setrlimit") : ok();
}

/* connect PATH: a SOCK_STREAM unix socket connected to PATH (a console socket), kept open. */
static int op_connect(const char *path) {
  call_begin("connect");
  call_str(path);
  call_end();
  err_path = path;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof addr.sun_path) { errno = ENAMETOOLONG; return fail("connect"); }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
    int e = errno;
    close(fd);
    errno = e;
    return fail("connect");
  }
  return ok_fd(fd);
}

/* openpt PATH: open a pty multiplexer (a devpts's ptmx) and unlock its new slave; answers the master's fd. */
static int op_openpt(const char *path) {
  int fd = open_named(path, O_RDWR | O_NOCTTY, "O_RDWR|O_NOCTTY");
  if (fd < 0) return fail("open");
  int unlock = 0;
  call_begin("ioctl");
  call_arg("%d, TIOCSPTLCK, 0", fd);
  call_end();
  if (ioctl(fd, TIOCSPTLCK, &unlock)) {
    int e = errno;
    close(fd);
    errno = e;
    return fail("ioctl");
  }
  return ok_fd(fd);
}

/* set_ctty MASTER: the master's slave becomes fds 0, 1, 2 and the controlling terminal (after setsid). */
static int op_set_ctty(const char *fd_s) {
  long master;
  if (parse_int(fd_s, &master)) return bad_request("set_ctty", "fd must be a number");
  call_begin("ioctl");
  call_arg("%ld, TIOCGPTPEER, O_RDWR", master);
  call_end();
  int slave = ioctl((int)master, TIOCGPTPEER, O_RDWR);
  if (slave < 0) return fail("ioctl");
  for (int i = 0; i <= 2; i++)
    if (dup2(slave, i) < 0) return fail("dup2");
  if (slave > 2) close(slave);
  call_begin("ioctl");
  call_arg("0, TIOCSCTTY, 0");
  call_end();
  return ioctl(0, TIOCSCTTY, 0) ? fail("ioctl") : ok();
}

/* fifo_unread PATH: how many bytes wait in a FIFO's buffer, unread (ioctl FIONREAD on a read end of
 * our own, opened without blocking: it shares the buffer and takes nothing from it). */
static int op_fifo_unread(const char *path) {
  call_begin("open");
  call_str(path);
  call_arg("O_RDONLY|O_NONBLOCK");
  call_end();
  err_path = path;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail("open");
  call_begin("ioctl");
  call_arg("%d, FIONREAD", fd);
  call_end();
  int bytes = 0;
  int r = ioctl(fd, FIONREAD, &bytes);
  int e = errno;
  close(fd);
  errno = e;
  if (r) return fail("ioctl");
  putf("{\"ok\":true,\"bytes\":%d}", bytes);
  send_line();
  return 0;
}

/* send_fd SOCK FD NAME: one message on SOCK, data NAME and FD as SCM_RIGHTS (runc's console protocol). */
static int op_send_fd(const char *sock_s, const char *fd_s, const char *name) {
  long sock, fd;
  if (parse_int(sock_s, &sock) || parse_int(fd_s, &fd)) return bad_request("send_fd", "fds must be numbers");
  call_begin("sendmsg");
  call_arg("%ld", sock);
  call_str(name);
  call_arg("SCM_RIGHTS [%ld]", fd);
  call_end();
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int f = (int)fd;
  memcpy(CMSG_DATA(c), &f, sizeof f);
  ssize_t n;
  while ((n = sendmsg((int)sock, &msg, 0)) < 0 && errno == EINTR) {}
  return n < 0 ? fail("sendmsg") : ok();
}

/* reaper FD: forks; the child keeps serving requests and gets, at FD, one end of a new socket
 * pair (kept across exec). The parent closes the control socket and reaps every child, orphans
 * the kernel reparents to it included, writing "PID exit CODE" or "PID signal SIG" per line to
 * the other end, until it has no children left; it exits as its first child did. */
static int op_reaper(const char *fd_s) {
  long fd;
  int sv[2];
  if (parse_int(fd_s, &fd) || fd < 3) return bad_request("reaper", "FD must be a number from 3 up");
  call_begin("socketpair");
  call_arg("AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC");
  call_end();
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return fail("socketpair");
  call_begin("fork");
  call_end();
  fflush(NULL);
  pid_t child = fork();
  if (child < 0) return fail("fork");
  if (child == 0) {
    close(sv[0]);
    if (sv[1] != fd) { dup2(sv[1], (int)fd); close(sv[1]); }
    else fcntl((int)fd, F_SETFD, 0);
    return 0;
  }
  close(sv[1]);
  putf("{\"ok\":true,\"pid\":%d}", child);
  send_line();
  close(ctl);
  int status, first = 0;
  for (;;) {
    pid_t r = waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break; /* ECHILD: nobody left to reap */
    if (r == child) first = status;
    char line[64];
    int n = WIFEXITED(status) ? snprintf(line, sizeof line, "%d exit %d\n", r, WEXITSTATUS(status))
                              : snprintf(line, sizeof line, "%d signal %d\n", r, WTERMSIG(status));
    if (write(sv[0], line, (size_t)n) < 0) {} /* the caller is gone: keep reaping all the same */
  }
  _exit(WIFEXITED(first) ? WEXITSTATUS(first) : 128 + WTERMSIG(first));
}

/* ---------- a terminal's keeper (a console socket) ---------- */

/* Accept one connection on the listening socket LIS and take the fd it sends (SCM_RIGHTS);
 * -1 when none came. runc sends the pty master with its name as the data. */
static int receive_fd(int lis) {
  int conn;
  while ((conn = accept4(lis, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR) {}
  if (conn < 0) return -1;
  char name[256];
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  struct iovec iov = { .iov_base = name, .iov_len = sizeof name };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  ssize_t n;
  while ((n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  close(conn);
  struct cmsghdr *c = n < 0 ? NULL : CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static void write_all(int fd, const char *buf, ssize_t len) {
  while (fd >= 0 && len > 0) {
    ssize_t n = write(fd, buf, (size_t)len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* nobody reads any more: the output is dropped */
    buf += n;
    len -= n;
  }
}

/* One request to the keeper: the fields "3", "winsize", ROWS, COLS (the usual framing). */
static void op_winsize(int master, char **f) {
  long rows, cols;
  if (strcmp(f[0], "3") || strcmp(f[1], "winsize")) { bad_request(f[1], "a terminal's keeper takes only winsize ROWS COLS"); return; }
  if (parse_int(f[2], &rows) || parse_int(f[3], &cols) || rows < 0 || cols < 0 || rows > 65535 || cols > 65535) {
    bad_request("winsize", "rows and columns must be numbers from 0 to 65535");
    return;
  }
  if (master < 0) { bad_request("winsize", "no terminal has been received yet"); return; }
  struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
  call_begin("ioctl");
  call_arg("%d, TIOCSWINSZ, {%ld, %ld}", master, rows, cols);
  call_end();
  if (ioctl(master, TIOCSWINSZ, &ws)) fail("ioctl");
  else ok();
}

/* The keeper's life: the master arrives on LIS; then IN (a FIFO, -1 for none) is copied into it
 * and it into OUT, and window sizes come on the control socket, until the master reads EIO
 * (every slave is closed: the processes are gone) or the caller closes the control socket. */
static int keep_terminal(int lis, int in, int out) {
  int master = -1;
  char buf[16384], req[512];
  size_t req_len = 0;
  for (;;) {
    struct pollfd p[3] = { { master < 0 ? lis : master, POLLIN, 0 }, { master < 0 ? -1 : in, POLLIN, 0 }, { ctl, POLLIN, 0 } };
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p[0].revents && master < 0) {
      master = receive_fd(lis);
      if (master < 0) return 1;
      close(lis);
    } else if (p[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return 0;
      write_all(out, buf, n);
    }
    if (p[1].revents) {
      ssize_t n = read(in, buf, sizeof buf);
      if (n > 0) write_all(master, buf, n);
      else if (n == 0 || errno != EAGAIN) { close(in); in = -1; } /* the writer has gone */
    }
    if (p[2].revents) {
      ssize_t n = read(ctl, req + req_len, sizeof req - req_len);
      if (n <= 0) return 0; /* the caller is gone or let go: nobody to keep the terminal for */
      req_len += (size_t)n;
      for (;;) {
        char *f[4];
        size_t off = 0;
        int k;
        for (k = 0; k < 4; k++) {
          char *end = memchr(req + off, 0, req_len - off);
          if (!end) break;
          f[k] = req + off;
          off = (size_t)(end - req) + 1;
        }
        if (k < 4) break;
        op_winsize(master, f);
        memmove(req, req + off, req_len - off);
        req_len -= off;
      }
      if (req_len == sizeof req) return 2; /* not a request this keeper knows */
    }
  }
}

/* terminal PATH STDIN STDOUT: listen on the console socket PATH, open the FIFOs ("" for none),
 * answer, and from then on be the terminal's keeper (keep_terminal), never returning to the
 * request loop: the master never reaches the caller, which can neither receive an fd (SCM_RIGHTS)
 * nor set a window size. The keeper exits when the terminal is done. */
static int op_terminal(const char *path, const char *in_path, const char *out_path) {
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  call_begin("bind");
  call_str(path);
  call_end();
  err_path = path;
  if (strlen(path) >= sizeof addr.sun_path) { errno = ENAMETOOLONG; return fail("bind"); }
  strcpy(addr.sun_path, path);
  int lis = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lis < 0) return fail("socket");
  if (bind(lis, (struct sockaddr *)&addr, sizeof addr)) return fail("bind");
  if (listen(lis, 1)) return fail("listen");
  int in = -1, out = -1;
  /* O_RDWR: never blocks, and a write never fails with EPIPE while containerd is away */
  if (*out_path) {
    call_begin("open");
    call_str(out_path);
    call_arg("O_RDWR");
    call_end();
    err_path = out_path;
    if ((out = open(out_path, O_RDWR | O_CLOEXEC)) < 0) return fail("open");
  }
  if (*in_path) {
    call_begin("open");
    call_str(in_path);
    call_arg("O_RDONLY|O_NONBLOCK");
    call_end();
    err_path = in_path;
    if ((in = open(in_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) return fail("open");
  }
  ok();
  _exit(keep_terminal(lis, in, out));
}

static int chroot_fn(const char *p) { return chroot(p); }
static int chdir_fn(const char *p) { return chdir(p); }
static int rmdir_fn(const char *p) { return rmdir(p); }

/* ---------- the request loop ---------- */

/* Read one NUL-terminated field; returns NULL at end of input. */
static char *read_field(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getdelim(&line, &cap, '\0', ctl_in);
  if (n <= 0) { free(line); return NULL; }
  return line;
}

static int dispatch(int argc, char **a) {
  const char *op = a[0];
#define NEED(n) if (argc != (n) + 1) return bad_request(op, "wrong number of arguments")
  if (!strcmp(op, "exec")) return op_exec(argc, a);
  if (!strcmp(op, "fork")) return op_fork(argc, a);
  if (!strcmp(op, "unshare")) { NEED(1); return op_unshare(a[1]); }
  if (!strcmp(op, "setns")) return op_setns(argc, a);
  if (!strcmp(op, "setns_fd")) return op_setns_fd(argc, a);
  if (!strcmp(op, "open")) { NEED(1); return op_open(a[1]); }
  if (!strcmp(op, "close")) { NEED(1); return op_close(a[1]); }
  if (!strcmp(op, "fchdir")) { NEED(1); return op_fchdir(a[1]); }
  if (!strcmp(op, "openat")) { NEED(4); return op_openat(a); }
  if (!strcmp(op, "mkdirat")) { NEED(3); return op_mkdirat(a); }
  if (!strcmp(op, "mount")) { NEED(5); return op_mount(a); }
  if (!strcmp(op, "umount2")) { NEED(2); return op_umount2(a[1], a[2]); }
  if (!strcmp(op, "pivot_root")) { NEED(2); return op_pivot_root(a[1], a[2]); }
  if (!strcmp(op, "chroot")) { NEED(1); return op_path1("chroot", a[1], chroot_fn); }
  if (!strcmp(op, "chdir")) { NEED(1); return op_path1("chdir", a[1], chdir_fn); }
  if (!strcmp(op, "rmdir")) { NEED(1); return op_path1("rmdir", a[1], rmdir_fn); }
  if (!strcmp(op, "mkdir")) { NEED(2); return op_mkdir(a[1], a[2]); }
  if (!strcmp(op, "mknod")) { NEED(5); return op_mknod(a); }
  if (!strcmp(op, "symlink")) { NEED(2); return op_symlink(a[1], a[2]); }
  if (!strcmp(op, "write_file")) { NEED(2); return op_write_file(a[1], a[2]); }
  if (!strcmp(op, "sethostname")) { NEED(1); return op_sethostname(a[1]); }
  if (!strcmp(op, "prctl")) { NEED(2); return op_prctl(a[1], a[2]); }
  if (!strcmp(op, "setgroups")) return op_setgroups(argc, a);
  if (!strcmp(op, "setgid") || !strcmp(op, "setuid")) { NEED(1); return op_setid(op, a[1]); }
  if (!strcmp(op, "setsid")) { NEED(0); return op_setsid(); }
  if (!strcmp(op, "umask")) { NEED(1); return op_umask(a[1]); }
  if (!strcmp(op, "close_fds")) { NEED(1); return op_close_fds(a[1]); }
  if (!strcmp(op, "failures_to")) { NEED(1); return op_failures_to(a[1]); }
  if (!strcmp(op, "memfd_exec")) { NEED(1); return op_memfd_exec(a[1]); }
  if (!strcmp(op, "wait_fd")) { NEED(1); return op_wait_fd(a[1]); }
  if (!strcmp(op, "setxattr") || !strcmp(op, "setxattr_hex")) { NEED(3); return op_setxattr(a[1], a[2], a[3], op[8] == '_'); }
  if (!strcmp(op, "getxattr") || !strcmp(op, "getxattr_hex")) { NEED(2); return op_getxattr(a[1], a[2], op[8] == '_'); }
  if (!strcmp(op, "setrlimit")) { NEED(3); return op_setrlimit(a[1], a[2], a[3]); }
  if (!strcmp(op, "connect")) { NEED(1); return op_connect(a[1]); }
  if (!strcmp(op, "openpt")) { NEED(1); return op_openpt(a[1]); }
  if (!strcmp(op, "set_ctty")) { NEED(1); return op_set_ctty(a[1]); }
  if (!strcmp(op, "send_fd")) { NEED(3); return op_send_fd(a[1], a[2], a[3]); }
  if (!strcmp(op, "fifo_unread")) { NEED(1); return op_fifo_unread(a[1]); }
  if (!strcmp(op, "terminal")) { NEED(3); return op_terminal(a[1], a[2], a[3]); }
  if (!strcmp(op, "reaper")) { NEED(1); return op_reaper(a[1]); }
  if (!strcmp(op, "capset")) { NEED(3); return op_capset(a[1], a[2], a[3]); }
  if (!strcmp(op, "seccomp")) { NEED(1); return op_seccomp(a[1]); }
#undef NEED
  return bad_request(op, "unknown operation");
}

int main(int argc, char **argv) {
  long fd;
  /* --reply: started again by memfd_exec, whose request this image answers */
  int reply = argc == 3 && !strcmp(argv[2], "--reply");
  if ((argc != 2 && !reply) || parse_int(argv[1], &fd) || fd < 0) {
    fprintf(stderr, "usage: %s CONTROL_FD\n"
            "minidocker's native helper: it serves requests from the TypeScript side "
            "(native/helper.ts) and is not meant to be run by hand.\n", argv[0]);
    return 2;
  }
  ctl = (int)fd;
  if (fcntl(ctl, F_SETFD, FD_CLOEXEC) < 0) {
    fprintf(stderr, "minidocker-helper: fd %d is not open: %s\n", ctl, strerror(errno));
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a vanished caller shows up as EPIPE, not as our death */
  ctl_in = fdopen(ctl, "r"); /* reads are buffered; responses are written to ctl directly */
  if (!ctl_in) return 2;
  if (reply) {
    prctl(PR_SET_NAME, "minidocker-help"); /* fexecve named the process after the fd number */
    ok();
  }
  for (;;) {
    char *count_s = read_field();
    if (!count_s) return 0; /* the caller closed the socket: nothing more to do */
    long count;
    if (parse_int(count_s, &count) || count < 1 || count > MAX_FIELDS) {
      bad_request("request", "malformed request header");
      return 2;
    }
    free(count_s);
    char **fields = calloc((size_t)count + 1, sizeof *fields);
    for (long i = 0; i < count; i++)
      if (!(fields[i] = read_field())) return 2;
    dispatch((int)count, fields);
    for (long i = 0; i < count; i++) free(fields[i]);
    free(fields);
  }
}
