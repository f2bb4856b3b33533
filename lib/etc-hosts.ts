/**
 * Chapter 05's given /etc/hosts of a container with no network yet, which the init layer holds and
 * chapter 11's daemon writes beside a container's other files (libnetwork's etchosts).
 */
/**
 * /etc/hosts for a container with no network yet: Docker's default lines, tab-separated, and a
 * line that lets the container resolve its own hostname. A hostname the file cannot hold as
 * one name is refused with an Error naming it.
 */
export function hostsFile(hostname: string): string {
  // one field of a line: whitespace would split it, a newline start a line of its own, '#' a comment
  if (hostname === '' || /[\s#\p{Cc}]/u.test(hostname)) throw new Error(`invalid hostname: ${JSON.stringify(hostname)}`)
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `127.0.1.1\t${hostname}`,
  ].join('\n') + '\n'
}
