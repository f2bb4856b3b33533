/**
 * The front page's diagram: the path of `docker run hello-world` from the client down to the
 * kernel, as inline SVG (so it follows the theme's colours and stays sharp at any size). It is
 * drawn twice from the same parts, wide for a desktop and tall for a phone; CSS shows one.
 */
import { escapeHtml } from './markdown.ts'

interface Box {
  x: number
  y: number
  w: number
  h: number
  name: string
  role: string
  /** the chapters that build it */
  chapters: string
}

interface Arrow {
  from: [number, number]
  to: [number, number]
  label: string
  /** where the label's text starts, and its anchor */
  at: [number, number]
  anchor?: 'start' | 'middle' | 'end'
}

interface Drawing {
  width: number
  height: number
  programs: Box[]
  registry: Box
  kernel: { x: number; y: number; w: number; h: number }
  /** the kernel features the container is made of, and the process itself */
  chips: Box[]
  hello: Box
  arrows: Arrow[]
}

const PROGRAMS = [
  { name: 'docker', role: 'the client', chapters: '12' },
  { name: 'dockerd', role: 'the daemon', chapters: '11' },
  { name: 'containerd', role: 'manages containers', chapters: '10' },
  { name: 'shim', role: 'containerd-shim-runc-v2', chapters: '10' },
  { name: 'runc', role: 'the OCI runtime', chapters: '09' },
]
const LINKS = ['REST on docker.sock', 'gRPC', 'starts it', 'runc create, start']
const CHIPS = [
  { name: 'namespaces', role: 'UTS, PID, IPC, mount, net', chapters: '02 · 08' },
  { name: 'root filesystem', role: 'pivot_root, /proc, /dev', chapters: '03' },
  { name: 'cgroup', role: 'memory, CPU, PIDs', chapters: '04' },
  { name: 'image layers', role: 'overlayfs, whiteouts', chapters: '05 · 06' },
]
const HELLO = { name: 'hello', role: 'execve: the container runs', chapters: '01' }
const REGISTRY = { name: 'registry', role: 'blobs by digest', chapters: '07' }

function wide(): Drawing {
  const w = 150, h = 78, gap = 42, top = 128, left = 20
  const programs = PROGRAMS.map((p, i) => ({ ...p, x: left + i * (w + gap), y: top, w, h }))
  const kernel = { x: 10, y: 278, w: 940, h: 172 }
  const chips = CHIPS.map((c, i) => ({ ...c, x: 32 + i * 172, y: 334, w: 158, h: 92 }))
  const hello = { ...HELLO, x: 740, y: 334, w: 190, h: 92 }
  const registry = { ...REGISTRY, x: programs[1].x, y: 14, w, h: 66 }
  const arrows: Arrow[] = LINKS.map((label, i) => {
    const a = programs[i], b = programs[i + 1]
    const y = a.y + h / 2
    return { from: [a.x + w, y], to: [b.x - 4, y], label, at: [a.x + w + gap / 2, a.y - 24], anchor: 'middle' }
  })
  const runc = programs[4]
  arrows.push(
    { from: [registry.x + w / 2, registry.y + registry.h + 2], to: [registry.x + w / 2, top - 4], label: 'pull', at: [registry.x + w / 2 + 10, 108], anchor: 'start' },
    { from: [runc.x + w / 2, top + h], to: [hello.x + hello.w / 2 + 20, hello.y - 4], label: 'clone, pivot_root, execve', at: [runc.x + w / 2 - 50, 262], anchor: 'end' },
  )
  return { width: 960, height: 462, programs, registry, kernel, chips, hello, arrows }
}

