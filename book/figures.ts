/**
 * The chapters' figures, drawn as inline SVG from the data below, so they take the theme's
 * colours (book.css, the .fg-* classes) and change with the text that describes them. A
 * chapter asks for one with `<!-- figure: NAME -->` alone on a line, after a sentence that says
 * what it shows (so the README still reads well where the figure is not drawn).
 */
import { escapeHtml } from './markdown.ts'

/** Monospace labels at 14px: about this wide per character. */
const CHAR = 8.4
const ROW = 26

type Cls = '' | 'fg-new' | 'fg-gone' | 'fg-key'
/** depth, label, a note to its right, and how it is drawn */
type TreeRow = [number, string, string?, Cls?]

const text = (x: number, y: number, s: string, cls: string, anchor = 'start'): string =>
  `<text class="${cls}" x="${x}" y="${y}" text-anchor="${anchor}">${escapeHtml(s)}</text>`
const rect = (x: number, y: number, w: number, h: number, cls: string): string =>
  `<rect class="${cls}" x="${x}" y="${y}" width="${w}" height="${h}" rx="6"/>`
const arrow = (x1: number, y1: number, x2: number, y2: number, cls = 'fg-arrow'): string =>
  `<path class="${cls}" d="M${x1} ${y1}L${x2} ${y2}" marker-end="url(#fg-head)"/>`

/** A tree of names, one row each, drawn with connectors like `tree(1)`. */
function tree(x: number, y: number, rows: TreeRow[], noteAt: number): string {
  const out: string[] = []
  rows.forEach(([depth, label, note, cls = ''], i) => {
    const ry = y + i * ROW
    const lx = x + depth * 22
    if (depth > 0) {
      let parent = i - 1
      while (parent > 0 && rows[parent][0] >= depth) parent--
      const px = x + (depth - 1) * 22 + 6
      out.push(`<path class="fg-line" d="M${px} ${y + parent * ROW + 6}V${ry - 5}H${lx - 4}"/>`)
    }
    out.push(text(lx, ry, label, `fg-name ${cls}`))
    if (note) out.push(text(Math.max(noteAt, lx + label.length * CHAR + 14), ry, note, `fg-note ${cls}`))
  })
  return out.join('')
}

function svg(width: number, height: number, title: string, body: string): string {
  return `<svg class="fg" viewBox="0 0 ${width} ${height}" style="max-width:${width}px" role="img" aria-label="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg">` +
    '<defs><marker id="fg-head" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"/></marker></defs>' +
    `${body}</svg>`
}

/** 02: one PID namespace, seen from the host and from inside. */
function pidNamespace(): string {
  const rows: TreeRow[] = [
    [0, 'node minidocker run', 'PID 4100 on the host'],
    [1, 'helper (relay)', 'PID 4101: unshare(CLONE_NEWPID), fork', 'fg-key'],
    [2, 'sh', 'PID 4102 on the host, PID 1 inside', 'fg-new'],
    [3, 'ps', 'PID 4103 on the host, PID 2 inside', 'fg-new'],
  ]
  const h = 40 + rows.length * ROW + 40
  return svg(560, h, 'The process tree of a container: the relay on the host, PID 1 and its child in the new PID namespace',
    rect(24, 34 + 2 * ROW - 20, 520, 2 * ROW + 8, 'fg-ns') + text(536, 34 + 4 * ROW + 6, 'new PID, UTS and IPC namespaces', 'fg-label', 'end') +
    tree(36, 34, rows, 250))
}

