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
  busyboxEntries, CLIS, docker, imageRegistry, removeContainersAndStop, removeDaemonCgroups, removeDir, startContainerd, startMinidockerd, throwIfUnwritten,
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
  daemon = await startMinidockerd(join(dir, 'daemon'), containerd.socket)
  busybox = `${registry.host}/busybox`
}, 120_000)

afterAll(async () => {
  // containers a failed test left: removed through the daemon, so that containerd stops their shims
  if (daemon) await removeContainersAndStop(daemon)
  await containerd?.stop()
  await registry?.stop()
  removeDaemonCgroups()
  if (dir) removeDir(dir)
}, 120_000)

/** A CLI command against the daemon; `stuck` says what to suspect if it hangs (20 s, within the test's 30 s). */
const run = (cli: Cli, args: string[], input?: string, stuck?: string) => docker(cli, daemon.host, args, { input, stuck, timeout: 20_000 })

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
  it('answers _ping so that both CLIs settle on the daemon\'s API version (the text\'s "Rules for every request")', async () => {
    const get = await http('GET', '/_ping')
    expect([get.status, get.body], 'expected GET /_ping answered as dockerd answers it (the captured ping in the text\'s "Rules for every request")').toEqual([200, 'OK'])
    const ping = await http('HEAD', '/_ping')
    expect(ping.status, 'expected HEAD /_ping answered as dockerd answers it (the captured ping)').toBe(200)
    expect(ping.headers['api-version'], 'expected the Api-Version header the CLI reads its version from').toBe('1.41')
    expect(ping.headers.ostype, 'expected the headers of the captured ping').toBe('linux')
    const version = await run('28.2.2', ['version', '--format', '{{.Server.APIVersion}}'])
    expect(version.stdout.trim(), `expected "docker version" to show the server's API 1.41, saw ${version.stdout}${version.stderr}`).toBe('1.41')
  })

  for (const cli of Object.keys(CLIS) as Cli[]) {
    it(`${cli}: pull shows the progress, images lists the image`, async () => {
      const pull = await run(cli, ['pull', busybox])
      expect(pull.exitCode, `docker pull failed: ${pull.stderr}`).toBe(0)
      expect(pull.stdout, 'expected dockerd\'s last progress lines — does the pull stream JSON messages?').toMatch(/Digest: sha256:[a-f0-9]{64}\n/)
      expect(pull.stdout).toMatch(/Status: (Downloaded newer image|Image is up to date) for 127\.0\.0\.1:\d+\/busybox:latest/)
      const images = await run(cli, ['images', '--format', '{{.Repository}}:{{.Tag}}'])
      expect(images.stdout.split('\n'), 'expected the pulled image in docker images').toContain(`${busybox}:latest`)
    })

    it(`${cli}: run --rm prints the container's output and exits with its code, and leaves nothing`, async () => {
      const hi = await run(cli, ['run', '--rm', '--network', 'none', busybox, 'echo', 'hi'], undefined,
        'the CLI starts the container only once the wait\'s response headers have arrived: are they sent (and flushed) before the wait blocks?')
      expect(hi.stdout, `expected "hi" from the container but saw ${JSON.stringify(hi.stdout)} — are the FIFOs open for reading before the task is created, and are they drained before the attach stream ends?`).toBe('hi\n')
      expect(hi.exitCode, `expected exit 0, saw ${hi.exitCode}: ${hi.stderr}`).toBe(0)
      expect(hi.stderr, 'expected nothing on stderr but the pull\'s progress').not.toMatch(/error/i)
      const code = await run(cli, ['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 3'])
      expect([code.stdout, code.stderr], 'expected stdout and stderr apart — does each frame name its stream as stdcopy numbers them (the text\'s "Frames and the json-file log")?').toEqual(['out\n', 'err\n'])
      expect(code.exitCode, 'expected the CLI to exit 3 — does the wait body carry StatusCode?').toBe(3)
      const all = await run(cli, ['ps', '-a', '--format', '{{.Command}}'])
      expect(all.stdout, 'expected no container left after --rm — is AutoRemove honoured before the "removed" wait is answered?').not.toMatch(/echo hi|exit 3/)
    })

    it(`${cli}: run -i passes piped stdin and its end`, async () => {
      const cat = await run(cli, ['run', '--rm', '-i', '--network', 'none', busybox, 'cat'], 'hello-stdin\n',
        'cat never saw the end of its stdin: is the client\'s half-close passed on to the container (your end of the stdin FIFO closed, CloseIO)?')
      expect(cat.stdout, 'expected cat to echo stdin and exit — is the stdin sent before start kept, and the client\'s half-close passed on as EOF?').toBe('hello-stdin\n')
      expect(cat.exitCode).toBe(0)
    })
  }

  it('run -d, ps, logs, inspect, stop, start, kill, rm work on a named container', async () => {
    const cli: Cli = '20.10'
    const started = await run(cli, ['run', '-d', '--name', 'worker', '--network', 'none', '-e', 'WHO=tests', '-w', '/tmp', '-h', 'box', busybox,
      'sh', '-c', 'echo "$WHO in $(pwd) on $(hostname)"; echo oops >&2; trap "exit 7" TERM; while true; do sleep 0.1; done'])
    expect(started.exitCode, `run -d failed: ${started.stderr}`).toBe(0)
    const id = started.stdout.trim()
    expect(id, 'expected the full container ID on stdout').toMatch(/^[a-f0-9]{64}$/)
    const ps = await run(cli, ['ps', '--format', '{{.Names}} {{.Status}}'])
    expect(ps.stdout, 'expected the running container in docker ps').toMatch(/^worker Up /m)
    const named = await run(cli, ['ps', '-a', '--filter', 'name=work', '--filter', 'status=running', '--format', '{{.Names}}'])
    expect([named.stdout, named.stderr], `expected \`docker ps -a --filter name=work --filter status=running\` to list worker alone, saw stdout ${JSON.stringify(named.stdout)} and stderr ${JSON.stringify(named.stderr)}: does listContainers read the filters in the shape this CLI sends them (the text's "Stop, kill, rm, ps")?`).toEqual(['worker\n', ''])
    expect((await run(cli, ['ps', '-a', '-q', '--filter', 'name=nobody-has-this-name'])).stdout, 'expected ps --filter name= to drop what does not match').toBe('')
    let logs = await run('28.2.2', ['logs', 'worker'])
    for (let i = 0; i < 50 && !logs.stderr.includes('oops'); i++) logs = await run('28.2.2', ['logs', 'worker'])
    expect([logs.stdout, logs.stderr], 'expected the log split by stream, with -e, -w and -h applied').toEqual(['tests in /tmp on box\n', 'oops\n'])
    const state = await run(cli, ['inspect', '-f', '{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Hostname}}', 'worker'])
    expect(state.stdout).toBe('running true /worker box\n')
    const files = readdirSync(join(daemon.root, 'containers', id)).sort()
    for (const f of ['config.v2.json', 'hostconfig.json', 'hostname', 'hosts', 'resolv.conf', `${id}-json.log`])
      expect(files, `expected ${f} in ROOT/containers/ID, as dockerd keeps a container`).toContain(f)
    expect(JSON.parse(readFileSync(join(daemon.root, 'containers', id, 'config.v2.json'), 'utf8')).State.Running).toBe(true)

    const stop = await run(cli, ['stop', 'worker'])
    expect(stop.exitCode, `stop failed: ${stop.stderr}`).toBe(0)
    const stopped = await run(cli, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'worker'])
    expect(stopped.stdout, 'expected the trap\'s exit 7 after SIGTERM — does stop send SIGTERM first?').toBe('exited 7\n')
    expect((await run(cli, ['ps', '-q'])).stdout).toBe('')
    expect((await run(cli, ['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).stdout).toMatch(/^worker Exited \(7\) /m)

    expect((await run(cli, ['start', 'worker'])).exitCode).toBe(0)
    const kill = await run(cli, ['kill', '-s', 'KILL', 'worker'])
    expect(kill.exitCode, `kill failed: ${kill.stderr}`).toBe(0)
    // the container may have exited before the wait arrives, so both waits may meet a stopped container
    const exited = 'docker wait on an exited container must answer at once: does the not-running condition look at the state before it waits for an exit?'
    const wait = await run(cli, ['wait', 'worker'], undefined, exited)
    expect(wait.stdout, 'expected the exit code docker reports for a container killed by SIGKILL: the shim\'s exit status, passed on unchanged (waitTask)').toBe('137\n')
    const again = await run(cli, ['wait', 'worker'], undefined, exited)
    expect(again.stdout, 'expected the exit code of an exited container at once').toBe('137\n')
    const rm = await run(cli, ['rm', 'worker'])
    expect(rm.exitCode, `rm failed: ${rm.stderr}`).toBe(0)
    expect(existsSync(join(daemon.root, 'containers', id)), 'expected rm to remove ROOT/containers/ID').toBe(false)
  })

  it('exec runs in the running container with its own streams, user, directory, env and exit code; top lists it; restart runs it again', async () => {
    const id = (await run('28.2.2', ['run', '-d', '--name', 'host-of-execs', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    for (const cli of Object.keys(CLIS) as Cli[]) {
      const exec = await run(cli, ['exec', 'host-of-execs', 'sh', '-c', 'echo inside; echo oops >&2; exit 4'], undefined,
        'is the exec start answered with 101 and its stream ended once the process has exited?')
      expect([exec.stdout, exec.stderr, exec.exitCode], `${cli}: expected the exec's two streams and its exit code 4 (from GET /exec/ID/json)`).toEqual(['inside\n', 'oops\n', 4])
      const as = await run(cli, ['exec', '-u', '1000', '-w', '/tmp', '-e', 'WHO=exec', 'host-of-execs', 'sh', '-c', 'id -u; pwd; echo $WHO'])
      expect(as.stdout, 'expected -u, -w and -e to apply to the exec\'s process').toBe('1000\n/tmp\nexec\n')
    }
    const piped = await run('20.10', ['exec', '-i', 'host-of-execs', 'cat'], 'to-exec\n', 'does the exec\'s stdin end when the client half-closes?')
    expect(piped.stdout, `expected the exec's stdin echoed but saw ${JSON.stringify(piped.stdout)} — is your end of its FIFO kept open until the shim has opened its own (it opens an exec's FIFOs when the exec starts), so the bytes in it are not lost?`).toBe('to-exec\n')
    const top = await run('28.2.2', ['top', 'host-of-execs'])
    expect(top.stdout, 'expected docker top to list the container\'s sleep').toMatch(/sleep 30/)
    const before = (await run('28.2.2', ['inspect', '-f', '{{.State.Pid}}', id])).stdout
    const restart = await run('28.2.2', ['restart', '-t', '1', id])
    expect(restart.exitCode, `restart failed: ${restart.stderr}`).toBe(0)
    const after = await run('28.2.2', ['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', id])
    expect(after.stdout, 'expected the container running again with another PID after restart').toMatch(/^running \d+\n$/)
    expect(after.stdout).not.toContain(` ${before.trim()}\n`)
    await run('28.2.2', ['rm', '-f', id])
    const stopped = await run('28.2.2', ['exec', id, 'true'])
    expect(stopped.stderr, 'expected an exec into a removed container to fail').toMatch(/No such container/)
  })

  it('-t gives the container a terminal, and -it runs through the pseudo-terminal of the test', async () => {
    const tty = await run('28.2.2', ['run', '--rm', '-t', '--network', 'none', busybox, 'sh', '-c', 'tty; echo tty-mode'])
    expect(tty.stdout, 'expected raw bytes from a terminal (CRLF from the pty), not multiplexed frames').toBe('/dev/pts/0\r\ntty-mode\r\n')
    // a person at a terminal types once the container asks: so does the test
    const session = execa('script', ['-qec', `${CLIS['20.10']} run -it --rm --network none ${busybox} sh -c 'echo ready; read x; echo got:$x'`, '/dev/null'],
      { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, stdin: 'pipe', reject: false, timeout: 20_000 })
    let seen = ''
    session.stdout!.on('data', (d: Buffer) => {
      if (!seen.includes('ready') && (seen += d).includes('ready')) session.stdin!.write('typed\r')
      else seen += d
    })
    const it = await session
    expect(it.timedOut, 'docker run -it did not finish: does the tty container get its stdin?').toBe(false)
    expect(seen, 'expected the line typed at the terminal to reach the container').toMatch(/got:typed/)
    expect(it.exitCode).toBe(0)
  })

  it('a restarted daemon finds its containers: one still running, one that exited meanwhile with its code and its output', async () => {
    const sleeper = (await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    const brief = (await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sh', '-c', 'echo before; sleep 1; exit 5'])).stdout.trim()
    const talker = (await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sh', '-c', 'echo one; sleep 2; echo two; sleep 30'])).stdout.trim()
    for (let i = 0; i < 50 && !(await run('28.2.2', ['logs', talker])).stdout.includes('one'); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect([sleeper, brief, talker].every((id) => /^[a-f0-9]{64}$/.test(id)), 'expected two containers started').toBe(true)
    await daemon.stop()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    daemon = await startMinidockerd(join(dir, 'daemon'), containerd.socket)
    const ps = await run('28.2.2', ['ps', '-q', '--no-trunc'])
    expect(ps.stdout, 'expected the container still running after the daemon\'s restart — containerd and its shim kept it: does the daemon ask containerd (Tasks.Get) instead of marking it exited?').toContain(sleeper)
    const wait = await run('28.2.2', ['wait', brief], undefined, 'a container that exited while no daemon ran must report its exit: what does your waitTask get for a task that exited long ago (the text\'s "A daemon that restarts")?')
    expect(wait.stdout, 'expected the exit code of the container that exited while the daemon was down').toBe('5\n')
    expect((await run('28.2.2', ['logs', brief])).stdout, 'expected the log written before the restart').toBe('before\n')
    let logs = ''
    for (let i = 0; i < 50 && !logs.includes('two'); i++) {
      logs = (await run('28.2.2', ['logs', talker])).stdout
      if (!logs.includes('two')) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(logs, 'expected a running container\'s later output in the log after the restart — are its FIFOs read again?').toBe('one\ntwo\n')
    await run('28.2.2', ['rm', '-f', sleeper, brief, talker])
  })

  it('-v binds a host directory, and --memory, --cpus and --pids-limit reach the container\'s cgroup', async () => {
    const shared = join(dir, 'shared')
    mkdirSync(shared)
    writeFileSync(join(shared, 'note'), 'from the host\n')
    const id = (await run('20.10', ['run', '-d', '--network', 'none', '-v', `${shared}:/data`, '-v', `${shared}:/ro:ro`, '--memory', '64m', '--cpus', '0.5', '--pids-limit', '20', busybox, 'sleep', '30'])).stdout.trim()
    expect(id, 'expected the container to start').toMatch(/^[a-f0-9]{64}$/)
    expect((await run('20.10', ['exec', id, 'cat', '/data/note'])).stdout, 'expected the host file through the -v bind').toBe('from the host\n')
    expect((await run('20.10', ['exec', id, 'sh', '-c', 'touch /ro/x'])).exitCode, 'expected a :ro bind to refuse writes').not.toBe(0)
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
    const cgroup = (controller: string, file: string) => readFileSync(v2 ? join('/sys/fs/cgroup/minidockerd', id, file) : join('/sys/fs/cgroup', controller, 'minidockerd', id, file), 'utf8').trim()
    expect(cgroup('memory', v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'expected --memory 64m as the memory limit').toBe(String(64 * 1024 * 1024))
    expect(cgroup('pids', 'pids.max'), 'expected --pids-limit 20').toBe('20')
    expect(v2 ? cgroup('cpu', 'cpu.max') : cgroup('cpu', 'cpu.cfs_quota_us'), 'expected --cpus 0.5 as 50000 µs of every 100000').toBe(v2 ? '50000 100000' : '50000')
    await run('20.10', ['rm', '-f', id])
  })

  it('--init puts an init first, which passes docker stop\'s SIGTERM on and reaps orphans', async () => {
    const tree = await run('28.2.2', ['run', '--rm', '--init', '--network', 'none', busybox, 'sh', '-c', '(sleep 0.2 &); sleep 0.5; ps -o pid,stat,comm'])
    expect(tree.stdout, 'expected docker-init as PID 1 and the command below it').toMatch(/^\s*1\s+\S+\s+docker-init$/m)
    expect(tree.stdout, 'expected no zombie: the orphaned sleep must have been reaped by the init').not.toMatch(/\sZ\S*\s/)
    const id = (await run('28.2.2', ['run', '-d', '--init', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    const started = Date.now()
    await run('28.2.2', ['stop', id])
    expect(Date.now() - started, 'expected sleep to die of the SIGTERM the init passed on, not of the SIGKILL 10 s later').toBeLessThan(8000)
    expect((await run('28.2.2', ['inspect', '-f', '{{.State.ExitCode}}', id])).stdout, 'expected the exit code docker reports for a command ended by docker stop\'s SIGTERM, which docker-init passes on').toBe('143\n')
    await run('28.2.2', ['rm', id])
  })

  it('rm of a running container is refused unless forced, and rm -f removes it, with AutoRemove too (moby daemon/delete.go)', async () => {
    const started = await run('28.2.2', ['run', '-d', '--network', 'none', busybox, 'sleep', '30'])
    const id = started.stdout.trim()
    const refused = await run('28.2.2', ['rm', id])
    expect(refused.stderr, 'expected dockerd\'s refusal of rm on a running container').toMatch(/You cannot remove a running container/)
    expect(refused.exitCode).toBe(1)
    const forced = await run('28.2.2', ['rm', '-f', id])
    expect(forced.exitCode, `rm -f failed: ${forced.stderr}`).toBe(0)
    expect((await run('28.2.2', ['ps', '-a', '-q', '--no-trunc'])).stdout, 'expected rm -f to remove the container').not.toContain(id)
    const auto = (await run('28.2.2', ['run', '-d', '--rm', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    const removed = await run('28.2.2', ['rm', '-f', auto], undefined,
      'rm -f of a running --rm container never returned: does the removal wait for the exit to be handled while the exit\'s handling waits for the removal (the text\'s "rm -f, AutoRemove and the monitor")?')
    expect(removed.exitCode, `rm -f of a running --rm container failed: ${removed.stderr}`).toBe(0)
    expect((await run('28.2.2', ['ps', '-a', '-q', '--no-trunc'])).stdout, 'expected rm -f to remove a --rm container').not.toContain(auto)
  })

  it('a container removed while a client is attached ends the attach: the CLI exits, the daemon keeps serving', async () => {
    const attached = execa(CLIS['28.2.2'], ['run', '--name', 'doomed', '--network', 'none', busybox, 'sleep', '60'], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, reject: false, timeout: 20_000 })
    for (let i = 0; i < 100 && (await run('28.2.2', ['inspect', '-f', '{{.State.Running}}', 'doomed'])).stdout !== 'true\n'; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    const watcher = execa(CLIS['20.10'], ['attach', 'doomed'], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: join(dir, 'docker-config') }, reject: false, timeout: 20_000 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    const removed = await run('28.2.2', ['rm', '-f', 'doomed'])
    expect(removed.exitCode, `docker rm -f while attached: ${removed.stderr}`).toBe(0)
    const [run1, attach1] = await Promise.all([attached, watcher])
    expect(run1.timedOut || attach1.timedOut, 'the attached CLIs must end once their container is removed — are the attached streams ended at its exit?').toBe(false)
    expect(run1.exitCode, `docker run of the removed container exits with SIGKILL's 137: ${run1.stderr}`).toBe(137)
    expect((await http('GET', '/v1.41/containers/json')).status, 'the daemon must keep serving after the removal').toBe(200)
  })

  it('kill -9 of the daemon during a pull leaves no half image, and the next pull completes', async () => {
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
    process.kill(daemon.pid, 'SIGKILL')
    const cut = await pull
    expect(cut.exitCode, `the daemon was to die mid-pull, but the pull finished: ${said}`).not.toBe(0)
    daemon = await startMinidockerd(join(dir, 'daemon'), containerd.socket)
    const images = await run('28.2.2', ['images', '--format', '{{.Repository}}:{{.Tag}}'])
    expect(images.stdout, `after a kill -9 mid-pull (the CLI saw: ${JSON.stringify(said)}), the image must be whole or absent`).not.toMatch(/big:<none>/)
    const again = await run('28.2.2', ['pull', big])
    expect(again.exitCode, `the next pull must complete: ${again.stderr}`).toBe(0)
    const ran = await run('28.2.2', ['run', '--rm', '--network', 'none', big, 'ls', '-l', '/fill1', '/fill4'])
    expect(ran.stdout.match(/ 4194304 /g)?.length, `the pulled image must have all its layers whole: ${ran.stdout}${ran.stderr}`).toBe(2)
    await run('28.2.2', ['rmi', big])
  })

  it('answers bad requests with Docker\'s codes and words, and keeps serving', async () => {
    const missing = await run('28.2.2', ['inspect', '--type', 'container', 'nope'])
    expect(missing.stderr, 'expected the CLI to print dockerd\'s "No such container"').toMatch(/No such container: nope/)
    const noImage = await http('POST', '/v1.41/containers/create', JSON.stringify({ Image: `${registry.host}/busybox:absent`, HostConfig: { NetworkMode: 'none' } }))
    expect([noImage.status, JSON.parse(noImage.body).message], 'expected create of a missing image answered so that the CLI pulls it (the text\'s "Rules for every request"), in dockerd\'s words').toEqual([404, `No such image: ${registry.host}/busybox:absent`])
    const badJson = await http('POST', '/v1.41/containers/create', '{"Image":')
    expect(badJson.status, 'expected a body that is not JSON answered as the client\'s mistake, not the daemon\'s (errorStatus; moby httpstatus/status.go)').toBe(400)
    const badType = await http('POST', '/v1.41/containers/create', JSON.stringify({ Image: busybox, Cmd: 'echo hi' }))
    expect(badType.status, 'expected a Cmd that is not a list of strings answered as the client\'s mistake (errorStatus)').toBe(400)
    for (const [body, words] of [
      [{ Image: busybox, Tty: 'yes' }, 'cannot unmarshal string into Go struct field Config.Tty of type bool'],
      [{ Image: busybox, HostConfig: { Memory: 'lots' } }, 'cannot unmarshal string into Go struct field HostConfig.Memory of type number'],
      [{ Image: busybox, Env: ['A=1', 2] }, 'cannot unmarshal number into Go struct field Config.Env of type string'],
    ] as const) {
      const wrong = await http('POST', '/v1.41/containers/create', JSON.stringify(body))
      expect([wrong.status, JSON.parse(wrong.body).message], `expected the field of the wrong type in ${JSON.stringify(body)} named as Go's decoder names it, as the client's mistake (checkCreateBody)`).toEqual([400, `json: ${words}`])
    }
    const policy = await http('POST', '/v1.41/containers/create', JSON.stringify({ Image: busybox, HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'bogus' } } }))
    expect([policy.status, JSON.parse(policy.body).message], 'expected a restart policy dockerd does not know refused as dockerd refuses it (the text\'s "Not here yet"; checkCreateBody)').toEqual([400, "invalid restart policy 'bogus'"])
    const pull = await run('28.2.2', ['pull', `${busybox}:does-not-exist`])
    expect(pull.exitCode).toBe(1)
    expect(pull.stderr, 'expected the registry\'s "not found" before the progress stream began').toMatch(/Error response from daemon: manifest for .*busybox:does-not-exist not found/)
    expect((await http('GET', '/v1.41/containers/json')).status, 'the daemon must keep serving after bad requests').toBe(200)
  })

  it('runs with the image\'s own config when the CLI gives no command, and rmi refuses an image in use', async () => {
    await run('28.2.2', ['pull', `${registry.host}/probe`])
    const probe = await run('28.2.2', ['run', '--rm', '--network', 'none', '-h', 'probed', `${registry.host}/probe`])
    expect(probe.stdout, 'expected the image\'s Cmd (/probe hostname) to run').toMatch(/"hostname":"probed"/)
    const held = await run('28.2.2', ['create', '--network', 'none', busybox, 'true'])
    const rmi = await run('28.2.2', ['rmi', busybox])
    expect(rmi.stderr, 'expected rmi to refuse an image a container uses').toMatch(/conflict: unable to remove repository reference/)
    await run('28.2.2', ['rm', held.stdout.trim()])
  })
})