function tall(): Drawing {
  const w = 190, h = 70, step = 112, left = 16, top = 16
  const programs = PROGRAMS.map((p, i) => ({ ...p, x: left, y: top + i * step, w, h }))
  const arrows: Arrow[] = LINKS.map((label, i) => {
    const a = programs[i]
    const x = a.x + 40
    return { from: [x, a.y + h], to: [x, a.y + step - 4], label, at: [x + 12, a.y + h + 26], anchor: 'start' }
  })
  const registry = { ...REGISTRY, x: 240, y: programs[1].y, w: 124, h }
  const kernelTop = top + 5 * step - 6
  const kernel = { x: 6, y: kernelTop + 30, w: 368, h: 362 }
  // the process first, right under runc, so the arrow crosses nothing
  const hello = { ...HELLO, x: 20, y: kernel.y + 52, w: 334, h: 80 }
  const chips = CHIPS.map((c, i) => ({ ...c, x: 20 + (i % 2) * 172, y: hello.y + hello.h + 22 + Math.floor(i / 2) * 102, w: 162, h: 92 }))
  const runc = programs[4]
  arrows.push(
    { from: [registry.x - 2, registry.y + h / 2], to: [programs[1].x + w + 4, registry.y + h / 2], label: 'pull', at: [registry.x - 20, registry.y + h / 2 - 8], anchor: 'middle' },
    { from: [runc.x + 40, runc.y + h], to: [runc.x + 40, hello.y - 4], label: 'clone, pivot_root, execve', at: [runc.x + 52, runc.y + h + 26], anchor: 'start' },
  )
  return { width: 380, height: kernel.y + kernel.h + 8, programs, registry, kernel, chips, hello, arrows }
}

function box(b: Box, cls: string): string {
  const cx = b.x + b.w / 2
  return `<g class="${cls}"><rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="10"/>` +
    `<text class="dg-name" x="${cx}" y="${b.y + b.h / 2 - 6}" text-anchor="middle">${escapeHtml(b.name)}</text>` +
    `<text class="dg-role" x="${cx}" y="${b.y + b.h / 2 + 14}" text-anchor="middle">${escapeHtml(b.role)}</text>` +
    `<g class="dg-ch"><rect x="${b.x + b.w - 44}" y="${b.y - 10}" width="52" height="20" rx="10"/><text x="${b.x + b.w - 18}" y="${b.y + 4.5}" text-anchor="middle">${escapeHtml(b.chapters)}</text></g></g>`
}

function arrow(a: Arrow, head: string): string {
  const [x1, y1] = a.from, [x2, y2] = a.to
  const path = x1 === x2 || y1 === y2 ? `M${x1} ${y1}L${x2} ${y2}` : `M${x1} ${y1}C${x1} ${(y1 + y2) / 2} ${x2} ${(y1 + y2) / 2} ${x2} ${y2}`
  return `<path class="dg-arrow" d="${path}" marker-end="url(#${head})"/>` +
    `<text class="dg-label" x="${a.at[0]}" y="${a.at[1]}" text-anchor="${a.anchor ?? 'middle'}">${escapeHtml(a.label)}</text>`
}

function svg(d: Drawing, cls: string): string {
  const k = d.kernel
  return `<svg class="diagram ${cls}" viewBox="0 0 ${d.width} ${d.height}" role="img" aria-labelledby="dg-title-${cls} dg-desc-${cls}" xmlns="http://www.w3.org/2000/svg">
<title id="dg-title-${cls}">The path of docker run hello-world</title>
<desc id="dg-desc-${cls}">The docker client sends REST requests to dockerd, which pulls the image from a registry and asks containerd over gRPC to run it; containerd starts a shim, the shim runs runc, and runc asks the Linux kernel for namespaces, a root filesystem, a cgroup and image layers before it execs hello. The small numbers are the chapters that build each part.</desc>
<defs><marker id="dg-head-${cls}" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"/></marker></defs>
<g class="dg-kernel"><rect x="${k.x}" y="${k.y}" width="${k.w}" height="${k.h}" rx="14"/><text x="${k.x + 18}" y="${k.y + 30}">Linux kernel</text></g>
${d.arrows.map((a) => arrow(a, `dg-head-${cls}`)).join('\n')}
${d.programs.map((b) => box(b, 'dg-box')).join('\n')}
${box(d.registry, 'dg-box dg-registry')}
${d.chips.map((b) => box(b, 'dg-chip')).join('\n')}
${box(d.hello, 'dg-box dg-hello')}
</svg>`
}

/** Both drawings, in a figure with a caption. */
export function pathDiagram(): string {
  return `<figure class="diagram-figure">
${svg(wide(), 'diagram-wide')}
${svg(tall(), 'diagram-tall')}
<figcaption>The path of <code>docker run hello-world</code>. The small numbers are the chapters in which you build each part.</figcaption>
</figure>`
}