/** 03: the mount tree before and after pivot_root; `how` adds the calls between (the debrief's version). */
function pivotRoot(how = true): string {
  const before: TreeRow[] = [
    [0, '/', 'the host\'s root (a copy, made private)'],
    [1, 'proc  sys  home  …', 'the host\'s mounts'],
    [1, 'tmp/…/rootfs', 'bound onto itself: a mount point', 'fg-key'],
    [2, 'proc', 'proc of the new PID namespace', 'fg-new'],
    [2, 'dev', 'tmpfs, with null, zero, tty…', 'fg-new'],
    [3, 'pts', 'devpts, newinstance', 'fg-new'],
    [3, 'shm', 'tmpfs', 'fg-new'],
    [2, 'sys', 'sysfs, read-only', 'fg-new'],
    [2, 'data', 'bind of /srv/data (-v)', 'fg-new'],
  ]
  const after: TreeRow[] = [
    [0, '/', 'was tmp/…/rootfs', 'fg-key'],
    [1, 'proc  dev  dev/pts  dev/shm  sys  data', '', 'fg-new'],
    how ? [1, '(stacked on /)', 'the host\'s root: detached', 'fg-gone'] : [1, '(nothing else)', 'no mount leads back to the host', 'fg-gone'],
  ]
  const top = 52, mid = top + before.length * ROW + 20, low = mid + 92
  return svg(560, low + after.length * ROW + 12, 'The container\'s mount tree before and after pivot_root',
    text(12, 24, 'Before: the container\'s mount namespace, mounts made', 'fg-head') +
    tree(24, top, before, 250) +
    arrow(36, mid - 4, 36, mid + 46) +
    (how
      ? text(56, mid + 14, 'chdir(rootfs), pivot_root(".", ".")', 'fg-code') + text(56, mid + 36, 'umount2(".", MNT_DETACH)', 'fg-code')
      : text(56, mid + 14, 'your pivotRoot: nothing written into the rootfs', 'fg-code') + text(56, mid + 36, 'the working directory ends at the new /', 'fg-code')) +
    text(12, low - 10, 'After: what the container sees', 'fg-head') +
    tree(24, low + 16, after, 250))
}

/** 04: the cgroup v2 hierarchy and the container's place in it; without `where`, the question (the chapter's version). */
function cgroupTree(where = true): string {
  const rows: TreeRow[] = where ? [
    [0, '/sys/fs/cgroup', 'subtree_control: +cpu +memory +pids'],
    [1, 'system.slice', ''],
    [2, 'docker-<id>.scope', 'Docker, systemd driver', 'fg-key'],
    [1, 'user.slice/user-0.slice', 'subtree_control: +cpu +memory +pids'],
    [2, 'session-3.scope', 'you: cgroup.procs holds your shell'],
    [2, 'minidocker', ''],
    [3, '<id>', 'the container', 'fg-new'],
    [4, 'cgroup.procs', '← PID 1 written here', 'fg-new'],
    [4, 'memory.max  memory.swap.max', '-m, --memory-swap', 'fg-new'],
    [4, 'cpu.max  pids.max', '--cpus, --pids-limit', 'fg-new'],
  ] : [
    [0, '/sys/fs/cgroup', 'the cgroup2 root'],
    [1, 'system.slice', ''],
    [2, 'docker-<id>.scope', 'Docker, systemd driver', 'fg-key'],
    [1, 'user.slice/user-0.slice', ''],
    [2, 'session-3.scope', 'you: cgroup.procs holds your shell'],
    [0, 'minidocker/<id>', 'the container: below which directory?', 'fg-new'],
  ]
  return svg(600, 30 + rows.length * ROW, where ? 'The cgroup v2 hierarchy with the container\'s cgroup, a sibling of your own' : 'The cgroup v2 hierarchy of a systemd host, and a container\'s cgroup still to place',
    tree(12, 24, rows, 300))
}

