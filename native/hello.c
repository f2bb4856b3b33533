/*
 * The workbook's hello-world (the finale): a static program, alone in a one-layer image, whose
 * message names every step that brought it to the reader's terminal. `--sleep N` waits N
 * seconds after the message (SIGTERM or SIGINT end it at once), so the chain of processes
 * above it can be looked at while it runs.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char message[] =
  "\n"
  "Hello from minidocker!\n"
  "\n"
  "Every program between your command and this message is one you built:\n"
  " 1. minidocker, the client (chapter 12), asked minidockerd over its unix socket to\n"
  "    create a container from \"hello-world\" (POST /containers/create).\n"
  " 2. minidockerd (chapter 11) did not have that image, so the client asked it to pull:\n"
  "    it fetched library/hello-world's manifest, config and layer from the registry\n"
  "    (chapter 07), checked every digest and unpacked the layer into its store (chapter 06).\n"
  " 3. minidockerd asked minicontainerd (chapter 10) over gRPC for a container and a task,\n"
  "    the image's layers stacked as one overlay mount (chapter 05).\n"
  " 4. minicontainerd started containerd-shim-minidocker-v2 (chapter 10), which mounted\n"
  "    that root filesystem and ran minirunc create, then minirunc start (chapter 09).\n"
  " 5. minirunc put this process in new namespaces (chapter 02) and its own cgroup\n"
  "    (chapter 04), made the image's files its root with pivot_root (chapter 03), and\n"
  "    exec'd this program (chapter 01). The shim is its parent now, and waits for it.\n"
  " 6. This text went through a FIFO to minidockerd, which streamed it to the client's\n"
  "    attach connection, which wrote it to your terminal.\n"
  "\n"
  "To see the chain while a container runs:\n"
  " $ minidocker run -d hello-world:sleep\n"
  " $ pstree -a -p $(ps -o ppid= $(pgrep -n -x hello))\n"
  "\n";

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

int main(int argc, char **argv) {
  const char *p = message;
  size_t left = sizeof message - 1;
  while (left > 0) {
    ssize_t n = write(1, p, left);
    if (n <= 0) return 1;
    p += n;
    left -= (size_t)n;
  }
  if (argc == 3 && strcmp(argv[1], "--sleep") == 0) {
    /* as PID 1 of its namespace, a signal without a handler would be ignored */
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    unsigned int seconds = (unsigned int)strtoul(argv[2], NULL, 10);
    while (seconds > 0) seconds = sleep(seconds);
  }
  return 0;
}
