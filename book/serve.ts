/**
 * `npm run book -- --serve`: the site on 127.0.0.1, rebuilt whenever a chapter, a source file
 * or the book's own content changes; open pages reload through a server-sent event stream.
 * (A change to the builder's TypeScript needs a restart; its CSS, script and texts do not.)
 */
import { createReadStream, existsSync, statSync, watch } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { extname, join, normalize } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml', '.woff2': 'font/woff2', '.png': 'image/png', '.json': 'application/json',
}

export interface BookServer {
  server: Server
  url: string
  /** tell every open page to reload */
  reload(): void
  close(): Promise<void>
}

/** Serve `dir` on 127.0.0.1 (port 0 picks a free one). */
export function serveSite(dir: string, port = 0): Promise<BookServer> {
  const clients = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    if (path === '/__reload') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write(': connected\n\n')
      clients.add(res)
      req.on('close', () => clients.delete(res))
      return
    }
    let file = join(dir, normalize(path).replace(/^(\.\.[/\\])+/, ''))
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html')
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`)
      return
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    createReadStream(file).pipe(res)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`
      resolve({
        server, url,
        reload: () => clients.forEach((c) => c.write('event: reload\ndata: \n\n')),
        close: () => {
          clients.forEach((c) => c.end())
          return new Promise((done) => server.close(() => done()))
        },
      })
    })
  })
}

/** Call `onChange` (debounced) when anything under `paths` changes, ignoring `ignore`. */
export function watchSources(paths: string[], ignore: string, onChange: () => void): () => void {
  let timer: NodeJS.Timeout | undefined
  const watchers = paths.filter(existsSync).map((p) =>
    watch(p, { recursive: statSync(p).isDirectory() }, (_event, name) => {
      if (name && join(p, name).startsWith(ignore)) return
      clearTimeout(timer)
      timer = setTimeout(onChange, 120)
    }),
  )
  return () => watchers.forEach((w) => w.close())
}