/** 05: an overlay mount: what each layer holds and what the merged view shows. */
function overlay(): string {
  const cols = ['bin/sh', 'etc/hosts', 'etc/passwd', 'tmp/junk']
  const layers: [string, string, (string | null)[], string][] = [
    ['merged/', 'what the container sees', ['bin/sh', 'etc/hosts', 'etc/passwd*', null], 'fg-merged'],
    ['upperdir', 'diff/ of the container layer', [null, null, 'etc/passwd*', 'c 0 0'], 'fg-upper'],
    ['lowerdir 1', 'the image\'s top layer', [null, 'etc/hosts', null, null], 'fg-lower'],
    ['lowerdir 2', 'the image\'s bottom layer', ['bin/sh', null, 'etc/passwd', 'tmp/junk'], 'fg-lower'],
  ]
  const x0 = 150, cw = 112, rh = 58, y0 = 40
  const out: string[] = cols.map((c, i) => text(x0 + i * cw + cw / 2, 24, c, 'fg-note', 'middle'))
  layers.forEach(([name, role, cells, cls], r) => {
    const y = y0 + r * (rh + 14)
    out.push(rect(4, y, x0 + cols.length * cw, rh, `fg-layer ${cls}`), text(14, y + 25, name, 'fg-name'), text(14, y + 45, role, 'fg-note'))
    cells.forEach((cell, c) => {
      if (!cell) return
      const cx = x0 + c * cw + 6
      const whiteout = cell === 'c 0 0'
      out.push(rect(cx, y + 12, cw - 12, rh - 24, whiteout ? 'fg-file fg-whiteout' : 'fg-file'), text(cx + (cw - 12) / 2, y + rh / 2 + 5, whiteout ? 'whiteout' : cell, whiteout ? 'fg-small fg-gone' : 'fg-small', 'middle'))
    })
  })
  const col = (c: number): number => x0 + c * cw + cw / 2
  const yOf = (r: number): number => y0 + r * (rh + 14)
  out.push(
    `<path class="fg-arrow fg-copyup" d="M${col(2) + 30} ${yOf(3) + 12}C${col(2) + 80} ${yOf(3) - 40} ${col(2) + 80} ${yOf(1) + rh + 30} ${col(2) + 34} ${yOf(1) + rh - 10}" marker-end="url(#fg-head)"/>`,
    text(col(2) + 60, yOf(2) + rh / 2 + 4, 'copy-up', 'fg-label', 'start'),
  )
  const bottom = yOf(4) + 4
  out.push(
    rect(4, bottom, x0 + cols.length * cw, 44, 'fg-layer fg-work'),
    text(14, bottom + 27, 'workdir: the upper\'s scratch space, where a copy-up is built, then renamed', 'fg-note'),
  )
  return svg(x0 + cols.length * cw + 8, bottom + 50, 'An overlay mount: two lower layers, the upper layer with a copied-up file and a whiteout, and the merged view',
    out.join(''))
}

/** Boxes one under the other, joined by arrows: [name, what it is, a note on the right, arrow label]. */
function column(title: string, boxes: [string, string, string, string?][], key = -1): string {
  const w = 560, h = 58, gap = 30
  const out = boxes.map(([name, role, where, label], i) => {
    const y = 8 + i * (h + gap)
    return rect(4, y, w - 8, h, i === key ? 'fg-box fg-key-box' : 'fg-box') + text(18, y + 24, name, 'fg-name') + text(18, y + 45, role, 'fg-note') +
      (where ? text(w - 16, y + 24, where, 'fg-small', 'end') : '') +
      (i < boxes.length - 1 ? arrow(40, y + h + 2, 40, y + h + gap - 3) + (label ? text(52, y + h + gap / 2 + 5, label, 'fg-label') : '') : '')
  })
  return svg(w, 8 + boxes.length * (h + gap) - gap + 8, title, out.join(''))
}

/** 01: who does what when a container's process starts. */
function helper(): string {
  return column('Your TypeScript drives the single-threaded C helper, which execs the command', [
    ['npx minidocker run …', 'Node.js: your code decides which calls, in which order', 'chapters/', 'requests on a socket: chdir, exec, …'],
    ['native/helper', 'C, one thread: one system call per request, each error as data', 'native/helper.c', 'execve: the helper becomes the command'],
    ['echo hello', 'the container\'s process, with the helper\'s PID and stdio', '', 'its exit code, or 128 + its signal'],
    ['helper.exited', 'what runProcess turns into minidocker\'s exit code', 'process.ts'],
  ], 1)
}

/** 06: from a manifest to the layers on disk. */
function store(): string {
  return column('From an image manifest to its layers on disk', [
    ['manifest', 'config digest, layer digests (compressed blobs)', ''],
    ['config', 'sha256 of its bytes = the image ID', 'image/overlay2/imagedb/content/sha256/<image ID>'],
    ['rootfs.diff_ids', 'sha256 of each layer\'s uncompressed tar', ''],
    ['chain IDs', 'each layer together with every layer below it', ''],
    ['layerdb/sha256/<chain ID>/', 'diff, parent, cache-id, size', 'image/overlay2/layerdb/'],
    ['overlay2/<cache-id>/', 'diff/ link lower work/', '/var/lib/docker/overlay2/'],
  ], 3)
}

