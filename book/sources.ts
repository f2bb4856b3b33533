/**
 * Short links in the chapters' text, expanded at build time: `moby:PATH` (and `cli:`,
 * `containerd:`, `runc:`, `distribution:`) to the file at the tag README.md's "The versions the
 * text describes" names, so the versions are written once; `man:pivot_root(2)` to the manual page.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The scheme of a short link, its repository, and how README.md's table names it. */
const REPOSITORIES: Record<string, { repo: string; row: RegExp }> = {
  moby: { repo: 'moby/moby', row: /\bmoby `([^`]+)`/ },
  cli: { repo: 'docker/cli', row: /docker\/cli `([^`]+)`/ },
  containerd: { repo: 'containerd/containerd', row: /\bcontainerd `([^`]+)`/ },
  runc: { repo: 'opencontainers/runc', row: /\brunc `([^`]+)`/ },
  distribution: { repo: 'distribution/distribution', row: /\bdistribution `([^`]+)`/ },
}

export type ShortLinks = (href: string) => string | { error: string } | null

/** The expander for the repository at `root`; null for a link that is not short. */
export function shortLinks(root: string): ShortLinks {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const tags = Object.fromEntries(Object.entries(REPOSITORIES).map(([scheme, r]) => [scheme, r.row.exec(readme)?.[1]]))
  return (href) => {
    const man = /^man:([\w.-]+)\((\d)\)$/.exec(href)
    if (man) return `https://man7.org/linux/man-pages/man${man[2]}/${man[1]}.${man[2]}.html`
    const m = /^(\w+):(?!\/\/)(.+)$/.exec(href)
    if (!m || !(m[1] in REPOSITORIES)) return null
    const tag = tags[m[1]]
    if (!tag) return { error: `README.md's "The versions the text describes" names no tag for ${m[1]}` }
    const [path, line] = m[2].split('#')
    return `https://github.com/${REPOSITORIES[m[1]].repo}/blob/${tag}/${path}${line ? `#${line}` : ''}`
  }
}
