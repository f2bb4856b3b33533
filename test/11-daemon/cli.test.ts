/**
 * minidockerd driven by the real docker CLIs (28.2.2 and Debian's 20.10), running containers
 * through the real containerd 1.6 with its runc shim. One containerd, registry and daemon
 * for the whole file.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import {
  busyboxEntries, CLIS, docker, imageRegistry, removeContainersAndStop, removeDir, startContainerd, startMinidockerd, throwIfUnwritten,
  type Cli, type Containerd, type Dockerd,
} from '../support/daemon.ts'
import { pushImage, type Registry } from '../support/registry.ts'
import { buildImage } from '../support/images.ts'

let dir: string
let containerd: Containerd
let registry: Registry
let daemon: Dockerd & { pid: number }
let busybox: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-'))
  containerd = await startContainerd(join(dir, 'containerd'))
  registry = await imageRegistry()
  daemon = await startMinidockerd(join(dir, 'daemon'), containerd)
  busybox = `${registry.host}/busybox`
}, 120_000)

afterAll(async () => {
  // containers a failed test left: removed through the daemon, so that containerd stops their shims
  if (daemon) await removeContainersAndStop(daemon)
  await containerd?.stop()
  await registry?.stop()
  if (dir) removeDir(dir)
}, 120_000)

/** A CLI command against the daemon; `stuck` says what to suspect if it hangs (20 s, within the test's 30 s). */
// a pull runs given code only, and takes long only on a loaded machine: it gets a wider limit
const cut = (args: string[]) => (args[0] === 'pull' ? 45_000 : 20_000)
const run = (cli: Cli, args: string[], input?: string, stuck?: string) => docker(cli, daemon.host, args, { input, stuck, timeout: cut(args) })