/** 07: the requests of a pull, in order. */
function pull(): string {
  const steps: [string, string, boolean][] = [
    ['GET /v2/', '401, WWW-Authenticate: Bearer realm=…', false],
    ['GET realm?service=…&scope=repository:NAME:pull', '200 {"token": …}', false],
    ['GET /v2/NAME/manifests/TAG  (Accept: 4 types)', '200 index: one manifest per platform', false],
    ['GET /v2/NAME/manifests/sha256:… (this platform)', '200 manifest: config + layers', false],
    ['GET /v2/NAME/blobs/<config>   } at the same time,', '200 config (its diff_ids)', true],
    ['GET /v2/NAME/blobs/<layer n>  } 3 at a time', '200 layer tar.gz, digest checked', true],
  ]
  const left = 60, right = 520, top = 50, step = 64
  const out: string[] = [
    text(4, 24, 'minidocker pull', 'fg-name'), text(right + 36, 24, 'registry', 'fg-name', 'end'),
    `<path class="fg-life" d="M${left} 34V${top + steps.length * step}M${right} 34V${top + steps.length * step}"/>`,
  ]
  steps.forEach(([request, answer, together], i) => {
    const y = top + i * step
    out.push(
      arrow(left, y + 10, right - 4, y + 10), text(left + 10, y + 2, request, together ? 'fg-small fg-key' : 'fg-small'),
      arrow(right, y + 40, left + 4, y + 40, 'fg-arrow fg-answer'), text(right - 10, y + 34, answer, 'fg-small', 'end'),
    )
  })
  const y = top + steps.length * step + 10
  out.push(text(left, y + 14, 'then, bottom layer first: unpack each into the layer store (chapter 06), tag the image', 'fg-note'))
  return svg(580, y + 26, 'The requests of a registry pull, in order', out.join(''))
}

/** 10: one `ctr run` through containerd's runc shim: the process tree, and the sockets and FIFOs between them. */
function shim(): string {
  const rows: TreeRow[] = [
    [0, 'systemd (1)'],
    [1, 'containerd', 'gRPC c.sock, ttrpc c.sock.ttrpc (events in)'],
    [1, 'ctr run', 'makes the FIFOs: ID-stdin, ID-stdout, ID-stderr'],
    [1, 'containerd-shim-runc-v2', 'ttrpc /run/containerd/s/HASH', 'fg-key'],
    [2, 'runc create', 'exits; its child is reparented', 'fg-gone'],
    [2, 'sh (the container)', 'PID 1 inside; pipes to the shim', 'fg-new'],
  ]
  const top = 34
  const h = top + rows.length * ROW + 3 * ROW
  const y = top + rows.length * ROW + 8
  return svg(640, h, 'The process tree of a container run through the shim, with the sockets and FIFOs between containerd, the shim and the container',
    tree(20, top, rows, 250) +
    text(20, y + 10, 'containerd → shim: ttrpc Task calls (Create, Start, Wait ...); shim → containerd: Events/Forward', 'fg-note') +
    text(20, y + 10 + ROW, 'ctr ⇄ FIFOs ⇄ shim ⇄ pipes ⇄ container', 'fg-note'))
}

/** 11: the requests of `docker run --rm` and the calls they cause below the daemon. */
function dockerRun(): string {
  const x = { cli: 40, daemon: 300, containerd: 560 }
  // [from, to, label, answer?]: one row each, in the order they happen
  const rows: [keyof typeof x, keyof typeof x, string, string?][] = [
    ['cli', 'daemon', 'HEAD /_ping', '200, Api-Version: 1.41'],
    ['cli', 'daemon', 'POST /v1.41/containers/create', '201 {"Id"} (404: pull, then again)'],
    ['cli', 'daemon', 'POST …/attach (Upgrade: tcp)', '101 UPGRADED: a raw stream'],
    ['cli', 'daemon', 'POST …/wait?condition=removed', '200, then a body: when?'],
    ['cli', 'daemon', 'POST …/start'],
    ['daemon', 'containerd', 'Containers.Create (spec)'],
    ['daemon', 'containerd', 'Tasks.Create (rootfs, FIFOs)', 'shim starts; runc create'],
    ['daemon', 'containerd', 'Tasks.Start', 'runc start: pid'],
    ['daemon', 'cli', '204 (start done)'],
    ['daemon', 'cli', 'attach: a frame of "hi\\n"'],
    ['daemon', 'containerd', 'Tasks.Wait', 'exit_status 0'],
    ['daemon', 'containerd', 'Tasks.Delete, Containers.Delete'],
    ['daemon', 'cli', 'wait body {"StatusCode":0}'],
  ]
  const top = 50, step = 34
  const bottom = top + rows.length * step
  const out: string[] = [
    text(x.cli, 24, 'docker CLI', 'fg-name', 'middle'), text(x.daemon, 24, 'minidockerd', 'fg-name', 'middle'), text(x.containerd, 24, 'containerd', 'fg-name', 'middle'),
    `<path class="fg-life" d="M${x.cli} 34V${bottom}M${x.daemon} 34V${bottom}M${x.containerd} 34V${bottom}"/>`,
  ]
  rows.forEach(([from, to, label, answer], i) => {
    const y = top + i * step
    const [a, b] = [x[from], x[to]]
    const right = b > a
    out.push(arrow(a, y + 8, right ? b - 4 : b + 4, y + 8, from === 'cli' || to === 'cli' ? 'fg-arrow' : 'fg-arrow fg-answer'))
    out.push(text(right ? a + 8 : a - 8, y + 2, label, to === 'containerd' ? 'fg-small fg-key' : 'fg-small', right ? 'start' : 'end'))
    if (answer) out.push(text(right ? b - 8 : b + 8, y + 22, answer, 'fg-note', right ? 'end' : 'start'))
  })
  const tree = ['the processes while it runs:', 'minidockerd (Node)', 'containerd', 'containerd-shim-runc-v2   (a child of PID 1: it outlives containerd)', '└─ echo hi   (runc has exited)']
  tree.forEach((line, i) => out.push(text(x.cli - 20, bottom + 26 + i * 18, line, i === 0 ? 'fg-note' : 'fg-small')))
  return svg(640, bottom + 26 + tree.length * 18, 'The requests of docker run against minidockerd, and the gRPC calls they cause in containerd', out.join(''))
}

/** 08: what `run -p 8080:80` makes in the host's network namespace and the container's. */
function network(): string {
  const rows: TreeRow[] = [
    [0, 'the host', 'its own lo, eth0 and routes stay as they were'],
    [1, 'minidocker0  172.29.0.1/16', 'the bridge; net.ipv4.ip_forward = 1', 'fg-key'],
    [2, 'veth3f9a1c2', 'one end of a veth pair, on the bridge', 'fg-new'],
    [3, 'eth0  172.29.0.2/16', 'its peer, moved into the container\'s namespace', 'fg-new'],
    [3, 'lo  127.0.0.1', 'the container\'s, up; default via 172.29.0.1', 'fg-new'],
    [1, 'nat MINIDOCKER', 'from PREROUTING and OUTPUT, to local addresses'],
    [2, 'DNAT tcp :8080 → 172.29.0.2:80', 'traffic from outside', 'fg-new'],
    [1, 'minidocker-proxy 0.0.0.0:8080', 'traffic to 127.0.0.1:8080', 'fg-new'],
    [1, 'network/ipam.json', '172.29.0.2 → its owner\'s PID and start time', 'fg-new'],
  ]
  return svg(700, 30 + rows.length * ROW, 'The bridge, a container\'s veth pair, its DNAT rule and proxy', tree(12, 24, rows, 340))
}

/** 09: who calls the runtime, what each command leaves on disk, and where the process waits. */
function runtime(): string {
  const lanes: [string, number][] = [['containerd-shim-runc-v2', 90], ['minirunc', 330], ['the container\'s process', 540]]
  const steps: [number, number, string, string][] = [
    [0, 1, 'create --bundle B --pid-file B/init.pid ID', 'reads B/config.json; makes ROOT/ID/state.json, exec.fifo'],
    [1, 2, 'helper: namespaces, cgroup, hooks, pivot_root', 'waits on exec.fifo: "created"'],
    [0, 1, 'start ID', 'takes what the process hands over, never blocking'],
    [1, 2, 'the process is released and execs', 'exec.fifo removed: "running"'],
    [0, 1, 'kill ID 9', 'kill(2) of the process; the shim, a subreaper, reaps it'],
    [0, 1, 'delete ID', 'cgroup and ROOT/ID removed; poststop hooks'],
  ]
  const top = 50, step = 58
  const bottom = top + steps.length * step
  const out: string[] = lanes.map(([name, x]) => text(x, 24, name, 'fg-name', 'middle'))
  out.push(`<path class="fg-life" d="${lanes.map(([, x]) => `M${x} 34V${bottom}`).join('')}"/>`)
  steps.forEach(([from, to, label, note], i) => {
    const y = top + i * step
    const x1 = lanes[from]![1], x2 = lanes[to]![1]
    out.push(arrow(x1, y + 12, x2 - 4, y + 12), text(x1 + 8, y + 4, label, from === 0 ? 'fg-small fg-key' : 'fg-small'), text(x1 + 8, y + 32, note, 'fg-note'))
  })
  return svg(660, bottom + 16, 'The runtime\'s life cycle: create parks the process on exec.fifo, start releases it', out.join(''))
}