/** One raw HTTP request on the daemon's socket: status, headers, body. */
function http(method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon.host.slice('unix://'.length), method, path, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => {
        try {
          throwIfUnwritten(text)
          resolve({ status: res.statusCode!, headers: res.headers, body: text })
        } catch (error) {
          reject(error)
        }
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

// Each CLI call is cut at 20 s with a message naming what to suspect; a test gets room for one such hang.
vi.setConfig({ testTimeout: 60_000 })

describeKernel('minidockerd with the real docker CLI', () => {
  for (const cli of Object.keys(CLIS) as Cli[]) {
    it(`${cli}: _ping and version, pull and images (given code), then run --rm of echo hi, and of a shell that writes to both streams and exits 3`, async () => {
      if (cli === '28.2.2') {
        const get = await http('GET', '/_ping')
        expect([get.status, get.body], 'GET /_ping: expected what dockerd answers (the captured ping in the text\'s "Rules for every request")').toEqual([200, 'OK'])
        const ping = await http('HEAD', '/_ping')
        expect(ping.status, 'HEAD /_ping: expected what dockerd answers (the captured ping)').toBe(200)
        expect({ 'api-version': ping.headers['api-version'], ostype: ping.headers.ostype }, 'HEAD /_ping: expected the headers of the captured ping — which of them does the CLI act on (the text\'s "Rules for every request")?')
          .toEqual({ 'api-version': '1.41', ostype: 'linux' })
        const version = await run('28.2.2', ['version', '--format', '{{.Server.APIVersion}}'])
        expect(version.stdout.trim(), `docker version: expected the server's API version, saw ${version.stdout}${version.stderr}`).toBe('1.41')
      }
      const pull = await run(cli, ['pull', busybox])
      expect(pull.exitCode, `docker pull failed: ${pull.stderr}`).toBe(0)
      expect(pull.stdout, 'docker pull: expected the last lines the CLI prints with dockerd (the text\'s "Pull through the daemon")').toMatch(/Digest: sha256:[a-f0-9]{64}\n/)
      expect(pull.stdout).toMatch(/Status: (Downloaded newer image|Image is up to date) for 127\.0\.0\.1:\d+\/busybox:latest/)
      const images = await run(cli, ['images', '--format', '{{.Repository}}:{{.Tag}}'])
      expect(images.stdout.split('\n'), 'docker images after the pull: expected the image').toContain(`${busybox}:latest`)
      const hi = await run(cli, ['run', '--rm', '--network', 'none', busybox, 'echo', 'hi'], undefined,
        'what does the CLI wait for before it sends start? Compare your daemon\'s answers with dockerd\'s, request by request (the text\'s "The choreography of `docker run`"; the CLI\'s waitExitOrRemoved)')
      expect(hi.stdout, `expected "hi" from the container but saw ${JSON.stringify(hi.stdout)} — when must your ends of the FIFOs be open, and when has all of the output come (the text's "Start, and the FIFOs", "Attach, wait and the exit")?`).toBe('hi\n')
      expect(hi.exitCode, `expected exit 0, saw ${hi.exitCode}: ${hi.stderr}`).toBe(0)
      expect(hi.stderr, 'expected no error on stderr').not.toMatch(/error/i)
      const code = await run(cli, ['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 3'])
      expect([code.stdout, code.stderr], 'expected the container\'s stdout and stderr on the CLI\'s stdout and stderr — how does the CLI tell them apart (the text\'s "Frames and the json-file log")?').toEqual(['out\n', 'err\n'])
      expect(code.exitCode, 'expected docker run to exit with the container\'s code — where does the CLI read it from (the Engine API reference\'s ContainerWait)?').toBe(3)
      const all = await run(cli, ['ps', '-a', '--format', '{{.Command}}'])
      expect(all.stdout, 'expected no container left once docker run --rm has returned — what does the CLI\'s wait wait for, and who removes the container (the text\'s "The choreography of `docker run`")?').not.toMatch(/echo hi|exit 3/)
    })

    it(`${cli}: hello-stdin piped into run -i cat`, async () => {
      const cat = await run(cli, ['run', '--rm', '-i', '--network', 'none', busybox, 'cat'], 'hello-stdin\n',
        'cat never saw the end of its stdin: how does the CLI tell the daemon that its input has ended (strace -f -e trace=network docker ...), and what ends a container\'s stdin (the text\'s "Attach, wait and the exit")?')
      expect(cat.stdout, 'expected cat to echo what was piped — when does the CLI send it, relative to start (the text\'s "The choreography of `docker run`")?').toBe('hello-stdin\n')
      expect(cat.exitCode).toBe(0)
    })
  }

  it('run -d --name worker, then ps, logs, inspect, stop, start, kill, wait and rm', async () => {
    const cli: Cli = '20.10'
    const started = await run(cli, ['run', '-d', '--name', 'worker', '--network', 'none', '-e', 'WHO=tests', '-w', '/tmp', '-h', 'box', busybox,
      'sh', '-c', 'echo "$WHO in $(pwd) on $(hostname)"; echo oops >&2; trap "exit 7" TERM; while true; do sleep 0.1; done'])
    expect(started.exitCode, `run -d failed: ${started.stderr}`).toBe(0)
    const id = started.stdout.trim()
    expect(id, 'docker run -d: expected the full container ID on stdout').toMatch(/^[a-f0-9]{64}$/)
    const ps = await run(cli, ['ps', '--format', '{{.Names}} {{.Status}}'])
    expect(ps.stdout, 'docker ps: expected the running container').toMatch(/^worker Up /m)
    const named = await run(cli, ['ps', '-a', '--filter', 'name=work', '--filter', 'status=running', '--format', '{{.Names}}'])
    expect([named.stdout, named.stderr], `expected \`docker ps -a --filter name=work --filter status=running\` to list worker alone, saw stdout ${JSON.stringify(named.stdout)} and stderr ${JSON.stringify(named.stderr)}: what does this CLI send for --filter (the text's "Stop, kill, rm, ps")?`).toEqual(['worker\n', ''])
    expect((await run(cli, ['ps', '-a', '-q', '--filter', 'name=nobody-has-this-name'])).stdout, 'docker ps -a -q --filter name=nobody-has-this-name: expected no container').toBe('')
    let logs = await run('28.2.2', ['logs', 'worker'])
    for (let i = 0; i < 50 && !logs.stderr.includes('oops'); i++) logs = await run('28.2.2', ['logs', 'worker'])
    expect([logs.stdout, logs.stderr], 'docker logs: expected the container\'s output on its two streams').toEqual(['tests in /tmp on box\n', 'oops\n'])
    const state = await run(cli, ['inspect', '-f', '{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Hostname}}', 'worker'])
    expect(state.stdout).toBe('running true /worker box\n')
    const files = readdirSync(join(daemon.root, 'containers', id)).sort()
    for (const f of ['config.v2.json', 'hostconfig.json', 'hostname', 'hosts', 'resolv.conf', `${id}-json.log`])
      expect(files, `expected ${f} in ROOT/containers/ID, as in a real dockerd's /var/lib/docker/containers/ID`).toContain(f)
    expect(JSON.parse(readFileSync(join(daemon.root, 'containers', id, 'config.v2.json'), 'utf8')).State.Running).toBe(true)

    const stop = await run(cli, ['stop', 'worker'])
    expect(stop.exitCode, `stop failed: ${stop.stderr}`).toBe(0)
    const stopped = await run(cli, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'worker'])
    expect(stopped.stdout, 'docker stop: expected the container\'s trap to have run (exit 7) — what does docker stop send first, and when does it use force (docker-stop(1))?').toBe('exited 7\n')
    expect((await run(cli, ['ps', '-q'])).stdout).toBe('')
    expect((await run(cli, ['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).stdout).toMatch(/^worker Exited \(7\) /m)

    expect((await run(cli, ['start', 'worker'])).exitCode).toBe(0)
    const kill = await run(cli, ['kill', '-s', 'KILL', 'worker'])
    expect(kill.exitCode, `kill failed: ${kill.stderr}`).toBe(0)
    // the container may have exited before the wait arrives, so both waits may meet a stopped container
    const exited = 'docker wait of a container that had exited never returned: which exit does a wait with the default condition wait for (the Engine API reference\'s ContainerWait; moby daemon/wait.go)?'
    const wait = await run(cli, ['wait', 'worker'], undefined, exited)
    expect(wait.stdout, 'docker wait after docker kill -s KILL: expected the exit code dockerd reports (try it on a real dockerd; what does containerd report for a process a signal ended?)').toBe('137\n')
    const again = await run(cli, ['wait', 'worker'], undefined, exited)
    expect(again.stdout, 'a second docker wait: expected the same exit code').toBe('137\n')
    const rm = await run(cli, ['rm', 'worker'])
    expect(rm.exitCode, `rm failed: ${rm.stderr}`).toBe(0)
    expect(existsSync(join(daemon.root, 'containers', id)), 'docker rm: expected ROOT/containers/ID gone').toBe(false)
  })

  it('exec from both CLIs with -u, -w, -e and -i, then top and restart', async () => {
    const id = (await run('28.2.2', ['run', '-d', '--name', 'host-of-execs', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    for (const cli of Object.keys(CLIS) as Cli[]) {
      const exec = await run(cli, ['exec', 'host-of-execs', 'sh', '-c', 'echo inside; echo oops >&2; exit 4'], undefined,
        'docker exec never returned: what does the CLI expect as the answer to the exec start, and when does it stop reading (the text\'s "exec, a terminal, top and restart"; moby client/hijack.go)?')
      expect([exec.stdout, exec.stderr, exec.exitCode], `${cli}: docker exec: expected the exec's two streams and its exit code (GET /exec/ID/json)`).toEqual(['inside\n', 'oops\n', 4])
      const as = await run(cli, ['exec', '-u', '1000', '-w', '/tmp', '-e', 'WHO=exec', 'host-of-execs', 'sh', '-c', 'id -u; pwd; echo $WHO'])
      expect(as.stdout, 'docker exec -u 1000 -w /tmp -e WHO=exec: expected what dockerd prints').toBe('1000\n/tmp\nexec\n')
    }
    const piped = await run('20.10', ['exec', '-i', 'host-of-execs', 'cat'], 'to-exec\n', 'docker exec -i cat never returned: what ends an exec\'s stdin (the text\'s "exec, a terminal, top and restart")?')
    expect(piped.stdout, `docker exec -i cat: expected the piped line echoed but saw ${JSON.stringify(piped.stdout)} — what becomes of the bytes in a FIFO that nobody holds open any more (fifo(7)), and when does the shim open an exec's FIFOs?`).toBe('to-exec\n')
    const top = await run('28.2.2', ['top', 'host-of-execs'])
    expect(top.stdout, 'docker top: expected the container\'s sleep').toMatch(/sleep 30/)
    const before = (await run('28.2.2', ['inspect', '-f', '{{.State.Pid}}', id])).stdout
    const restart = await run('28.2.2', ['restart', '-t', '1', id])
    expect(restart.exitCode, `restart failed: ${restart.stderr}`).toBe(0)
    const after = await run('28.2.2', ['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', id])
    expect(after.stdout, 'docker restart: expected the container running, with another PID').toMatch(/^running \d+\n$/)
    expect(after.stdout).not.toContain(` ${before.trim()}\n`)
    await run('28.2.2', ['rm', '-f', id])
    const stopped = await run('28.2.2', ['exec', id, 'true'])
    expect(stopped.stderr, 'docker exec into a removed container: expected dockerd\'s error').toMatch(/No such container/)
  })

  it('run -t, and run -it under script(1)', async () => {
    const tty = await run('28.2.2', ['run', '--rm', '-t', '--network', 'none', busybox, 'sh', '-c', 'tty; echo tty-mode'])
    expect(tty.stdout, 'docker run -t: expected what the CLI prints with dockerd — how does the CLI read a tty container\'s output (the text\'s "Frames and the json-file log")?').toBe('/dev/pts/0\r\ntty-mode\r\n')
    // a person at a terminal types once the container asks: so does the test
    const session = execa('script', ['-qec', `${CLIS['20.10']} run -it --rm --network none ${busybox} sh -c 'echo ready; read x; echo got:$x'`, '/dev/null'],
      { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, stdin: 'pipe', reject: false, timeout: 20_000 })
    let seen = ''
    session.stdout!.on('data', (d: Buffer) => {
      if (!seen.includes('ready') && (seen += d).includes('ready')) session.stdin!.write('typed\r')
      else seen += d
    })
    const it = await session
    expect(it.timedOut, 'docker run -it did not finish: does the typed line reach the container?').toBe(false)
    expect(seen, 'docker run -it: expected the line typed at the terminal echoed by the container').toMatch(/got:typed/)
    expect(it.exitCode).toBe(0)
  })

  it('the daemon restarted with one container sleeping, one exiting 5 meanwhile, one still writing', async () => {
    const sleeper = (await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    // it exits 5 once /gate/go is there, made only when the daemon has stopped: a daemon stopped while it handled the exit would be another test
    const gate = join(dir, 'gate-brief')
    mkdirSync(gate, { recursive: true })
    const brief = (await run('28.2.2', ['run', '-d', '--network', 'none', '-v', `${gate}:/gate`, busybox, 'sh', '-c', 'echo before; while [ ! -e /gate/go ]; do sleep 0.1; done; exit 5'])).stdout.trim()
    const talker = (await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sh', '-c', 'echo one; sleep 2; echo two; sleep 30'])).stdout.trim()
    for (let i = 0; i < 50 && !(await run('28.2.2', ['logs', talker])).stdout.includes('one'); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect([sleeper, brief, talker].every((id) => /^[a-f0-9]{64}$/.test(id)), 'expected three containers started').toBe(true)
    await daemon.stop()
    writeFileSync(join(gate, 'go'), '')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    daemon = await startMinidockerd(join(dir, 'daemon'), containerd)
    const ps = await run('28.2.2', ['ps', '-q', '--no-trunc'])
    expect(ps.stdout, 'docker ps after the daemon\'s restart: expected the sleeping container (the text\'s "Exits, and a daemon that restarts")').toContain(sleeper)
    const wait = await run('28.2.2', ['wait', brief], undefined, 'docker wait of a container that exited while no daemon ran never returned: what does containerd say of a task that exited while no daemon was subscribed (the text\'s "Exits, and a daemon that restarts")?')
    expect(wait.stdout, 'docker wait of the container that exited while the daemon was down: expected its code').toBe('5\n')
    expect((await run('28.2.2', ['logs', brief])).stdout, 'docker logs after the restart: expected what was written before it').toBe('before\n')
    let logs = ''
    for (let i = 0; i < 50 && !logs.includes('two'); i++) {
      logs = (await run('28.2.2', ['logs', talker])).stdout
      if (!logs.includes('two')) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(logs, 'docker logs of the container still writing: expected what it wrote after the restart too — where does a restarted daemon find its output (openStreams\' TODO)?').toBe('one\ntwo\n')
    await run('28.2.2', ['rm', '-f', sleeper, brief, talker])
  })

  it('a second daemon on the same containerd namespace: its containers exit, live and while it is down, beside the first\'s sleeper', async () => {
    // two daemons (two roots, two sockets) in one containerd namespace: each hears the other's exits on its stream
    const first = daemon
    let second = await startMinidockerd(join(dir, 'second'), containerd)
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    const run = (d: Dockerd, args: string[], stuck?: string) => docker('28.2.2', d.host, args, { timeout: cut(args), stuck })
    try {
      for (const d of [first, second]) await run(d, ['pull', '-q', busybox])
      const sleeper = (await run(first, ['run', '-d', '--network', 'none', busybox, 'sleep', '60'])).stdout.trim()
      expect(sleeper, 'docker run -d through the first daemon: expected the container\'s ID').toMatch(/^[a-f0-9]{64}$/)

      // a container of the second daemon exits while both listen
      const brief = await run(second, ['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'exit 3'],
        'docker run --rm of `exit 3` through the second daemon never returned, while the first daemon, in the same containerd namespace, heard that exit on its stream too: what did it do with an exit of a container it does not have (the text\'s "Exits, and a daemon that restarts")?')
      expect(brief.exitCode, 'docker run --rm of `exit 3` through the second daemon: expected its code').toBe(3)
      await pause(500)
      const alive = await run(first, ['ps', '-q', '--no-trunc']).catch((error: Error) => ({ stdout: '', stderr: error.message, exitCode: -1 }))
      expect({ answered: alive.exitCode, sleeper: alive.stdout.includes(sleeper) },
        'docker ps through the first daemon, after a container of the second daemon exited: expected an answer listing its own sleeper — containerd sent that exit to every subscriber of the namespace: what does your onExit do with an exit of a container this daemon does not have?')
        .toEqual({ answered: 0, sleeper: true })

      // a container of the second daemon exits while the second daemon is down: only the first hears it
      const gate = join(dir, 'gate')
      mkdirSync(gate, { recursive: true })
      const gated = (await run(second, ['run', '-d', '--network', 'none', '-v', `${gate}:/gate`, busybox, 'sh', '-c', 'while [ ! -e /gate/go ]; do sleep 0.1; done; exit 7'])).stdout.trim()
      expect(gated, 'docker run -d through the second daemon: expected the container\'s ID').toMatch(/^[a-f0-9]{64}$/)
      await second.stop()
      writeFileSync(join(gate, 'go'), '')
      await pause(1500)
      second = await startMinidockerd(join(dir, 'second'), containerd)
      const waited = await run(second, ['wait', gated], 'docker wait, through the restarted second daemon, of its container that exited while it was down, never returned')
      expect(waited.stdout, 'docker wait through the restarted second daemon: expected 7, the code its container exited with while that daemon was down. The first daemon, in the same containerd namespace, heard that exit on its stream: what did it do with an exit of a container it does not have, and what is left in containerd for the second daemon to ask (the text\'s "Exits, and a daemon that restarts")?').toBe('7\n')

      const still = await run(first, ['inspect', '-f', '{{.State.Running}}', sleeper])
      expect(still.stdout, 'docker inspect of the first daemon\'s sleeper after the second daemon\'s containers exited: expected it still running').toBe('true\n')
      await run(first, ['rm', '-f', sleeper])
      await run(second, ['rm', '-f', gated])
    } finally {
      await removeContainersAndStop(second).catch(() => {})
    }
  }, 150_000)

  it('-v DIR:/data, -v DIR:/ro:ro, --memory 64m, --cpus 0.5 and --pids-limit 20', async () => {
    const shared = join(dir, 'shared')
    mkdirSync(shared)
    writeFileSync(join(shared, 'note'), 'from the host\n')
    const id = (await run('20.10', ['run', '-d', '--network', 'none', '-v', `${shared}:/data`, '-v', `${shared}:/ro:ro`, '--memory', '64m', '--cpus', '0.5', '--pids-limit', '20', busybox, 'sleep', '30'])).stdout.trim()
    expect(id, 'docker run -d with -v and limits: expected the container to start').toMatch(/^[a-f0-9]{64}$/)
    expect((await run('20.10', ['exec', id, 'cat', '/data/note'])).stdout, 'cat /data/note: expected the host\'s file').toBe('from the host\n')
    expect((await run('20.10', ['exec', id, 'sh', '-c', 'touch /ro/x'])).exitCode, 'touch /ro/x: expected the write refused').not.toBe(0)
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
    const cgroup = (controller: string, file: string) => readFileSync(join('/sys/fs/cgroup', v2 ? '' : controller, containerd.cgroupParent, id, file), 'utf8').trim()
    expect(cgroup('memory', v2 ? 'memory.max' : 'memory.limit_in_bytes'), '--memory 64m: expected the cgroup\'s limit dockerd sets (the OCI runtime spec\'s config-linux.md)').toBe(String(64 * 1024 * 1024))
    expect(cgroup('pids', 'pids.max'), '--pids-limit 20: expected the cgroup\'s limit').toBe('20')
    expect(v2 ? cgroup('cpu', 'cpu.max') : cgroup('cpu', 'cpu.cfs_quota_us'), '--cpus 0.5: expected the cgroup\'s limit dockerd sets (docker-run(1)\'s --cpus; the OCI runtime spec\'s config-linux.md; chapter 04)').toBe(v2 ? '50000 100000' : '50000')
    await run('20.10', ['rm', '-f', id])
  })

  it('run --init with an orphaned sleep, and stop of a --init container', async () => {
    const tree = await run('28.2.2', ['run', '--rm', '--init', '--network', 'none', busybox, 'sh', '-c', '(sleep 0.2 &); sleep 0.5; ps -o pid,stat,comm'])
    expect(tree.stdout, 'docker run --init: expected docker-init as PID 1').toMatch(/^\s*1\s+\S+\s+docker-init$/m)
    expect(tree.stdout, 'docker run --init: expected no zombie in ps (the text\'s "Stop, kill, rm, ps")').not.toMatch(/\sZ\S*\s/)
    const id = (await run('28.2.2', ['run', '-d', '--init', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    const started = Date.now()
    await run('28.2.2', ['stop', id])
    expect(Date.now() - started, 'docker stop of a --init container: expected it to return well before the 10 s of its timeout (docker-stop(1))').toBeLessThan(8000)
    expect((await run('28.2.2', ['inspect', '-f', '{{.State.ExitCode}}', id])).stdout, 'docker stop of a --init container: expected the exit code dockerd reports (try it on a real dockerd)').toBe('143\n')
    await run('28.2.2', ['rm', id])
  })

  it('rm and rm -f of a running container, then rm -f of a running --rm one', async () => {
    const started = await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sleep', '30'])
    const id = started.stdout.trim()
    const refused = await run('28.2.2', ['rm', id])
    expect(refused.stderr, 'docker rm of a running container: expected dockerd\'s answer (moby daemon/delete.go ContainerRm)').toMatch(/You cannot remove a running container/)
    expect(refused.exitCode).toBe(1)
    const forced = await run('28.2.2', ['rm', '-f', id])
    expect(forced.exitCode, `rm -f failed: ${forced.stderr}`).toBe(0)
    expect((await run('28.2.2', ['ps', '-a', '-q', '--no-trunc'])).stdout, 'docker rm -f: expected the container gone').not.toContain(id)
    const auto = (await run('28.2.2', ['run', '-d', '--rm', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    const removed = await run('28.2.2', ['rm', '-f', auto], undefined,
      'rm -f of a running --rm container never returned: who waits for whom between the removal and the handling of the exit (the text\'s "rm -f, AutoRemove and the monitor")?')
    expect(removed.exitCode, `rm -f of a running --rm container failed: ${removed.stderr}`).toBe(0)
    expect((await run('28.2.2', ['ps', '-a', '-q', '--no-trunc'])).stdout, 'docker rm -f of a --rm container: expected it gone').not.toContain(auto)
  })

  it('rm -f of a container that docker run and docker attach are attached to', async () => {
    const attached = execa(CLIS['28.2.2'], ['run', '--name', 'doomed', '--network', 'none', busybox, 'sleep', '60'], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, reject: false, timeout: 20_000 })
    let ended = false
    void attached.finally(() => (ended = true))
    for (let i = 0; i < 100 && !ended && (await run('28.2.2', ['inspect', '-f', '{{.State.Running}}', 'doomed'])).stdout !== 'true\n'; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    if (ended) throwIfUnwritten(String((await attached).stderr))
    const watcher = execa(CLIS['20.10'], ['attach', 'doomed'], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, reject: false, timeout: 20_000 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    const removed = await run('28.2.2', ['rm', '-f', 'doomed'])
    expect(removed.exitCode, `docker rm -f while attached: ${removed.stderr}`).toBe(0)
    const [run1, attach1] = await Promise.all([attached, watcher])
    throwIfUnwritten(String(run1.stderr))
    expect(run1.timedOut || attach1.timedOut, 'the attached CLIs did not exit after their container was removed — which of your functions let a container\'s clients go (the text\'s "Attach, wait and the exit")?').toBe(false)
    expect(run1.exitCode, `docker run of the removed container: expected the exit code dockerd gives it: ${run1.stderr}`).toBe(137)
    expect((await http('GET', '/v1.41/containers/json')).status, 'GET /containers/json after the removal: expected an answer').toBe(200)
  })

  it('kill -9 of the daemon in the middle of a pull, then images, pull and run', async () => {
    const big = `${registry.host}/big`
    const filler = (n: number) => ({ name: `fill${n}`, content: randomBytes(4 << 20), mode: 0o644 })
    await pushImage(registry, 'big', 'latest', await buildImage([busyboxEntries(), [filler(1), filler(2)], [filler(3), filler(4)]], { config: { Cmd: ['sh'] } }))
    const pull = execa(CLIS['28.2.2'], ['pull', big], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, reject: false, timeout: 30_000 })
    let said = ''
    await new Promise<void>((resolve) => {
      pull.stdout!.on('data', (chunk: Buffer) => {
        said += chunk
        if (/Download complete|Verifying Checksum|Extracting/.test(said)) resolve()
      })
      void pull.then(() => resolve())
    })
    if (pull.exitCode !== null) {
      const early = await pull
      throwIfUnwritten(early.stderr)
      expect.fail(`docker pull ended before its layers were under way (exit ${early.exitCode}): ${early.stderr || said}`)
    }
    process.kill(daemon.pid, 'SIGKILL')
    const cut = await pull
    expect(cut.exitCode, `the daemon was to die mid-pull, but the pull finished: ${said}`).not.toBe(0)
    daemon = await startMinidockerd(join(dir, 'daemon'), containerd)
    const images = await run('28.2.2', ['images', '--format', '{{.Repository}}:{{.Tag}}'])
    expect(images.stdout, `docker images after a kill -9 mid-pull (the CLI saw: ${JSON.stringify(said)}): expected no image without its tag`).not.toMatch(/big:<none>/)
    const again = await run('28.2.2', ['pull', big])
    expect(again.exitCode, `the next docker pull: ${again.stderr}`).toBe(0)
    const ran = await run('28.2.2', ['run', '--rm', '--network', 'none', big, 'ls', '-l', '/fill1', '/fill4'])
    expect(ran.stdout.match(/ 4194304 /g)?.length, `ls -l /fill1 /fill4 in the pulled image: ${ran.stdout}${ran.stderr}`).toBe(2)
    await run('28.2.2', ['rmi', big])
  })

  it('bad requests: unknown container and image, bad JSON, wrong types, unknown restart policy, missing tag', async () => {
    const missing = await run('28.2.2', ['inspect', '--type', 'container', 'nope'])
    expect(missing.stderr, 'docker inspect nope: expected dockerd\'s error').toMatch(/No such container: nope/)
    const noImage = await http('POST', '/v1.41/containers/create', JSON.stringify({ Image: `${registry.host}/busybox:absent`, HostConfig: { NetworkMode: 'none' } }))
    expect([noImage.status, JSON.parse(noImage.body).message], 'create of a missing image: expected the answer that makes the CLI pull it, in dockerd\'s words (the text\'s "Rules for every request")').toEqual([404, `No such image: ${registry.host}/busybox:absent`])
    const badJson = await http('POST', '/v1.41/containers/create', '{"Image":')
    expect(badJson.status, 'create with a body that is not JSON: expected dockerd\'s status — whose mistake is it (errorStatus; moby api/server/httpstatus/status.go)?').toBe(400)
    const badType = await http('POST', '/v1.41/containers/create', JSON.stringify({ Image: busybox, Cmd: 'echo hi' }))
    expect(badType.status, 'create with a Cmd that is a string: expected dockerd\'s status (errorStatus)').toBe(400)
    for (const [body, words] of [
      [{ Image: busybox, Tty: 'yes' }, 'cannot unmarshal string into Go struct field Config.Tty of type bool'],
      [{ Image: busybox, HostConfig: { Memory: 'lots' } }, 'cannot unmarshal string into Go struct field HostConfig.Memory of type number'],
      [{ Image: busybox, Env: ['A=1', 2] }, 'cannot unmarshal number into Go struct field Config.Env of type string'],
    ] as const) {
      const wrong = await http('POST', '/v1.41/containers/create', JSON.stringify(body))
      expect([wrong.status, JSON.parse(wrong.body).message], `create with ${JSON.stringify(body)}: expected dockerd's answer (checkCreateBody, given, has the words)`).toEqual([400, `json: ${words}`])
    }
    const policy = await http('POST', '/v1.41/containers/create', JSON.stringify({ Image: busybox, HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'bogus' } } }))
    expect([policy.status, JSON.parse(policy.body).message], 'create with RestartPolicy bogus: expected dockerd\'s answer (the text\'s "Not here yet"; checkCreateBody)').toEqual([400, "invalid restart policy 'bogus'"])
    const pull = await run('28.2.2', ['pull', `${busybox}:does-not-exist`])
    expect(pull.exitCode).toBe(1)
    expect(pull.stderr, 'docker pull of a missing tag: expected the error the CLI prints with dockerd — when can the CLI still show a plain error (the text\'s "Pull through the daemon")?').toMatch(/Error response from daemon: manifest for .*busybox:does-not-exist not found/)
    expect((await http('GET', '/v1.41/containers/json')).status, 'GET /containers/json after the bad requests: expected an answer').toBe(200)
  })

  it('run of the probe with no command, and rmi of busybox while a container uses it', async () => {
    await run('28.2.2', ['pull', `${registry.host}/probe`])
    const probe = await run('28.2.2', ['run', '--rm', '--network', 'none', '-h', 'probed', `${registry.host}/probe`])
    expect(probe.stdout, 'docker run -h probed of the probe: expected its Cmd\'s output').toMatch(/"hostname":"probed"/)
    const held = await run('28.2.2', ['create', '--network', 'none', busybox, 'true'])
    const rmi = await run('28.2.2', ['rmi', busybox])
    expect(rmi.stderr, 'docker rmi of an image a container uses: expected dockerd\'s error').toMatch(/conflict: unable to remove repository reference/)
    await run('28.2.2', ['rm', held.stdout.trim()])
  })
})