/** 13: the runtime's set-up from clone to exec, and where each protection goes in it. */
function security(): string {
  // [who does it, the step, the protection it carries (empty: none), drawn as]
  const steps: [string, string, string, Cls][] = [
    ['runtime', 're-exec from a sealed memfd copy of itself', 'the runtime defends itself', 'fg-key'],
    ['runtime', 'clone: CLONE_NEWUSER first, then the other namespaces', 'user namespace', 'fg-key'],
    ['runtime', 'uid_map and gid_map written for the child: by whom?', 'user namespace', 'fg-key'],
    ['runtime', 'cgroup, network, prestart and createRuntime hooks', '', ''],
    ['process', 'mounts, pivot_root', '', ''],
    ['process', 'maskedPaths: /dev/null or an empty tmpfs over each', 'masked paths', 'fg-new'],
    ['process', 'readonlyPaths: bind, remount read-only', 'read-only paths', 'fg-new'],
    ['process', 'sysctl, rlimits, cwd, terminal', '', ''],
    ['process', 'no_new_privs, the five capability sets and the user,', 'no_new_privs', 'fg-new'],
    ['process', 'in the one order the kernel allows: which?', 'capabilities', 'fg-new'],
    ['process', 'the seccomp filter: here, or ...', 'seccomp', 'fg-new'],
    ['process', 'waits on exec.fifo; closes inherited fds; cwd inside root', 'the runtime defends itself', 'fg-key'],
    ['process', '... here? When each, and why?', 'seccomp', 'fg-new'],
    ['process', 'execve(the program)', '', ''],
  ]
  const top = 52, step = 30
  const out: string[] = [text(24, 24, 'who', 'fg-name'), text(110, 24, 'step, in order', 'fg-name'), text(560, 24, 'protection', 'fg-name')]
  out.push(`<path class="fg-life" d="M100 34V${top + steps.length * step - 14}"/>`)
  steps.forEach(([who, label, protection, cls], i) => {
    const y = top + i * step
    out.push(text(24, y, who, 'fg-note'), text(110, y, label, `fg-small ${cls}`))
    if (protection) out.push(text(560, y, protection, `fg-note ${cls}`))
  })
  return svg(760, top + steps.length * step, 'The runtime\'s set-up from clone to exec, with the step where each protection is applied', out.join(''))
}

/** 12: the six steps of `docker run hello-world` with the workbook's programs, and the chapter that built each. */
function client(): string {
  // [program, chapter, what the step to the next one is]
  const chain: [string, string, string][] = [
    ['minidocker run (the client)', '12', '1. Engine API, HTTP/1.1 on a unix socket: a ping, then the requests of run'],
    ['minidockerd', '11', '3. gRPC on containerd.sock: Containers.Create, Tasks.Create/Start/Wait'],
    ['containerd (or minicontainerd)', '10', '4. starts the shim; ttrpc both ways'],
    ['containerd-shim-minidocker-v2', '10', '5. runs the runtime: create, start, delete'],
    ['minirunc', '09', '6. namespaces, cgroup, rootfs on layers, then execve'],
    ['the container\'s program', '01–08', ''],
  ]
  const x = 20, w = 250, h = 30, step = 62, top = 20
  const out: string[] = []
  chain.forEach(([name, chapter, next], i) => {
    const y = top + i * step
    out.push(rect(x, y, w, h, i === 0 ? 'fg-box fg-key-box' : 'fg-box'), text(x + 10, y + 20, name, 'fg-small'), text(x + w - 8, y + 20, chapter, 'fg-note', 'end'))
    if (next) out.push(arrow(x + 40, y + h, x + 40, y + step - 2), text(x + 50, y + h + 20, next, 'fg-note'))
  })
  // step 2 leaves the chain: the daemon pulls from the registry
  const ry = top + step
  out.push(arrow(x + w, ry + h / 2, 420, ry + h / 2), rect(420, ry, 200, h, 'fg-box'), text(430, ry + 20, 'registry (loopback)', 'fg-small'), text(612, ry + 20, '07', 'fg-note', 'end'),
    text(x + w + 8, ry + h / 2 - 6, '2. Registry API v2', 'fg-note'))
  return svg(640, top + chain.length * step, 'The six steps of docker run hello-world, with the program of this workbook that takes each, and its chapter', out.join(''))
}

/** The figures by name, with their captions (HTML). */
const FIGURES: Record<string, { caption: string; draw: () => string }> = {
  helper: { draw: helper, caption: 'A container\'s process in this workbook: the helper runs the system calls your TypeScript asks for, then becomes the command with <code>execve</code>.' },
  'pid-namespace': { draw: pidNamespace, caption: 'The same processes, two sets of numbers: the relay stays on the host, its child is PID 1 of the new namespace.' },
  'pivot-root': { draw: pivotRoot, caption: 'The container\'s mount namespace before and after <code>pivot_root</code>: the rootfs becomes <code>/</code>, and with the old root, stacked on it by <code>pivot_root(".", ".")</code>, detached, no mount leads back to the host.' },
  'pivot-root-goal': { draw: () => pivotRoot(false), caption: 'What <code>pivotRoot</code> must turn the container\'s mount namespace into: the rootfs as <code>/</code> with the spec\'s mounts, and no mount left that leads back to the host\'s files.' },
  'cgroup-tree': { draw: cgroupTree, caption: 'A cgroup v2 hierarchy on a systemd host. minidocker nests the container beside its own cgroup (v2 forbids controllers below a cgroup that holds processes); Docker\'s systemd driver makes a scope under <code>system.slice</code>.' },
  'cgroup-tree-goal': { draw: () => cgroupTree(false), caption: 'A cgroup v2 hierarchy on a systemd host, with a container of Docker\'s and your own shell. Where can <code>minidocker/&lt;id&gt;</code> go so that the limits on you still hold and its controllers can be enabled?' },
  overlay: { draw: overlay, caption: 'An overlay mount. Writing <code>/etc/passwd</code> copies it up from the lower layer first; deleting <code>/tmp/junk</code> leaves a whiteout in the upper layer, which hides the lower file from the merged view.' },
  store: { draw: store, caption: 'From a manifest to files on disk: the digests a registry serves, the IDs Docker computes from them, and where each lives under <code>/var/lib/docker</code> (overlay2 storage driver).' },
  'docker-run': { draw: dockerRun, caption: '<code>docker run --rm busybox echo hi</code> through minidockerd: the CLI attaches and waits before it starts, and the daemon drives containerd, whose shim runs runc and outlives it.' },
  network: { draw: network, caption: 'What <code>minidocker run -p 8080:80</code> adds: a veth pair from the bridge into the container\'s namespace, a DNAT rule for traffic from outside and a proxy for the host\'s own loopback, and an address recorded under a lock.' },
  runtime: { draw: runtime, caption: 'One container through an OCI runtime, as containerd\'s shim drives it: <code>create</code> sets the process up and leaves it blocked on <code>ROOT/ID/exec.fifo</code>; <code>start</code> opens the fifo and the process execs; the shim collects the exit; <code>delete</code> removes what is left.' },
  shim: { draw: shim, caption: 'One <code>ctr run</code> through containerd\'s runc shim. The shim is not containerd\'s child, so it outlives it; the container is the shim\'s child, although runc started it; containerd and the shim talk ttrpc both ways, and the container\'s output goes through pipes to the shim and FIFOs to ctr.' },
  security: { draw: security, caption: 'Inside the runtime, from clone to exec: the user namespace comes first (the other namespaces are then owned by it), the masks come with the mounts, and the user, capabilities, no_new_privs and seccomp come last, in the one order the kernel allows: finding it is the chapter\'s work. The seccomp filter has two possible places.' },
  client: { draw: client, caption: 'The six steps of <code>docker run hello-world</code> with this workbook\'s programs, each marked with the chapter that built it: the client speaks the Engine API to the daemon, which pulls from the registry, then drives containerd, whose shim runs the runtime, which sets up the process and execs it.' },
  pull: { draw: pull, caption: 'A pull, request by request: the token dance, the index and the platform\'s manifest, then the config and the layers downloaded together.' },
}

export const FIGURE_NAMES = Object.keys(FIGURES)

/** The figure NAME as HTML, or null when there is none by that name. */
export function figure(name: string): string | null {
  const f = FIGURES[name]
  return f ? `<figure class="figure" id="figure-${name}">\n${f.draw()}\n<figcaption>${f.caption}</figcaption>\n</figure>` : null
}
